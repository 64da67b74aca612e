"""Dockerfile text -> instructions, as Docker's parser reads it (moby/buildkit
``frontend/dockerfile/parser`` and ``instructions``, the version Docker 20.10 vendors).

Why our own parser: the PyPI choices were ``dockerfile`` (Go's parser in a compiled wheel: a
native dependency, no variable substitution, no instruction checks, so the error messages
and the arguments' meaning would still be ours) and ``dockerfile-parse`` (a file editor: it
does not report unknown instructions, its substitution is not Docker's). The grammar is
small; owning it gives Docker's error texts with line numbers and costs ~2 ms per build.

Rules kept: parser directives (``# escape=``, ``# syntax=``) only before anything else; the
escape character ends a line to continue it; comment lines (also inside continuations) are
dropped; blank continuation lines are skipped; instruction names are case-insensitive;
leading ``--flag=value`` words; JSON (exec) form where the instruction allows it, else the
shell form.
"""

from __future__ import annotations

import json
import re

from dockerlab.engine.build.shell import split_words
from dockerlab.errors import InvalidParameter

INSTRUCTIONS = frozenset(
    {
        "add",
        "arg",
        "cmd",
        "copy",
        "entrypoint",
        "env",
        "expose",
        "from",
        "healthcheck",
        "label",
        "maintainer",
        "onbuild",
        "run",
        "shell",
        "stopsignal",
        "user",
        "volume",
        "workdir",
    }
)
# Flags each instruction accepts (the classic builder's set; BuildKit-only ones refused).
FLAGS = {
    "from": {"platform"},
    "copy": {"from", "chown"},
    "add": {"chown"},
    "healthcheck": {"interval", "timeout", "start-period", "retries"},
}
_BUILDKIT_ONLY = {
    ("run", "mount"),
    ("run", "network"),
    ("run", "security"),
    ("copy", "chmod"),
    ("add", "chmod"),
    ("copy", "link"),
    ("add", "link"),
}
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")


class DockerfileParseError(InvalidParameter):
    """``dockerfile parse error line 3: unknown instruction: FOO``."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"dockerfile parse error line {line}: {message}")
        self.line = line


class Instruction:
    """One instruction: ``cmd`` lower case, ``args`` its words (or the one shell-form string),
    ``json`` whether the exec form was used, ``flags`` its ``--name=value`` options,
    ``original`` the text as written (continuations joined), ``line`` where it starts."""

    __slots__ = ("args", "cmd", "flags", "json", "line", "original", "sub")

    def __init__(
        self,
        cmd: str,
        args: list[str],
        original: str,
        line: int,
        flags: dict[str, str] | None = None,
        json_form: bool = False,
        sub: Instruction | None = None,
    ) -> None:
        self.cmd, self.args, self.original, self.line = cmd, args, original, line
        self.flags, self.json, self.sub = flags or {}, json_form, sub

    def __repr__(self) -> str:
        return f"Instruction({self.cmd!r}, {self.args!r}, line={self.line})"


class Dockerfile:
    """Parsed file: ``escape`` character, ``directives`` and the ``instructions``."""

    def __init__(
        self, instructions: list[Instruction], escape: str, directives: dict[str, str]
    ) -> None:
        self.instructions, self.escape, self.directives = instructions, escape, directives


def _logical_lines(text: str, escape: str, start: int) -> list[tuple[int, str]]:
    """(first line number, joined text) of each instruction line."""
    lines = text.split("\n")
    cont = re.compile(re.escape(escape) + r"[ \t]*$")
    out: list[tuple[int, str]] = []
    i = start
    while i < len(lines):
        raw = lines[i].rstrip("\r")
        i += 1
        stripped = raw.lstrip(" \t")
        if stripped.startswith("#"):
            continue
        first = i
        line = stripped
        m = cont.search(line)
        if m is None:
            if line.strip():
                out.append((first, line))
            continue
        line = line[: m.start()]
        while i < len(lines):
            nxt = lines[i].rstrip("\r")
            i += 1
            if nxt.lstrip(" \t").startswith("#"):
                continue
            if not nxt.strip():
                continue
            m = cont.search(nxt)
            if m is None:
                line += nxt
                break
            line += nxt[: m.start()]
        if line.strip():
            out.append((first, line))
    return out


def _directives(text: str) -> tuple[dict[str, str], int]:
    found: dict[str, str] = {}
    lines = text.split("\n")
    n = 0
    for n, raw in enumerate(lines):
        m = _DIRECTIVE.match(raw.strip())
        if not m:
            return found, n
        key = m.group(1).lower()
        if key in found:
            raise DockerfileParseError(n + 1, f"only one {key} parser directive can be used")
        found[key] = m.group(2)
    return found, len(lines)


def _split_flags(rest: str) -> tuple[dict[str, str], str]:
    flags: dict[str, str] = {}
    while True:
        stripped = rest.lstrip()
        if not stripped.startswith("--"):
            return flags, stripped
        word, _, tail = stripped.partition(" ")
        if word == "--":
            return flags, tail.lstrip()
        name, eq, value = word[2:].partition("=")
        flags[name] = value if eq else "true"
        rest = tail


def exec_form(rest: str) -> tuple[list[str], bool]:
    """``["a", "b"]`` → (["a", "b"], True); anything else → ([rest], False)."""
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value, True
    return [rest] if rest else [], False


def _name_values(cmd: str, rest: str, line: int, escape: str) -> list[str]:
    """ENV/LABEL: ``K V`` (old form) or ``K=V ...`` → ["K=V", …] (values still quoted)."""
    words = split_words(rest, escape)
    if not words:
        raise DockerfileParseError(line, f"{cmd.upper()} requires at least one argument")
    if "=" not in words[0]:
        parts = re.split(r"[ \t]+", rest.strip(), maxsplit=1)
        if len(parts) < 2 or not parts[1]:
            raise DockerfileParseError(line, f"{cmd.upper()} must have two arguments")
        return [f"{parts[0]}={parts[1]}"]
    for w in words:
        if "=" not in w:
            raise DockerfileParseError(
                line, f"Syntax error - can't find = in {w!r}. Must be of the form: name=value"
            )
    return words


def parse_line(text: str, line: int, escape: str = "\\", nested: bool = False) -> Instruction:
    """One logical line → :class:`Instruction` (raises :class:`DockerfileParseError`)."""
    text = text.strip()
    parts = re.split(r"[ \t]+", text, maxsplit=1)
    word, rest = parts[0], (parts[1].strip() if len(parts) > 1 else "")
    cmd = word.lower()
    if cmd not in INSTRUCTIONS:
        raise DockerfileParseError(line, f"unknown instruction: {word.upper()}")
    if cmd == "onbuild":
        if not rest:
            raise DockerfileParseError(line, "ONBUILD requires at least one argument")
        sub = parse_line(rest, line, escape, nested=True)
        if sub.cmd in ("onbuild", "from", "maintainer"):
            what = (
                "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
                if sub.cmd == "onbuild"
                else f"{sub.cmd.upper()} isn't allowed as an ONBUILD trigger"
            )
            raise DockerfileParseError(line, what)
        return Instruction(cmd, [rest], text, line, sub=sub)
    flags: dict[str, str] = {}
    if cmd in FLAGS or cmd == "run":
        flags, rest = _split_flags(rest)
        for name in flags:
            if (cmd, name) in _BUILDKIT_ONLY:
                raise DockerfileParseError(
                    line,
                    f"the --{name} option requires BuildKit. "
                    "Refer to https://docs.docker.com/go/"
                    "buildkit/ to learn how to build images "
                    "with BuildKit enabled",
                )
            if name not in FLAGS.get(cmd, ()):
                raise DockerfileParseError(line, f"Unknown flag: {name}")
    json_form = False
    if cmd in ("run", "cmd", "entrypoint", "shell"):
        args, json_form = exec_form(rest)
        if cmd == "shell" and not json_form:
            raise DockerfileParseError(line, "SHELL requires the arguments to be in JSON form")
        if not args and cmd in ("run", "shell"):
            raise DockerfileParseError(line, f"{cmd.upper()} requires at least one argument")
    elif cmd in ("copy", "add", "volume"):
        args, json_form = exec_form(rest)
        if not json_form:
            args = rest.split()
        if cmd != "volume" and len(args) < 2:
            raise DockerfileParseError(line, f"{cmd.upper()} requires at least two arguments")
        if cmd == "volume" and not args:
            raise DockerfileParseError(line, "VOLUME requires at least one argument")
    elif cmd in ("env", "label"):
        args = _name_values(cmd, rest, line, escape)
    elif cmd == "arg":
        args = split_words(rest, escape)
        if not args:
            raise DockerfileParseError(line, "ARG requires exactly one argument")
    elif cmd in ("from", "expose"):
        args = rest.split()
        if cmd == "from" and (
            len(args) not in (1, 3) or (len(args) == 3 and args[1].lower() != "as")
        ):
            raise DockerfileParseError(line, "FROM requires either one or three arguments")
        if cmd == "expose" and not args:
            raise DockerfileParseError(line, "EXPOSE requires at least one argument")
    elif cmd == "healthcheck":
        args = rest.split(None, 1)
        if not args:
            raise DockerfileParseError(line, "HEALTHCHECK requires at least one argument")
        kind = args[0].upper()
        if kind == "NONE":
            if len(args) > 1 or flags:
                raise DockerfileParseError(line, "HEALTHCHECK NONE takes no arguments")
            args = ["NONE"]
        elif kind == "CMD":
            if len(args) < 2:
                raise DockerfileParseError(line, "Missing command after HEALTHCHECK CMD")
            cmd_args, json_form = exec_form(args[1].strip())
            args = ["CMD", *cmd_args]
        else:
            raise DockerfileParseError(line, f"Unknown type {kind!r} in HEALTHCHECK (try CMD)")
    else:  # user, workdir, stopsignal, maintainer, cmd-less strings
        if not rest:
            raise DockerfileParseError(line, f"{cmd.upper()} requires exactly one argument")
        args = [rest]
    return Instruction(cmd, args, text, line, flags, json_form)


def parse(text: str) -> Dockerfile:
    """Parse a whole Dockerfile (a leading byte-order mark is ignored)."""
    text = text.removeprefix("\ufeff")
    directives, start = _directives(text)
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise DockerfileParseError(1, f"invalid ESCAPE '{escape}'. Must be ` or \\")
    # Directive lines are comments for the rest of the parser; keep line numbers.
    instructions = [parse_line(t, n, escape) for n, t in _logical_lines(text, escape, start)]
    return Dockerfile(instructions, escape, directives)
