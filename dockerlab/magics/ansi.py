"""A small terminal screen: bytes a container writes in, plain text or HTML out. Pure.

The console widget shows what a shell in a container writes to its terminal. That output is
more than text: carriage returns and backspaces (line editing redraws the line), erase
sequences (``ESC[K``), cursor moves, and SGR colours (``ESC[1;32m``). :class:`Screen` keeps
a grid of styled cells the way a terminal would, with a scrollback instead of a fixed
height, and renders it as plain text or as HTML ``<span>``s with inline colours.

Anything it does not model (title sequences, mode switches, cursor reports) is dropped, so
no escape bytes ever reach the page.

    >>> ansi_to_html("\\x1b[31mred\\x1b[0m plain")
    '<pre class="dockerlab-term"><span style="color:#cd3131">red</span> plain</pre>'
"""

from __future__ import annotations

from html import escape

__all__ = ["Screen", "ansi_to_html", "strip_ansi"]

# xterm's 16 colours as VS Code's terminal draws them (readable on white and dark themes)
_BASIC = (
    "#000000",
    "#cd3131",
    "#0dbc79",
    "#e5e510",
    "#2472c8",
    "#bc3fbc",
    "#11a8cd",
    "#e5e5e5",
    "#666666",
    "#f14c4c",
    "#23d18b",
    "#f5f543",
    "#3b8eea",
    "#d670d6",
    "#29b8db",
    "#e5e5e5",
)


def _color256(n: int) -> str:
    if n < 16:
        return _BASIC[n]
    if n < 232:
        n -= 16
        levels = (0, 95, 135, 175, 215, 255)
        r, g, b = levels[n // 36], levels[(n // 6) % 6], levels[n % 6]
        return f"#{r:02x}{g:02x}{b:02x}"
    v = 8 + 10 * (n - 232)
    return f"#{v:02x}{v:02x}{v:02x}"


# A style: (fg, bg, bold, dim, italic, underline, inverse); None/False when unset.
_PLAIN = (None, None, False, False, False, False, False)


def _sgr(style: tuple, params: list[int]) -> tuple:
    fg, bg, bold, dim, italic, underline, inverse = style
    i = 0
    if not params:
        params = [0]
    while i < len(params):
        p = params[i]
        if p == 0:
            fg, bg, bold, dim, italic, underline, inverse = _PLAIN
        elif p == 1:
            bold = True
        elif p == 2:
            dim = True
        elif p == 3:
            italic = True
        elif p == 4:
            underline = True
        elif p == 7:
            inverse = True
        elif p == 22:
            bold = dim = False
        elif p == 23:
            italic = False
        elif p == 24:
            underline = False
        elif p == 27:
            inverse = False
        elif 30 <= p <= 37:
            fg = _BASIC[p - 30]
        elif 90 <= p <= 97:
            fg = _BASIC[p - 90 + 8]
        elif p == 39:
            fg = None
        elif 40 <= p <= 47:
            bg = _BASIC[p - 40]
        elif 100 <= p <= 107:
            bg = _BASIC[p - 100 + 8]
        elif p == 49:
            bg = None
        elif p in (38, 48):
            color = None
            if i + 1 < len(params) and params[i + 1] == 5:
                if i + 2 < len(params):
                    color = _color256(params[i + 2] % 256)
                i += 2
            elif i + 1 < len(params) and params[i + 1] == 2:
                if i + 4 < len(params):
                    r, g, b = (min(max(v, 0), 255) for v in params[i + 2 : i + 5])
                    color = f"#{r:02x}{g:02x}{b:02x}"
                i += 4
            if p == 38:
                fg = color
            else:
                bg = color
        i += 1
    return (fg, bg, bold, dim, italic, underline, inverse)


def _css(style: tuple) -> str:
    fg, bg, bold, dim, italic, underline, inverse = style
    if inverse:
        fg, bg = bg or "#ffffff", fg or "#000000"
    parts = []
    if fg:
        parts.append(f"color:{fg}")
    if bg:
        parts.append(f"background-color:{bg}")
    if bold:
        parts.append("font-weight:bold")
    if dim:
        parts.append("opacity:0.7")
    if italic:
        parts.append("font-style:italic")
    if underline:
        parts.append("text-decoration:underline")
    return ";".join(parts)


class Screen:
    """A terminal's output as styled lines, with a scrollback of ``max_lines``.

    ``feed(text)`` takes decoded text (escape sequences may be split across calls);
    ``text()`` and ``html()`` render what a terminal would show. ``rows`` is the height that
    absolute cursor moves (``ESC[H``) and clears refer to: the last ``rows`` lines.
    """

    def __init__(self, rows: int = 24, cols: int = 100, max_lines: int = 2000) -> None:
        self.rows, self.cols, self.max_lines = rows, cols, max_lines
        self.lines: list[list[tuple[str, tuple]]] = [[]]
        self.row = 0
        self.col = 0
        self.style = _PLAIN
        self._pending = ""  # an escape sequence cut by the end of a feed

    # ---- input ------------------------------------------------------------------------
    def feed(self, text: str) -> Screen:
        text = self._pending + text
        self._pending = ""
        i, n = 0, len(text)
        while i < n:
            ch = text[i]
            if ch == "\x1b":
                end = self._escape(text, i)
                if end is None:  # incomplete: keep it for the next feed
                    self._pending = text[i:]
                    break
                i = end
                continue
            i += 1
            if ch == "\n":
                self._newline()
            elif ch == "\r":
                self.col = 0
            elif ch == "\b":
                self.col = max(0, self.col - 1)
            elif ch == "\t":
                self.col = (self.col // 8 + 1) * 8
            elif ch < " " or ch == "\x7f":
                continue  # bell and other controls draw nothing
            else:
                self._put(ch)
        return self

    def _put(self, ch: str) -> None:
        line = self.lines[self.row]
        if len(line) < self.col:
            line.extend([(" ", _PLAIN)] * (self.col - len(line)))
        if self.col < len(line):
            line[self.col] = (ch, self.style)
        else:
            line.append((ch, self.style))
        self.col += 1

    def _newline(self) -> None:
        self.row += 1
        self.col = 0
        if self.row >= len(self.lines):
            self.lines.append([])
        if len(self.lines) > self.max_lines:
            drop = len(self.lines) - self.max_lines
            del self.lines[:drop]
            self.row -= drop

    def _escape(self, text: str, i: int) -> int | None:
        """Handle the escape sequence at ``text[i]``; the index after it, or None if cut."""
        if i + 1 >= len(text):
            return None
        kind = text[i + 1]
        if kind == "[":
            j = i + 2
            while j < len(text) and not ("@" <= text[j] <= "~"):
                j += 1
            if j >= len(text):
                return None
            self._csi(text[i + 2 : j], text[j])
            return j + 1
        if kind == "]":  # OSC (window title …): ends with BEL or ESC \
            j = i + 2
            while j < len(text):
                if text[j] == "\x07":
                    return j + 1
                if text[j] == "\x1b" and j + 1 < len(text) and text[j + 1] == "\\":
                    return j + 2
                j += 1
            return None
        if kind in "()*+":  # character set selection: one more byte
            return i + 3 if i + 2 < len(text) else None
        return i + 2  # ESC = , ESC > , ESC 7 … : nothing to draw

    def _csi(self, body: str, final: str) -> None:
        private = body[:1] in ("?", ">", "<", "=")
        if private:
            return  # mode switches (cursor visibility, bracketed paste …)
        try:
            params = [int(p) if p else 0 for p in body.split(";")] if body else []
        except ValueError:
            return
        first = params[0] if params else 0
        count = max(first, 1)
        line = self.lines[self.row]
        if final == "m":
            self.style = _sgr(self.style, params)
        elif final == "K":
            if first == 0:
                del line[self.col :]
            elif first == 1:
                for k in range(min(self.col + 1, len(line))):
                    line[k] = (" ", _PLAIN)
            else:
                line.clear()
        elif final == "J":
            if first in (2, 3):
                self.lines = [[]]
                self.row = self.col = 0
            elif first == 0:
                del line[self.col :]
                del self.lines[self.row + 1 :]
            elif first == 1:
                top = self._top()
                for k in range(top, self.row):
                    self.lines[k] = []
                for k in range(min(self.col + 1, len(line))):
                    line[k] = (" ", _PLAIN)
        elif final == "D":
            self.col = max(0, self.col - count)
        elif final == "C":
            self.col += count
        elif final == "G":
            self.col = count - 1
        elif final == "A":
            self.row = max(self._top(), self.row - count)
        elif final == "B":
            self._down(count)
        elif final in "Hf":
            r = (params[0] if params else 1) or 1
            c = (params[1] if len(params) > 1 else 1) or 1
            self.row = self._top()
            self._down(r - 1)
            self.col = c - 1
        elif final == "P":
            del line[self.col : self.col + count]
        elif final == "@":
            if self.col < len(line):
                line[self.col : self.col] = [(" ", _PLAIN)] * count
        elif final == "X":
            for k in range(self.col, min(self.col + count, len(line))):
                line[k] = (" ", _PLAIN)

    def _top(self) -> int:
        return max(0, len(self.lines) - self.rows)

    def _down(self, count: int) -> None:
        self.row += count
        while self.row >= len(self.lines):
            self.lines.append([])

    # ---- output -----------------------------------------------------------------------
    def text(self) -> str:
        """What the terminal shows, as plain text (trailing spaces and empty last lines
        dropped)."""
        out = ["".join(ch for ch, _ in line).rstrip() for line in self.lines]
        while out and not out[-1]:
            out.pop()
        return "\n".join(out)

    def html(self, last: int | None = None) -> str:
        """The screen as ``<pre>`` with a ``<span style=…>`` per run of styled cells;
        ``last`` keeps only the last lines."""
        lines = self.lines
        while len(lines) > 1 and not lines[-1]:
            lines = lines[:-1]
        if last is not None:
            lines = lines[-last:]
        parts = []
        for n, line in enumerate(lines):
            if n:
                parts.append("\n")
            run: list[str] = []
            style = _PLAIN
            for ch, st in line:
                if st != style and run:
                    parts.append(_span("".join(run), style))
                    run = []
                style = st
                run.append(ch)
            if run:
                parts.append(
                    _span("".join(run).rstrip() if style == _PLAIN else "".join(run), style)
                )
        return '<pre class="dockerlab-term">' + "".join(parts) + "</pre>"


def _span(text: str, style: tuple) -> str:
    css = _css(style)
    return f'<span style="{css}">{escape(text)}</span>' if css else escape(text)


def ansi_to_html(text: str) -> str:
    """Terminal output (ANSI escapes, ``\\r``, backspaces) as an HTML ``<pre>``."""
    return Screen().feed(text).html()


def strip_ansi(text: str) -> str:
    """Terminal output as the plain text a terminal would show."""
    return Screen().feed(text).text()
