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

from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from dockerlab.errors import ClientError
from dockerlab.format._funcs import _GO_TYPES, FUNCS, HEADER_FUNCS, FuncError, _truth
from dockerlab.format._gofmt import NOVALUE, OutputTooLarge, go_quote, go_str, sorted_keys
from dockerlab.format._gofmt import type_name as _type_name
from dockerlab.format._parse import (
    ParseError,
    _Action,
    _Branch,
    _Cmd,
    _Dot,
    _Field,
    _Ident,
    _Lit,
    _Loop,
    _Node,
    _Parser,
    _Pipe,
    _Text,
)

__all__ = ["HEADER_FUNCS", "Template", "TemplateError", "parse", "parse_format", "render"]


class TemplateError(ClientError, ValueError):
    """A template that does not parse or execute; `detail` is Go's own message. The docker
    CLI runs templates, so this is a client error: printed as is, exit 1."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"template parsing error: {detail}")
        self.detail = detail


# --- executor ----------------------------------------------------------------------------------


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


_NOFINAL: Any = object()  # no piped-in value (Go's missingVal)

# Go streams a template to its writer and never stops it; we build each row in memory, so a
# `{{range 100000}}{{range 100000}}...` or a doubling `printf` loop is cut short instead of
# eating the machine. Real rows are a few KB and take well under a thousand steps; `json` of
# a big `inspect` is a few MB.
MAX_OUTPUT = 64 << 20  # characters one execute may write
MAX_STEPS = 1_000_000  # nodes and loop iterations one execute may evaluate


class _Exec:
    def __init__(
        self,
        src: str,
        funcs: Mapping[str, tuple[Callable[..., Any], str]],
        missingkey_error: bool = False,
    ) -> None:
        self.src = src
        self.funcs = funcs
        self.missingkey_error = missingkey_error
        self.vars: list[list[Any]] = []
        self.node: _Node | None = None
        self.size = 0
        self.steps = 0

    def _at(self, node: _Node) -> None:
        """Point errors at the action a node belongs to (text has no name in Go's messages)."""
        if isinstance(node, (_Action, _Branch)):
            self.node = node.pipe

    def tick(self, node: _Node) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            self._at(node)
            raise self.error(f"template exceeds {MAX_STEPS} evaluation steps")

    def emit(self, out: list[str], text: str, node: _Node) -> None:
        self.size += len(text)
        if self.size > MAX_OUTPUT:
            self._at(node)
            raise self.error(f"template output exceeds {MAX_OUTPUT >> 20} MiB")
        out.append(text)

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
            self.tick(node)
            if isinstance(node, _Text):
                self.emit(out, node.text, node)
            elif isinstance(node, _Action):
                value = self.pipe(dot, node.pipe)
                if not node.pipe.decl:
                    self.emit(out, go_str(value), node)
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
        items: Iterable[tuple[Any, Any]]
        if isinstance(value, dict):
            items = [(k, value[k]) for k in sorted_keys(value)]
        elif isinstance(value, (list, tuple)):
            items = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            if len(decl) > 1:
                raise self.error("can't use 2 variables with int")
            items = ((i, i) for i in range(value))  # lazily: `range 1000000000` is legal Go
        elif value is None or value is NOVALUE:
            items = []
        else:
            self.node = node.pipe
            raise self.error(f"range can't iterate over {go_str(value)}")
        mark = len(self.vars)
        empty = True
        for key, elem in items:
            empty = False
            self.tick(node)
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
        if empty:
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
        assert isinstance(first, _Lit)  # the parser's operands: field, ident, pipe, dot, literal
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
            if name in receiver:
                return receiver[name]
            if isinstance(getattr(receiver, "go_type", None), str):  # a Struct
                raise self.error(f"can't evaluate field {name} in type {_type_name(receiver)}")
            if self.missingkey_error:  # Option("missingkey=error"), as docker inspect's
                raise self.error(f"map has no entry for key {go_quote(name)}")
            return NOVALUE
        # only exported (capitalised) names, as Go: a context's own state is not a field
        if not isinstance(receiver, (str, int, float, list, tuple)) and name[:1].isupper():
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
                except (TypeError, ValueError, KeyError, FuncError) as exc:
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
        except (FuncError, OutputTooLarge) as exc:
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
        try:
            self.nodes = _Parser(src, self.funcs).parse()
        except ParseError as exc:
            raise TemplateError(exc.detail) from None

    def execute(
        self,
        data: Any,
        funcs: Mapping[str, tuple[Callable[..., Any], str]] | None = None,
        out: list[str] | None = None,
        missingkey_error: bool = False,
    ) -> str:
        """Render against `data`; `funcs` overrides functions (e.g. HEADER_FUNCS).

        Pass `out` to keep what was written before an error, as Go's Execute does.
        `missingkey_error`: a key a dict lacks is an error (``map has no entry for key``),
        as in docker inspect, instead of ``<no value>``.
        """
        ex = _Exec(self.src, {**self.funcs, **funcs} if funcs else self.funcs, missingkey_error)
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
