"""A Go text/template subset with the docker CLI's functions, for `--format` flags.

    render("{{range .Names}}{{upper .}} {{end}}", {"Names": ["a", "b"]}) == "A B "

Supported: text and `{{ }}` actions with `{{-`/`-}}` trimming and `{{/* comments */}}`;
fields `.A.B` (dict key, then attribute; methods are called with arguments), `.`, `$`,
variables (`$x := ...`, `$x = ...`, `range $i, $e := ...`), string/raw/number/bool/nil
literals, pipelines `a | f b`, parenthesised pipelines, `if/else if/else`, `range`
(with `else`, `break`, `continue`), `with/else with`; Go's builtins `and or not eq ne lt
le gt ge len index slice print printf println` and docker's `json join split lower upper
title truncate pad`. Left out: `define/template/block`, `html js urlquery call`.

Values print as Go prints them (see `_gofmt`): a missing dict key is `<no value>`, None
is `<nil>`. Every error is a `TemplateError` whose message is Go's, prefixed like the
docker CLI's: `template parsing error: template: :1: function "foo" not defined`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, NamedTuple

from dockerlab.format._gofmt import NOVALUE, go_str, sorted_keys, sprint, sprintf, to_json
from dockerlab.format._gofmt import type_name as _type_name

__all__ = ["HEADER_FUNCS", "Template", "TemplateError", "parse", "parse_format", "render"]


class TemplateError(ValueError):
    """A template that does not parse or execute; `detail` is Go's own message."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"template parsing error: {detail}")
        self.detail = detail


class _FuncError(Exception):
    """Raised by template functions; becomes `error calling NAME: ...`."""


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
_SPACE = " \t\r\n"


class _Lexer:
    def __init__(self, src: str) -> None:
        self.src = src
        self.toks: list[_Tok] = []

    def error(self, pos: int, msg: str) -> TemplateError:
        return TemplateError(f"template: :{self.src.count(chr(10), 0, pos) + 1}: {msg}")

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
            end = _ALNUM_RE.match(src, pos + 1).end()
            return _Tok("var", src[pos:end], pos, space), end
        if ch == "." and not nxt.isdigit():
            end = _ALNUM_RE.match(src, pos + 1).end()
            if end == pos + 1:
                return _Tok("dot", ".", pos, space), end
            return _Tok("field", src[pos + 1 : end], pos, space), end
        if ch.isdigit() or (ch in "+-." and (nxt.isdigit() or nxt == ".")):
            return self._number(pos, space)
        if ch.isalpha() or ch == "_":
            end = _ALNUM_RE.match(src, pos).end()
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
            bad = _ALNUM_RE.match(self.src, end).end()
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

    def error(self, msg: str, tok: _Tok | None = None) -> TemplateError:
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
            while self.peek().kind == "field" and not self.peek().space:
                names.append(self.next().val)
            return _Field(tok.pos, None, names)
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
        while self.peek().kind == "field" and not self.peek().space:
            names.append(self.next().val)
        if not names:
            return node
        if isinstance(node, _Field):  # $x.A.B
            node.names = names
            return node
        if isinstance(node, _Lit):
            raise self.error(f"unexpected . after term {node.src!r}", tok)
        return _Field(node.pos, node, names)


def _desc(tok: _Tok) -> str:
    if tok.kind == "right":
        return '"}}"'
    if tok.kind == "eof":
        return "EOF"
    return f"<{tok.val}>" if tok.kind in ("keyword", "ident") else repr(str(tok.val))


# --- functions ---------------------------------------------------------------------------------
# Each entry: (python function, parameter kinds); kinds are "s" string, "i" int,
# "L" []string, "a" any, and a trailing "*" makes the last kind variadic.


def _title(s: str) -> str:
    """strings.Title: upper-case every letter that follows a separator."""
    out, prev = [], " "
    for ch in s:
        sep = not (prev.isalnum() or prev == "_") if prev.isascii() else prev.isspace()
        out.append(ch.upper() if sep else ch)
        prev = ch
    return "".join(out)


def _split(s: str, sep: str) -> list[str]:
    return list(s) if sep == "" else s.split(sep)


def _pad(s: str, prefix: int, suffix: int) -> str:
    return s if s == "" else " " * prefix + s + " " * suffix


def _truncate(s: str, n: int) -> str:
    return s if len(s) < n else s[: max(n, 0)]


def _json(v: Any) -> str:
    try:
        return to_json(v)
    except (ValueError, RecursionError):
        return ""  # docker ignores json.Encoder errors and prints nothing


def _len(v: Any) -> int:
    if isinstance(v, str):
        return len(v.encode())
    if isinstance(v, (list, tuple, dict)):
        return len(v)
    if v is None:
        raise _FuncError("len of nil pointer")
    raise _FuncError(f"len of type {_type_name(v)}")


def _index_one(item: Any, key: Any) -> Any:
    if isinstance(item, dict):
        if key in item:
            return item[key]
        # Go returns the map's zero value: "" for map[string]string (labels), else nil.
        return "" if all(isinstance(x, str) for x in item.values()) else None
    if isinstance(item, (list, tuple, str)):
        if not isinstance(key, int) or isinstance(key, bool):
            raise _FuncError(f"cannot index slice/array with type {_type_name(key)}")
        if not 0 <= key < len(item):
            raise _FuncError(f"index out of range: {key}")
        return item[key] if not isinstance(item, str) else item.encode()[key]
    if item is None:
        raise _FuncError("index of untyped nil")
    raise _FuncError(f"can't index item of type {_type_name(item)}")


def _index(item: Any, *keys: Any) -> Any:
    for key in keys:
        item = _index_one(item, key)
    return item


def _slice(item: Any, *idx: Any) -> Any:
    if not isinstance(item, (list, tuple, str)):
        raise _FuncError(f"can't slice item of type {_type_name(item)}")
    if len(idx) > 2:
        raise _FuncError(f"too many slice indexes: {len(idx)}")
    bounds = [*idx, len(item)][:2] if idx else [0, len(item)]
    lo, hi = bounds[0], bounds[1]
    if not (0 <= lo <= hi <= len(item)):
        raise _FuncError(f"index out of range: {hi if hi > len(item) else lo}")
    return item[lo:hi]


_BASIC = (bool, int, float, str)


def _kind(v: Any) -> type | None:
    for t in _BASIC:
        if isinstance(v, t):
            return t
    return None


def _eq(a: Any, *others: Any) -> bool:
    if not others:
        raise _FuncError("missing argument for comparison")
    for b in others:
        ka, kb = _kind(a), _kind(b)
        nil = a in (None, NOVALUE) or b in (None, NOVALUE)
        if ka is not kb and not nil and (ka or kb):
            raise _FuncError("incompatible types for comparison")
        if a == b and not (a is NOVALUE) ^ (b is NOVALUE):
            return True
    return False


def _ordered(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        ka, kb = _kind(a), _kind(b)
        if ka in (None, bool) or kb in (None, bool):
            raise _FuncError("invalid type for comparison")
        if ka is not kb:
            raise _FuncError("incompatible types for comparison")
        return op(a, b)

    return compare


def _println(*args: Any) -> str:
    return " ".join(go_str(a) for a in args) + "\n"


def _header(v: Any, *_: Any) -> Any:
    return v


FUNCS: dict[str, tuple[Callable[..., Any], str]] = {
    # docker/cli templates.basicFunctions
    "json": (_json, "a"),
    "split": (_split, "ss"),
    "join": (lambda items, sep: sep.join(items), "Ls"),
    "title": (_title, "s"),
    "lower": (str.lower, "s"),
    "upper": (str.upper, "s"),
    "pad": (_pad, "sii"),
    "truncate": (_truncate, "si"),
    # text/template builtins (and/or are evaluated lazily by the executor)
    "and": (lambda *a: a[-1], "aa*"),
    "or": (lambda *a: a[-1], "aa*"),
    "not": (lambda v: not _truth(v), "a"),
    "len": (_len, "a"),
    "index": (_index, "aa*"),
    "slice": (_slice, "aa*"),
    "print": (lambda *a: sprint(list(a)), "a*"),
    "printf": (lambda f, *a: sprintf(f, list(a)), "sa*"),
    "println": (_println, "a*"),
    "eq": (_eq, "aa*"),
    "ne": (lambda a, b: not _eq(a, b), "aa"),
    "lt": (_ordered(lambda a, b: a < b), "aa"),
    "le": (_ordered(lambda a, b: a <= b), "aa"),
    "gt": (_ordered(lambda a, b: a > b), "aa"),
    "ge": (_ordered(lambda a, b: a >= b), "aa"),
}

#: docker's HeaderFunctions: used to render a table's header row from the column names,
#: so `{{upper .Names}}` still prints "NAMES"; `pad` is kept for alignment.
HEADER_FUNCS: dict[str, tuple[Callable[..., Any], str]] = {
    "json": (_header, "s"),
    "split": (_header, "ss"),
    "join": (_header, "ss"),
    "title": (_header, "s"),
    "lower": (_header, "s"),
    "upper": (_header, "s"),
    "truncate": (_header, "si"),
}

_GO_TYPES = {"s": "string", "i": "int", "L": "[]string"}


def _truth(v: Any) -> bool:
    if v is None or v is NOVALUE:
        return False
    if isinstance(v, (bool, int, float, str, list, tuple, dict)):
        return bool(v)
    return True


# --- executor ----------------------------------------------------------------------------------


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


_NOFINAL: Any = object()  # no piped-in value (Go's missingVal)


class _Exec:
    def __init__(self, src: str, funcs: Mapping[str, tuple[Callable[..., Any], str]]) -> None:
        self.src = src
        self.funcs = funcs
        self.vars: list[list[Any]] = []
        self.node: _Node | None = None

    def error(self, msg: str) -> TemplateError:
        node = self.node
        if node is None:
            return TemplateError(f"template: : {msg}")
        line_start = self.src.rfind("\n", 0, node.pos) + 1
        line = self.src.count("\n", 0, node.pos) + 1
        col = len(self.src[line_start : node.pos].encode())
        return TemplateError(f'template: :{line}:{col}: executing "" at <{node}>: {msg}')

    def walk(self, nodes: list[_Node], dot: Any, out: list[str]) -> None:
        for node in nodes:
            if isinstance(node, _Text):
                out.append(node.text)
            elif isinstance(node, _Action):
                value = self.pipe(dot, node.pipe)
                if not node.pipe.decl:
                    out.append(go_str(value))
            elif isinstance(node, _Branch):
                self.branch(node, dot, out)
            elif isinstance(node, _Loop):
                raise _Break() if node.kind == "break" else _Continue()

    def branch(self, node: _Branch, dot: Any, out: list[str]) -> None:
        mark = len(self.vars)
        try:
            if node.kind == "range":
                self.range_(node, dot, out)
                return
            value = self.pipe(dot, node.pipe)
            if _truth(value):
                self.walk(node.body, value if node.kind == "with" else dot, out)
            else:
                self.walk(node.orelse, dot, out)
        finally:
            del self.vars[mark:]

    def range_(self, node: _Branch, dot: Any, out: list[str]) -> None:
        decl = node.pipe.decl
        value = self.pipe(dot, node.pipe, declare=False)
        if isinstance(value, dict):
            items = [(k, value[k]) for k in sorted_keys(value)]
        elif isinstance(value, (list, tuple)):
            items = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            if len(decl) > 1:
                raise self.error("can't use 2 variables with int")
            items = [(i, i) for i in range(value)]
        elif value is None or value is NOVALUE:
            items = []
        else:
            self.node = node.pipe
            raise self.error(f"range can't iterate over {go_str(value)}")
        mark = len(self.vars)
        for key, elem in items:
            if len(decl) == 1:
                self.vars.append([decl[0], elem])
            elif decl:
                self.vars += [[decl[0], key], [decl[1], elem]]
            try:
                self.walk(node.body, elem, out)
            except _Break:
                break
            except _Continue:
                pass
            finally:
                del self.vars[mark:]
        if not items:
            self.walk(node.orelse, dot, out)

    def pipe(self, dot: Any, pipe: _Pipe, declare: bool = True) -> Any:
        value = _NOFINAL
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, value)
        for name in pipe.decl if declare else ():
            if pipe.assign:
                self.lookup(name)[1] = value
            else:
                self.vars.append([name, value])
        return value

    def lookup(self, name: str) -> list[Any]:
        for entry in reversed(self.vars):
            if entry[0] == name:
                return entry
        raise self.error(f"undefined variable: {name}")

    def command(self, dot: Any, cmd: _Cmd, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, _Field):
            return self.field(dot, first, cmd.args[1:], final)
        if isinstance(first, _Ident):
            return self.call(dot, first, cmd, final)
        self.node = first
        if len(cmd.args) > 1 or final is not _NOFINAL:
            raise self.error(f"can't give argument to non-function {first}")
        if isinstance(first, _Pipe):
            return self.pipe(dot, first)
        if isinstance(first, _Dot):
            return dot
        if first.value is None:
            raise self.error("nil is not a command")
        return first.value

    def field(self, dot: Any, node: _Field, args: list[_Node], final: Any) -> Any:
        if node.base is None:
            receiver = dot
        elif isinstance(node.base, str):
            receiver = self.lookup(node.base)[1]
        else:
            receiver = self.pipe(dot, node.base)
        self.node = node
        for i, name in enumerate(node.names):
            last = i == len(node.names) - 1
            receiver = self.field1(
                dot, receiver, name, args if last else [], final if last else _NOFINAL
            )
        if not node.names and (args or final is not _NOFINAL):
            raise self.error(f"can't give argument to non-function {node}")
        return receiver

    def field1(self, dot: Any, receiver: Any, name: str, args: list[_Node], final: Any) -> Any:
        has_args = bool(args) or final is not _NOFINAL
        if receiver is NOVALUE:
            return NOVALUE
        if receiver is None:
            raise self.error(f"nil pointer evaluating interface {{}}.{name}")
        if isinstance(receiver, dict):
            if has_args:
                raise self.error(f"{name} is not a method but has arguments")
            return receiver.get(name, NOVALUE)
        if not isinstance(receiver, (str, int, float, list, tuple)) and not name.startswith("_"):
            attr = getattr(receiver, name, NOVALUE)
            if attr is not NOVALUE:
                if not callable(attr):
                    if has_args:
                        raise self.error(f"{name} is not a method but has arguments")
                    return attr
                node = self.node
                argv = [self.arg(dot, a, "a") for a in args]
                if final is not _NOFINAL:
                    argv.append(self.typed(final, "a"))
                self.node = node
                try:
                    return attr(*argv)
                except (TypeError, ValueError, KeyError, _FuncError) as exc:
                    raise self.error(f"error calling {name}: {exc}") from None
        raise self.error(f"can't evaluate field {name} in type {_type_name(receiver)}")

    def call(self, dot: Any, ident: _Ident, cmd: _Cmd, final: Any) -> Any:
        self.node = ident
        name = ident.name
        if name not in self.funcs:
            raise self.error(f"{name!r} is not a defined function".replace("'", '"'))
        fn, kinds = self.funcs[name]
        args = cmd.args[1:]
        n_in = len(args) + (final is not _NOFINAL)
        variadic = kinds.endswith("*")
        fixed = kinds.rstrip("*")
        if variadic and n_in < len(fixed) - 1:
            raise self.error(
                f"wrong number of args for {name}: want at least {len(fixed) - 1} got {n_in}"
            )
        if not variadic and n_in != len(fixed):
            raise self.error(f"wrong number of args for {name}: want {len(fixed)} got {n_in}")

        def kind(i: int) -> str:
            return fixed[min(i, len(fixed) - 1)]

        if name in ("and", "or"):  # short-circuit, like Go 1.18+
            value = NOVALUE
            for i, arg in enumerate([*args, final] if final is not _NOFINAL else args):
                value = arg if i == len(args) else self.arg(dot, arg, "a")
                if _truth(value) == (name == "or"):
                    return value
            return value
        argv = [self.arg(dot, a, kind(i)) for i, a in enumerate(args)]
        if final is not _NOFINAL:
            argv.append(self.typed(final, kind(len(args))))
        try:
            return fn(*argv)
        except _FuncError as exc:
            self.node = cmd
            raise self.error(f"error calling {name}: {exc}") from None

    def arg(self, dot: Any, node: _Node, kind: str) -> Any:
        self.node = node
        if isinstance(node, _Lit):
            value = node.value
            if kind == "s" and not isinstance(value, str):
                raise self.error(f"expected string; found {node}")
            if kind == "i" and (not isinstance(value, int) or isinstance(value, bool)):
                raise self.error(f"expected integer; found {node}")
            return value
        if isinstance(node, _Dot):
            value = dot
        elif isinstance(node, _Field):
            value = self.field(dot, node, [], _NOFINAL)
        elif isinstance(node, _Pipe):
            value = self.pipe(dot, node)
        elif isinstance(node, _Ident):
            value = self.call(dot, node, _Cmd(node.pos, [node]), _NOFINAL)
        else:  # pragma: no cover - the parser produces no other operands
            raise self.error(f"can't handle {node} for arg")
        self.node = node
        return self.typed(value, kind)

    def typed(self, value: Any, kind: str) -> Any:
        """text/template's validateType: Go would refuse a value of the wrong type."""
        if kind == "a":
            return None if value is NOVALUE else value
        want = _GO_TYPES[kind]
        if value is NOVALUE:
            raise self.error(f"invalid value; expected {want}")
        ok = {
            "s": isinstance(value, str),
            "i": isinstance(value, int) and not isinstance(value, bool),
            "L": isinstance(value, (list, tuple)) and all(isinstance(x, str) for x in value),
        }[kind]
        if not ok:
            raise self.error(f"wrong type for value; expected {want}; got {_type_name(value)}")
        return value


# --- public API --------------------------------------------------------------------------------


class Template:
    """A parsed template; `execute` may be called many times (once per row)."""

    def __init__(self, src: str, funcs: Mapping[str, tuple[Callable[..., Any], str]] | None = None):
        self.src = src
        self.funcs = {**FUNCS, **(funcs or {})}
        self.nodes = _Parser(src, self.funcs).parse()

    def execute(
        self,
        data: Any,
        funcs: Mapping[str, tuple[Callable[..., Any], str]] | None = None,
        out: list[str] | None = None,
    ) -> str:
        """Render against `data`; `funcs` overrides functions (e.g. HEADER_FUNCS).

        Pass `out` to keep what was written before an error, as Go's Execute does.
        """
        ex = _Exec(self.src, {**self.funcs, **funcs} if funcs else self.funcs)
        ex.vars.append(["$", data])
        out = [] if out is None else out
        try:
            ex.walk(self.nodes, data, out)
        except RecursionError:
            raise ex.error("exceeded maximum template depth") from None
        return "".join(out)


@lru_cache(maxsize=64)
def parse(src: str) -> Template:
    """Parse (and cache) a template with docker's functions."""
    return Template(src)


def render(template: str, data: Any) -> str:
    """Render a Go template against `data` (dicts, lists, objects); raises TemplateError."""
    return parse(template).execute(data)


def parse_format(fmt: str) -> tuple[bool, str]:
    """The docker CLI's Context.preFormat: ("table {{.ID}}\\t{{.Names}}") -> (True, "{{.ID}}\t...").

    A leading "table" marks a table; the literal escapes `\\t` and `\\n` become a tab and a
    newline; surrounding spaces are trimmed; "json" means `{{json .}}`.
    """
    is_table = fmt.startswith("table")
    if is_table:
        fmt = fmt[len("table") :]
    elif fmt == "json":
        fmt = "{{json .}}"
    fmt = fmt.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    return is_table, fmt
