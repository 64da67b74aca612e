"""What every widget shares: finding the engine, styles, and turning errors into messages."""

from __future__ import annotations

import html
from typing import Any

#: CSS for our widgets (monospace lists); an HTML widget holding it applies it page-wide.
STYLE = (
    "<style>.dl-mono select, .dl-mono input, .dl-mono option "
    "{font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; "
    "font-size: 12px}</style>"
)


def resolve_engine(engine: Any = None) -> Any:
    """The engine given, or one on the default state root (``DOCKERLAB_ROOT``)."""
    if engine is not None:
        return engine
    from dockerlab.engine import Engine

    return Engine()


def error_html(err: BaseException) -> str:
    return f'<div style="color:#c62828">Error: {html.escape(str(err))}</div>' if str(err) else ""


def note_html(text: str, colour: str = "#555") -> str:
    return f'<div style="color:{colour}">{html.escape(text)}</div>'
