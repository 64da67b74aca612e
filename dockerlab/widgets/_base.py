"""What every widget shares: finding the engine, styles, and turning errors into messages.

Colours come from JupyterLab's theme variables (with the light theme's values as fallbacks), so
the widgets read well in the dark theme too. An error a widget meets is one line with a hint:
shown inside the widget when a click causes it (:func:`guarded`), or raised with a one-line
traceback in the notebook when making the widget fails (:func:`lookup_image`,
:func:`lookup_container`, :func:`one_line`).
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable
from typing import Any

from dockerlab.widgets.i18n import t

#: Theme-aware colours: JupyterLab's CSS variables, light-theme fallbacks.
ERROR = "var(--jp-error-color1, #c62828)"
MUTED = "var(--jp-ui-font-color2, #555)"
FAINT = "var(--jp-ui-font-color3, #888)"
BORDER = "var(--jp-border-color2, #ddd)"
#: A highlight readable on light and dark backgrounds (translucent amber).
HIGHLIGHT = "rgba(255, 193, 7, 0.35)"

#: CSS for our widgets (monospace lists); an HTML widget holding it applies it page-wide.
STYLE = (
    "<style>.dl-mono select, .dl-mono input, .dl-mono option "
    "{font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; "
    "font-size: 12px}"
    ".dl-wrap code {white-space: pre-wrap; word-break: break-all}</style>"
)


def resolve_engine(engine: Any = None) -> Any:
    """The engine given, or one on the default state root (``DOCKERLAB_ROOT``)."""
    if engine is not None:
        return engine
    from dockerlab.engine import Engine

    return Engine()


def error_html(err: BaseException | str) -> str:
    text = err if isinstance(err, str) else explain(err)
    if not text:
        return ""
    return f'<div style="color:{ERROR}">{html.escape(t("error"))}: {html.escape(text)}</div>'


def note_html(text: str, colour: str = MUTED) -> str:
    return f'<div style="color:{colour}">{html.escape(text)}</div>'


# ---- errors: one line with a hint ----------------------------------------------------------
def explain(err: BaseException) -> str:
    """The one line shown for ``err``: the hint attached by :func:`one_line`, else its text."""
    hint = getattr(err, "dl_hint", None)
    if hint:
        return str(hint)
    lines = str(err).strip().splitlines()
    return lines[0] if lines else ""


def one_line(err: BaseException, text: str | None = None) -> BaseException:
    """``err`` with ``text`` (default: its message) as its whole notebook traceback: IPython
    shows ``_render_traceback_``'s lines instead of the stack. Returns ``err`` (to raise)."""
    line = text or explain(err)
    err.dl_hint = line  # type: ignore[attr-defined]
    name = type(err).__name__
    err._render_traceback_ = lambda: [f"\x1b[0;31m{name}\x1b[0m: {line}"]  # type: ignore[attr-defined]
    return err


def _exists(fn: Callable[[str], Any], ref: str) -> bool:
    from dockerlab.errors import DockerlabError

    try:
        fn(ref)
    except DockerlabError:
        return False
    return True


def lookup_image(engine: Any, ref: str, widget: str) -> dict[str, Any]:
    """``image_inspect(ref)``; a container's name or a missing image raise one line with a
    hint."""
    from dockerlab.errors import NoSuchImage

    try:
        return engine.image_inspect(ref)
    except NoSuchImage as err:
        key = "is_container" if _exists(engine.inspect, ref) else "no_image"
        raise one_line(err, t(key, ref=ref, widget=widget)) from None


def lookup_container(engine: Any, ref: str, widget: str) -> dict[str, Any]:
    """``inspect(ref)``; an image's name or a missing container raise one line with a hint."""
    from dockerlab.errors import NoSuchContainer

    try:
        return engine.inspect(ref)
    except NoSuchContainer as err:
        key = "is_image" if _exists(engine.image_inspect, ref) else "no_container"
        raise one_line(err, t(key, ref=ref, widget=widget)) from None


def gone(err: BaseException, ref: str) -> str:
    """What to say when a click meets ``err``: the image or container vanished, or the error."""
    from dockerlab.errors import NoSuchContainer, NoSuchImage

    if isinstance(err, NoSuchImage):
        return t("image_gone", ref=ref)
    if isinstance(err, NoSuchContainer):
        return t("container_gone", ref=ref)
    return explain(err)


def friendly_init(init: Callable[..., None]) -> Callable[..., None]:
    """For a widget's ``__init__``: an engine error (or a bad argument) raised while making
    the widget shows in the notebook as one line, not a stack of frames."""

    @functools.wraps(init)
    def make(self: Any, *args: Any, **kwargs: Any) -> None:
        from dockerlab.errors import DockerlabError

        try:
            init(self, *args, **kwargs)
        except (DockerlabError, ValueError) as err:
            if not hasattr(err, "_render_traceback_"):
                one_line(err)
            raise

    return make


def guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    """For a widget's click handlers: an error shows as one line in the widget's
    ``_message`` (never a traceback in JupyterLab's log console); success clears it."""

    @functools.wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            result = method(self, *args, **kwargs)
        except Exception as err:  # noqa: BLE001 - every failure is shown, none is lost
            self._message.value = error_html(gone(err, self._ref_for_errors()))
            return None
        self._message.value = ""
        return result

    return run
