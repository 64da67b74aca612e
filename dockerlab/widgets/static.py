"""Static pictures of widgets, for readers without a kernel (GitHub, nbviewer, Binder
read-only).

A widget's display data is its view (``application/vnd.jupyter.widget-view+json``, drawn
only by a live kernel or saved widget state, which scripts/strip_widget_state.py removes)
and its ``text/plain`` repr. :class:`StaticPicture` adds ``text/html``: the widget as it
looks when displayed, drawn from its children (HTML as is, buttons and inputs as labels,
boxes as rows and columns, Output widgets' outputs), plus a matplotlib PNG where a chart
says more (HistoryView's layer sizes, ResourceMonitor's curves once it has two samples).
JupyterLab with the widget manager ranks the widget view first, so a live notebook still
shows the widget; a saved notebook shows the picture.
"""

from __future__ import annotations

import html
from typing import Any

__all__ = ["StaticPicture", "static_html"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class StaticPicture:
    """Mixin (before the ipywidgets base): ``_repr_mimebundle_`` gains ``text/html``.

    Displayed as a cell's result (or with ``display``), the output gets a display ID, so
    :meth:`update_picture` can redraw the saved picture later (ResourceMonitor does when
    its sampling ends: the saved notebook then shows the whole run, not its first second).
    """

    _picture_handle: Any = None

    def _ipython_display_(self) -> None:
        from IPython.display import display

        make = self._repr_mimebundle_
        bundle = make() if callable(make) else None
        if not bundle:  # closed (ipywidgets unsets _repr_mimebundle_): only its repr is left
            display({"text/plain": repr(self)}, raw=True)
            return
        self._picture_handle = display(bundle, raw=True, display_id=True)

    def update_picture(self) -> None:
        """Replace the displayed output with the widget as it is now (view and picture)."""
        handle, make = self._picture_handle, self._repr_mimebundle_
        if handle is None or not callable(make):
            return
        try:
            handle.update(make(), raw=True)
        except Exception:  # noqa: BLE001 - called from threads: a picture must not raise
            pass

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        data = super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]
        if not data:
            return data
        try:
            picture = self._static_html()
        except Exception:  # noqa: BLE001 - a picture must never break the widget's display
            picture = ""
        if picture:
            data["text/html"] = picture
        return data

    def _static_html(self) -> str:
        chart = _chart(self)
        table = getattr(self, "_table", None)
        if chart and type(self).__name__ == "HistoryView" and table is not None:
            body = static_html(table)  # the PNG bars stand for the inline SVG ones
        else:
            body = static_html(self)
        return (
            '<div class="dockerlab-static" style="font-family:sans-serif;font-size:13px">'
            f"{body}{chart}</div>"
        )


#: Layout traits kept in the picture (a scrolled box stays a scrolled box).
_LAYOUT_CSS = (
    ("width", "width"),
    ("max_width", "max-width"),
    ("height", "height"),
    ("max_height", "max-height"),
    ("overflow", "overflow"),
    ("border", "border"),
    ("padding", "padding"),
    ("margin", "margin"),
)


def static_html(widget: Any) -> str:
    """The widget tree as plain HTML (no script, no widget manager)."""
    layout = getattr(widget, "layout", None)
    if layout is not None and (layout.display == "none" or layout.visibility == "hidden"):
        return ""
    inner = _inner_html(widget)
    css = ";".join(
        f"{prop}:{html.escape(str(value), quote=True)}"
        for trait, prop in _LAYOUT_CSS
        if layout is not None and (value := getattr(layout, trait, None))
    )
    return f'<div style="{css}">{inner}</div>' if css and inner else inner


def _inner_html(widget: Any) -> str:
    import ipywidgets as w

    if isinstance(widget, w.Output):
        return "".join(_output_html(o) for o in widget.outputs)
    if isinstance(widget, w.Box):
        kids = "".join(static_html(c) for c in widget.children)
        if isinstance(widget, w.HBox):
            style = "display:flex;flex-flow:row wrap;gap:4px;align-items:flex-start"
        else:
            style = "display:flex;flex-direction:column;gap:2px"
        return f'<div style="{style}">{kids}</div>'
    if isinstance(widget, (w.HTML, w.HTMLMath)):
        return f"<div>{widget.value}</div>"
    description = html.escape(str(getattr(widget, "description", "") or ""))
    if isinstance(widget, (w.Button, w.ToggleButton)):
        return (
            '<span style="display:inline-block;border:1px solid #bbb;border-radius:3px;'
            f'padding:1px 8px;color:#333;background:#f5f5f5">{description or "&nbsp;"}</span>'
        )
    if isinstance(widget, w.Label):
        return f"<span>{html.escape(str(widget.value))}</span>"
    if isinstance(widget, w.Checkbox):
        return f"<span>{'☑' if widget.value else '☐'} {description}</span>"
    if isinstance(widget, w.Image):
        import base64

        data = base64.b64encode(bytes(widget.value)).decode()
        return f'<img src="data:image/{widget.format};base64,{data}"/>'
    if hasattr(widget, "value"):
        value = getattr(widget, "label", None) if hasattr(widget, "options") else None
        shown = widget.value if value is None else value
        text = html.escape("" if shown is None else str(shown))
        head = f"{description} " if description else ""
        return (
            f'<span>{head}<span style="border:1px solid #ccc;padding:0 4px;'
            f'font-family:monospace">{text or "&nbsp;"}</span></span>'
        )
    return ""


def _output_html(output: dict[str, Any]) -> str:
    if output.get("output_type") == "stream":
        return f"<pre>{html.escape(str(output.get('text', '')))}</pre>"
    data = output.get("data") or {}
    if "text/html" in data:
        return str(data["text/html"])
    for kind in ("image/png", "image/jpeg"):
        if kind in data:
            return f'<img src="data:{kind};base64,{data[kind]}"/>'
    if "image/svg+xml" in data:
        return str(data["image/svg+xml"])
    if "text/plain" in data:
        return f"<pre>{html.escape(str(data['text/plain']))}</pre>"
    if output.get("output_type") == "error":
        return f"<pre>{html.escape(str(output.get('ename', '')))}: {output.get('evalue', '')}</pre>"
    return ""


def _chart(widget: Any) -> str:
    """A matplotlib PNG for the widgets whose figures are a chart; "" without matplotlib."""
    kind = type(widget).__name__
    try:
        if kind == "HistoryView" and getattr(widget, "rows", None):
            from dockerlab.widgets.plots import history_bars

            fig = history_bars(widget.rows)
        elif kind == "ResourceMonitor" and len(getattr(widget, "samples", [])) >= 2:
            fig = widget.plot("both")
        else:
            return ""
        from dockerlab.widgets.plots import png_data_uri

        return f'<img alt="{kind}" src="{png_data_uri(fig)}"/>'
    except ImportError:  # no matplotlib: the HTML picture alone
        return ""
