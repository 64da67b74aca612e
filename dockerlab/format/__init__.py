"""Docker-exact output formatting: Go templates, tabwriter tables, sizes, durations, statuses.

Pure and stdlib-only, so every frontend (CLI, magics, widgets) can import it cheaply.
"""

from dockerlab.format.gotemplate import (
    HEADER_FUNCS,
    Template,
    TemplateError,
    parse,
    parse_format,
    render,
)
from dockerlab.format.table import render_table, tabulate, tabwrite
from dockerlab.format.units import (
    ago,
    bytes_size,
    human_duration,
    human_size,
    human_size_with_precision,
    parse_cpus,
    parse_ram,
    parse_rfc3339,
    parse_rfc3339_ns,
    parse_size,
    rfc3339nano,
    rfc3339nano_ns,
    status_string,
)

__all__ = [
    "HEADER_FUNCS",
    "Template",
    "TemplateError",
    "ago",
    "bytes_size",
    "human_duration",
    "human_size",
    "human_size_with_precision",
    "parse",
    "parse_cpus",
    "parse_format",
    "parse_ram",
    "parse_rfc3339",
    "parse_rfc3339_ns",
    "parse_size",
    "render",
    "render_table",
    "rfc3339nano",
    "rfc3339nano_ns",
    "status_string",
    "tabulate",
    "tabwrite",
]
