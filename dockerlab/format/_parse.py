"""Lexer and parser for the Go text/template subset (see gotemplate for the language).

Errors are `ParseError(detail)` carrying Go's message; gotemplate converts them to its
TemplateError in one place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple


class ParseError(Exception):
    """A template that does not parse; `detail` is Go's message ("template: :1: ...")."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


# --- lexer -----------------------------------------------------------------------------------


class _Tok(NamedTuple):
    kind: str  # text field var ident string number bool nil char ( ) | := = , left right eof
    val: Any
    pos: int
    space: bool = False  # preceded by whitespace (a field chains only when glued to its term)


_KEYWORDS = {"if", "else", "end", "range", "with", "break", "continue", "define", "template",
             "block"}  # fmt: skip
_NUM_RE = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F_]+|0[oObB][0-9_]+|(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)"
    r"(?:[eE][+-]?[0-9_]+)?)"
)
_ALNUM_RE = re.compile(r"\w*")  # Go: letter, digit or underscore


def _word_end(src: str, pos: int) -> int:
    """Where the run of letters, digits and underscores at ``pos`` ends (maybe ``pos``)."""
    m = _ALNUM_RE.match(src, pos)
    return m.end() if m else pos  # never None: the pattern matches the empty run


_SPACE = " \t\r\n"


class _Lexer:
    def __init__(self, src: str) -> None:
        self.src = src
        self.toks: list[_Tok] = []

    def error(self, pos: int, msg: str) -> ParseError:
        return ParseError(f"template: :{self.src.count(chr(10), 0, pos) + 1}: {msg}")

    def run(self) -> list[_Tok]:
        src, pos = self.src, 0
        trim_next = False
        while True:
            start = src.find("{{", pos)
            text = src[pos:] if start < 0 else src[pos:start]
            if trim_next:
                text = text.lstrip(_SPACE)
            if start < 0:
                self._text(text, pos)
                self.toks.append(_Tok("eof", None, len(src)))
                return self.toks
            inner = start + 2
            if src.startswith("-", inner) and src[inner + 1 : inner + 2] in tuple(_SPACE):
                text = text.rstrip(_SPACE)
                inner += 2
            self._text(text, pos)
            if src.startswith("/*", _skip_space(src, inner)):
                pos, trim_next = self._comment(start, _skip_space(src, inner))
                continue
            self.toks.append(_Tok("left", None, start))
            pos, trim_next = self._action(inner)

    def _text(self, text: str, pos: int) -> None:
        if text:
            self.toks.append(_Tok("text", text, pos))

    def _comment(self, start: int, pos: int) -> tuple[int, bool]:
        end = self.src.find("*/", pos + 2)
        if end < 0:
            raise self.error(start, "unclosed comment")
        pos = end + 2
        trim = self.src.startswith(" -}}", pos) or self.src.startswith("\t-}}", pos)
        pos += 2 if trim else 0
        if not self.src.startswith("}}", pos):
            raise self.error(start, "comment ends before closing delimiter")
        return pos + 2, trim

    def _action(self, pos: int) -> tuple[int, bool]:
        src, space = self.src, False
        while True:
            if pos >= len(src):
                raise self.error(pos, "unclosed action")
            ch = src[pos]
            if ch in _SPACE:
                if src.startswith("-}}", pos + 1):
                    self.toks.append(_Tok("right", None, pos))
                    return pos + 4, True
                pos, space = pos + 1, True
                continue
            if src.startswith("}}", pos):
                self.toks.append(_Tok("right", None, pos))
                return pos + 2, False
            tok, pos = self._token(pos, space)
            self.toks.append(tok)
            space = False

    def _token(self, pos: int, space: bool) -> tuple[_Tok, int]:
        src, ch = self.src, self.src[pos]
        nxt = src[pos + 1 : pos + 2]
        if ch in "()|,=":
            return _Tok(ch, ch, pos, space), pos + 1
        if ch == ":":
            if nxt != "=":
                raise self.error(pos, "expected :=")
            return _Tok(":=", ":=", pos, space), pos + 2
        if ch == '"':
            m = re.compile(r'"(?:[^"\\\n]|\\.)*"').match(src, pos)
            if m is None:
                raise self.error(pos, "unterminated quoted string")
            value = _unquote(m.group(), self, pos)
            return _Tok("string", (value, m.group()), pos, space), m.end()
        if ch == "`":
            end = src.find("`", pos + 1)
            if end < 0:
                raise self.error(pos, "unterminated raw quoted string")
            return _Tok("string", (src[pos + 1 : end], src[pos : end + 1]), pos, space), end + 1
        if ch == "'":
            m = re.compile(r"'(?:[^'\\\n]|\\.[^']*)'").match(src, pos)
            if m is None:
                raise self.error(pos, "unterminated character constant")
            val = _unquote('"' + m.group()[1:-1] + '"', self, pos)
            return _Tok("number", ord(val[0]) if len(val) == 1 else 0, pos, space), m.end()
        if ch == "$":
            end = _word_end(src, pos + 1)
            return _Tok("var", src[pos:end], pos, space), end
        if ch == "." and not nxt.isdigit():
            end = _word_end(src, pos + 1)
            if end == pos + 1:
                return _Tok("dot", ".", pos, space), end
            return _Tok("field", src[pos + 1 : end], pos, space), end
        if ch.isdigit() or (ch in "+-." and (nxt.isdigit() or nxt == ".")):
            return self._number(pos, space)
        if ch.isalpha() or ch == "_":
            end = _word_end(src, pos)
            word = src[pos:end]
            if word in ("true", "false"):
                return _Tok("bool", word == "true", pos, space), end
            kind = "nil" if word == "nil" else ("keyword" if word in _KEYWORDS else "ident")
            return _Tok(kind, word, pos, space), end
        raise self.error(pos, f"bad character U+{ord(ch):04X} {ch!r}")

    def _number(self, pos: int, space: bool) -> tuple[_Tok, int]:
        m = _NUM_RE.match(self.src, pos)
        end = m.end() if m else pos
        text = self.src[pos:end]
        if not m or (end < len(self.src) and (self.src[end].isalnum() or self.src[end] == ".")):
            bad = _word_end(self.src, end)
            raise self.error(pos, f'bad number syntax: "{self.src[pos:bad]}"')
        clean = text.replace("_", "")
        try:
            if clean.lstrip("+-")[:2].lower() in ("0x", "0o", "0b"):
                val: Any = int(clean, 0)
            elif any(c in clean for c in ".eE"):
                val = float(clean)
            else:
                val = int(clean, 10)
        except ValueError:
            raise self.error(pos, f'bad number syntax: "{text}"') from None
        return _Tok("number", (val, text), pos, space), end


_UNESCAPE_RE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)")
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
                   "\\": "\\", '"': '"', "'": "'"}  # fmt: skip


def _unquote(lit: str, lexer: _Lexer, pos: int) -> str:
    """strconv.Unquote of a Go double-quoted literal."""

    def sub(m: re.Match) -> str:
        esc = m.group(1)
        if esc in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[esc]
        if esc[0] in "xuU":
            return chr(int(esc[1:], 16))
        if esc[0].isdigit():
            return chr(int(esc, 8))
        raise lexer.error(pos, f"invalid syntax: {lit}")

    return _UNESCAPE_RE.sub(sub, lit[1:-1])


def _skip_space(src: str, pos: int) -> int:
    while pos < len(src) and src[pos] in _SPACE:
        pos += 1
    return pos


# --- parse tree --------------------------------------------------------------------------------


class _Node:
    __slots__ = ("pos",)
    pos: int


class _Text(_Node):
    __slots__ = ("text",)

    def __init__(self, pos: int, text: str) -> None:
        self.pos, self.text = pos, text


class _Lit(_Node):
    """A literal: string, number, bool or nil; `src` is how Go prints the node."""

    __slots__ = ("src", "value")

    def __init__(self, pos: int, value: Any, src: str) -> None:
        self.pos, self.value, self.src = pos, value, src

    def __str__(self) -> str:
        return self.src


class _Dot(_Node):
    def __init__(self, pos: int) -> None:
        self.pos = pos

    def __str__(self) -> str:
        return "."


class _Field(_Node):
    """`.A.B` (base None), `$x.A` (base a var name) or `(pipe).A` (base a _Pipe)."""

    __slots__ = ("base", "names")

    def __init__(self, pos: int, base: Any, names: list[str]) -> None:
        self.pos, self.base, self.names = pos, base, names

    def __str__(self) -> str:
        head = "" if self.base is None else str(self.base)
        return head + "".join("." + n for n in self.names)


class _Ident(_Node):
    __slots__ = ("name",)

    def __init__(self, pos: int, name: str) -> None:
        self.pos, self.name = pos, name

    def __str__(self) -> str:
        return self.name


class _Cmd(_Node):
    __slots__ = ("args",)

    def __init__(self, pos: int, args: list[_Node]) -> None:
        self.pos, self.args = pos, args

    def __str__(self) -> str:
        return " ".join(str(a) for a in self.args)


class _Pipe(_Node):
    __slots__ = ("assign", "cmds", "decl", "paren")

    def __init__(self, pos: int, decl: list[str], assign: bool, cmds: list[_Cmd]) -> None:
        self.pos, self.decl, self.assign, self.cmds, self.paren = pos, decl, assign, cmds, False

    def __str__(self) -> str:
        text = " | ".join(str(c) for c in self.cmds)
        if self.decl:
            text = ", ".join(self.decl) + (" = " if self.assign else " := ") + text
        return f"({text})" if self.paren else text


class _Action(_Node):
    __slots__ = ("pipe",)

    def __init__(self, pos: int, pipe: _Pipe) -> None:
        self.pos, self.pipe = pos, pipe


class _Branch(_Node):
    """if / with / range: `body` runs on a true (non-empty) pipe, else `orelse`."""

    __slots__ = ("body", "kind", "orelse", "pipe")

    def __init__(self, pos: int, kind: str, pipe: _Pipe, body: list, orelse: list) -> None:
        self.pos, self.kind, self.pipe, self.body, self.orelse = pos, kind, pipe, body, orelse


class _Loop(_Node):
    __slots__ = ("kind",)

    def __init__(self, pos: int, kind: str) -> None:
        self.pos, self.kind = pos, kind


# --- parser ------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, src: str, funcs: Mapping[str, Any]) -> None:
        self.lexer = _Lexer(src)
        self.toks = self.lexer.run()
        self.i = 0
        self.funcs = funcs
        self.vars = ["$"]
        self.range_depth = 0

    def error(self, msg: str, tok: _Tok | None = None) -> ParseError:
        return self.lexer.error((tok or self.toks[self.i]).pos, msg)

    def next(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def parse(self) -> list[_Node]:
        nodes, end = self.list_()
        if end is not None:
            raise self.error(f"unexpected {{{{{end.val}}}}}", end)
        return nodes

    def list_(self) -> tuple[list[_Node], _Tok | None]:
        """Items up to EOF, or up to `{{end}}`/`{{else}}` (returned, its `}}` left unread)."""
        nodes: list[_Node] = []
        while True:
            tok = self.next()
            if tok.kind == "eof":
                self.i -= 1
                return nodes, None
            if tok.kind == "text":
                nodes.append(_Text(tok.pos, tok.val))
                continue
            word = self.peek()
            if word.kind == "keyword" and word.val in ("end", "else"):
                self.next()
                return nodes, word
            nodes.append(self.action(word))

    def action(self, word: _Tok) -> _Node:
        if word.kind == "keyword":
            self.next()
            if word.val in ("if", "with", "range"):
                return self.branch(word)
            if word.val in ("break", "continue"):
                if not self.range_depth:
                    raise self.error(f"{{{{{word.val}}}}} outside {{{{range}}}}", word)
                self.expect_right(word.val)
                return _Loop(word.pos, word.val)
            raise self.error(f"{{{{{word.val}}}}} is not supported by dockerlab", word)
        pipe = self.pipeline("command", decl_ok=True)
        return _Action(word.pos, pipe)

    def expect_right(self, context: str) -> None:
        tok = self.next()
        if tok.kind != "right":
            raise self.error(f"unexpected {_desc(tok)} in {context}", tok)

    def branch(self, word: _Tok) -> _Node:
        mark = len(self.vars)
        pipe = self.pipeline(word.val, decl_ok=True, range_=word.val == "range")
        self.range_depth += word.val == "range"
        body, end = self.list_()
        self.range_depth -= word.val == "range"
        orelse: list[_Node] = []
        if end is None:
            raise self.error("unexpected EOF")
        if end.val == "else":
            nxt = self.peek()
            if nxt.kind == "keyword" and nxt.val in ("if", "with") and word.val != "range":
                # `{{else if ...}}` is `{{else}}{{if ...}}...{{end}}{{end}}` sharing one end.
                if nxt.val != word.val:
                    raise self.error(f"unexpected {{{{else {nxt.val}}}}}", nxt)
                self.next()
                orelse = [self.branch(nxt)]
                del self.vars[mark:]
                return _Branch(word.pos, word.val, pipe, body, orelse)
            self.expect_right("else")
            orelse, end = self.list_()
            if end is None:
                raise self.error("unexpected EOF")
            if end.val != "end":
                raise self.error("expected end; found {{else}}", end)
        self.expect_right("end")
        del self.vars[mark:]
        return _Branch(word.pos, word.val, pipe, body, orelse)

    def pipeline(self, context: str, decl_ok: bool = False, range_: bool = False) -> _Pipe:
        start = self.peek()
        decl: list[str] = []
        assign = False
        if decl_ok and start.kind == "var":
            j = self.i + 1
            names = [start]
            if range_ and self.toks[j].kind == "," and self.toks[j + 1].kind == "var":
                names.append(self.toks[j + 1])
                j += 2
            if self.toks[j].kind in (":=", "="):
                assign = self.toks[j].kind == "="
                if assign and len(names) > 1:
                    raise self.error("too many declarations in command", start)
                decl = [t.val for t in names]
                for t in names if assign else ():
                    if t.val not in self.vars:
                        raise self.error(f'undefined variable "{t.val}"', t)
                self.i = j + 1
        cmds: list[_Cmd] = []
        end_kind = ")" if context == "parenthesized pipeline" else "right"
        while True:
            tok = self.peek()
            if tok.kind == end_kind:
                self.next()
                break
            if tok.kind in ("eof", "right", ")"):
                msg = "unclosed left paren" if end_kind == ")" else f"unexpected {_desc(tok)}"
                raise self.error(f"{msg} in {context}", tok)
            cmds.append(self.command(context))
            if self.peek().kind == "|":
                self.next()
                if self.peek().kind in ("right", ")"):
                    raise self.error("missing command after pipe", self.peek())
        if not cmds:
            raise self.error(f"missing value for {context}", start)
        for n, cmd in enumerate(cmds[1:], 2):
            if isinstance(cmd.args[0], (_Lit, _Dot)):
                raise self.error(f"non executable command in pipeline stage {n}", start)
        if not assign:
            self.vars.extend(decl)
        return _Pipe(start.pos, decl, assign, cmds)

    def command(self, context: str) -> _Cmd:
        start = self.peek()
        args: list[_Node] = []
        while self.peek().kind not in ("|", "right", ")", "eof"):
            args.append(self.operand())
        if not args:
            raise self.error("missing value for command", start)
        return _Cmd(start.pos, args)

    def operand(self) -> _Node:
        tok = self.next()
        node: _Node
        if tok.kind == "field":
            names = [tok.val]
            pos = tok.pos
            if self.peek().kind == "field" and not self.peek().space:
                pos = self.peek().pos  # Go's chain: `.A.B` is at `.B` in error messages
            while self.peek().kind == "field" and not self.peek().space:
                names.append(self.next().val)
            return _Field(pos, None, names)
        if tok.kind == "var":
            if tok.val not in self.vars:
                raise self.error(f'undefined variable "{tok.val}"', tok)
            node = _Field(tok.pos, tok.val, [])
        elif tok.kind == "ident":
            if tok.val not in self.funcs:
                raise self.error(f'function "{tok.val}" not defined', tok)
            return _Ident(tok.pos, tok.val)
        elif tok.kind == "(":
            node = self.pipeline("parenthesized pipeline")
            node.paren = True
        elif tok.kind == "dot":
            node = _Dot(tok.pos)
        elif tok.kind in ("string", "number"):
            val, text = tok.val if isinstance(tok.val, tuple) else (tok.val, str(tok.val))
            node = _Lit(tok.pos, val, text)
        elif tok.kind == "bool":
            node = _Lit(tok.pos, tok.val, "true" if tok.val else "false")
        elif tok.kind == "nil":
            node = _Lit(tok.pos, None, "nil")
        else:
            raise self.error(f"unexpected {_desc(tok)} in operand", tok)
        names = []
        chain_pos = self.peek().pos  # Go's chain node sits at its first field
        while self.peek().kind == "field" and not self.peek().space:
            names.append(self.next().val)
        if not names:
            return node
        if isinstance(node, _Field):  # $x.A.B
            node.names = names
            node.pos = chain_pos
            return node
        if isinstance(node, _Lit):
            raise self.error(f"unexpected . after term {node.src!r}", tok)
        return _Field(chain_pos, node, names)


def _desc(tok: _Tok) -> str:
    if tok.kind == "right":
        return '"}}"'
    if tok.kind == "eof":
        return "EOF"
    return f"<{tok.val}>" if tok.kind in ("keyword", "ident") else repr(str(tok.val))
