"""The parser fills its namespace as argparse did before argparse left the CLI's start path.

The reference below is the argparse set-up the parser used until then (one ``--long`` option
per flag, "store" or "append" with the kind's type), fed the same normalized words. Every
flag of every command is tried, so a flag added to the tables is checked too.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from dockerlab.cli import parser as p

# A value each kind accepts, and a second one (for "repeated" and "last one wins").
_VALUES = {
    "bool": ("true", "false"),
    "string": ("x", "-y=z"),
    "int": ("5", "-1"),
    "list": ("a", "b=c"),
    "env": ("A=1", "B"),
    "filter": ("a=b", "c=d=e"),
    "bytes": ("64m", "1g"),
    "decimal": ("1.5", "0"),
    "network": ("none", "host"),
    "duration": ("1s", "1m30s"),
    "map": ("a=b", "c=d"),
    "ulimit": ("nofile=1:2", "nproc=3"),
    "mount": ("type=tmpfs,dst=/x", "type=volume,dst=/y"),
    "link": ("db:x", "web"),
    "extrahost": ("a:1.2.3.4", "b=::1"),
    "ip": ("1.1.1.1", "::1"),
    "dnssearch": ("example.com", "."),
}


def _argparse_namespace(parser: p.DockerParser, normalized: list[str]) -> argparse.Namespace:
    ref = argparse.ArgumentParser(add_help=False, allow_abbrev=False, exit_on_error=False)
    for f in (*parser.flags, parser._long["help"]):
        typ, _meta, repeat = p._KINDS[f.kind]
        ref.add_argument(
            f"--{f.long}",
            dest=f.dest,
            type=typ,
            default=[] if repeat else f.default,
            action="append" if repeat else "store",
        )
    return ref.parse_args(normalized)


def _lines(cmd: p.Command) -> list[list[str]]:
    """Command lines using each flag: long, shorthand, ``=value``, repeated, and none."""
    lines: list[list[str]] = [[]]
    for f in cmd.flags:
        first, second = _VALUES[f.kind]
        lines.append([f"--{f.long}={first}"])
        lines.append([f"--{f.long}={first}", f"--{f.long}={second}"])
        if f.kind != "bool":
            lines.append([f"--{f.long}", second])
        if f.short:
            lines.append([f"-{f.short}"] if f.kind == "bool" else [f"-{f.short}", first])
        for alias in f.aliases:
            lines.append([f"{alias}={first}"])
    every = [f"--{f.long}={_VALUES[f.kind][0]}" for f in cmd.flags]
    lines.append(every)
    return lines


@pytest.mark.parametrize("verb", sorted(p.COMMANDS))
def test_every_flag_of_every_command_lands_as_argparse_put_it(verb: str) -> None:
    cmd = p.COMMANDS[verb]
    parser = p.DockerParser(verb, cmd)
    for words in _lines(cmd):
        normalized, _positionals = parser.split(words)
        ours = vars(parser.coerce(parser.parse_args(normalized)))
        theirs = vars(parser.coerce(_argparse_namespace(parser, normalized)))
        assert ours == theirs, words
        assert [type(v) for v in ours.values()] == [type(v) for v in theirs.values()], words


def test_the_global_flags_land_as_argparse_put_them() -> None:
    top = p.DockerParser("", flags=p._GLOBAL_FLAGS, interspersed=False)
    for words in (["-D"], ["--root", "/x"], ["--debug=false", "-v"], []):
        normalized, _ = top.split(words)
        assert vars(top.parse_args(normalized)) == vars(_argparse_namespace(top, normalized))


def test_repeated_flags_start_from_a_fresh_list_each_parse() -> None:
    first = p.parse(["run", "-e", "A=1", "busybox"])
    second = p.parse(["run", "busybox"])
    assert first.env == ["A=1"] and second.env == []


def test_the_namespace_behaves_as_argparses() -> None:
    ns = p.Namespace(a=1, b=[2])
    assert ns == p.Namespace(a=1, b=[2]) and ns != p.Namespace(a=1)
    assert "a" in ns and "c" not in ns
    assert repr(ns) == "Namespace(a=1, b=[2])"
    assert getattr(ns, "c", None) is None
    with pytest.raises(AttributeError, match="'Namespace' object has no attribute 'c'"):
        _ = ns.c


def test_the_cli_never_imports_argparse() -> None:
    code = (
        "import sys; from dockerlab.cli import parser; "
        "parser.parse(['run', '--rm', '-e', 'A=1', 'busybox', 'true']); "
        "print('argparse' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
