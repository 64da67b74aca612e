"""Docker-exact output formatting: Go templates, tabwriter tables, sizes, durations, statuses,
and the docker CLI's stats arithmetic.

Pure and stdlib-only, so every frontend (CLI, magics, widgets) can import it cheaply.
"""

# Names are loaded from their module on first use (PEP 562), so importing one small part
# (units, on the engine's path) never pays for the template engine.
_HOMES = {
    "gotemplate": ("HEADER_FUNCS", "Template", "TemplateError", "parse", "parse_format", "render"),
    "stats": ("block_io", "cpu_percent", "memory_usage", "network_io"),
    "rendered": ("render_table",),
    "table": ("tabulate", "tabwrite", "tabwrite_rows"),
    "units": (
        "ago",
        "bytes_size",
        "human_duration",
        "human_size",
        "human_size_with_precision",
        "parse_cpus",
        "parse_ram",
        "parse_rfc3339",
        "parse_rfc3339_ns",
        "parse_size",
        "rfc3339nano",
        "rfc3339nano_ns",
        "status_string",
    ),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'dockerlab.format' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"dockerlab.format.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "HEADER_FUNCS",
    "Template",
    "TemplateError",
    "ago",
    "block_io",
    "bytes_size",
    "cpu_percent",
    "human_duration",
    "human_size",
    "human_size_with_precision",
    "memory_usage",
    "network_io",
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
    "tabwrite_rows",
]
