"""The dockerlab command line speaks Docker's grammar and Docker's usage errors."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from dockerlab.cli import main
from dockerlab.cli.parser import ShowText, parse
from dockerlab.errors import UsageError, exit_code


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def usage_error(*argv: str) -> UsageError:
    with pytest.raises(UsageError) as info:
        parse(list(argv))
    return info.value


def test_run_stops_parsing_flags_at_the_image():
    ns = parse(["run", "-d", "--name", "x", "busybox", "ls", "-l", "--rm"])
    assert ns.verb == "run" and ns.detach and ns.name == "x" and not ns.rm
    assert ns.image == "busybox" and ns.command == ["ls", "-l", "--rm"]


def test_exec_passes_flags_after_the_container_to_the_command():
    ns = parse(["exec", "-it", "c1", "sh", "-c", "echo -n hi"])
    assert ns.interactive and ns.tty
    assert ns.container == "c1" and ns.command == ["sh", "-c", "echo -n hi"]


def test_shorthand_clusters_and_attached_values():
    ns = parse(["run", "-itd", "-e=A=1", "-eB=2", "-wtmp", "busybox"])
    assert ns.interactive and ns.tty and ns.detach
    assert ns.env == ["A=1", "B=2"] and ns.workdir == "tmp"


def test_repeatable_flags_accumulate():
    ns = parse(["run", "-e", "A=1", "--env", "B=2", "-v", "/a:/b", "-l", "k=v", "busybox"])
    assert ns.env == ["A=1", "B=2"] and ns.volume == ["/a:/b"] and ns.label == ["k=v"]


def test_boolean_flags_take_go_bool_values_after_equals():
    assert parse(["history", "-H=false", "busybox"]).human is False
    assert parse(["history", "busybox"]).human is True
    assert parse(["attach", "--sig-proxy=false", "c"]).sig_proxy is False
    assert parse(["ps", "--all=1"]).all is True


def test_flags_may_follow_positionals_for_interspersed_commands():
    ns = parse(["rm", "a", "-f", "b"])
    assert ns.force and ns.containers == ["a", "b"]


def test_double_dash_ends_flags():
    ns = parse(["rm", "--", "-weird"])
    assert ns.containers == ["-weird"]


def test_net_is_a_hidden_alias_of_network():
    assert parse(["run", "--net=host", "busybox"]).network == "host"


def test_management_aliases_map_to_the_same_verbs():
    assert parse(["container", "ls", "-a"]).verb == "ps"
    assert parse(["container", "ps"]).verb == "ps"
    assert parse(["image", "ls"]).verb == "images"
    assert parse(["image", "rm", "x"]).verb == "rmi"
    assert parse(["image", "bootstrap", "busybox"]).verb == "image bootstrap"
    assert parse(["container", "inspect", "x"]).type == "container"
    assert parse(["volume", "ls", "-q"]).verb == "volume ls"
    assert parse(["container", "prune", "-f"]).verb == "container prune"


def test_global_flags_come_before_the_command(monkeypatch):
    monkeypatch.delenv("DOCKERLAB_ROOT", raising=False)
    ns = parse(["-D", "--root", "/tmp/r", "ps"])
    assert ns.debug and ns.root == "/tmp/r"
    monkeypatch.setenv("DOCKERLAB_ROOT", "/tmp/env")
    assert parse(["ps"]).root == "/tmp/env"


def test_unknown_flag_is_dockers_message_and_exit_125():
    err = usage_error("run", "--foo", "busybox")
    assert str(err) == "unknown flag: --foo\nSee 'dockerlab run --help'."
    assert exit_code(err) == 125


def test_unknown_shorthand_names_the_letter():
    assert str(usage_error("run", "-dz", "busybox")).startswith("unknown shorthand flag: 'z' in -z")


def test_missing_flag_value():
    assert str(usage_error("run", "--name")).startswith("flag needs an argument: --name")
    assert str(usage_error("logs", "c", "-n")).startswith("flag needs an argument: 'n' in -n")


def test_bad_int_and_bool_values_use_pflag_texts():
    assert str(usage_error("stop", "-t", "abc", "x")).splitlines()[0] == (
        'invalid argument "abc" for "-t, --time" flag: '
        'strconv.ParseInt: parsing "abc": invalid syntax'
    )
    assert str(usage_error("ps", "--no-trunc=x")).splitlines()[0] == (
        'invalid argument "x" for "--no-trunc" flag: strconv.ParseBool: parsing "x": invalid syntax'
    )


def test_bad_filter_and_env_are_flag_errors():
    assert "bad format of filter (expected name=value)" in str(usage_error("ps", "-f", "foo"))
    assert 'invalid argument "=x" for "-e, --env" flag: invalid environment variable: =x' in str(
        usage_error("run", "-e", "=x", "busybox")
    )


def test_missing_arguments_print_usage_and_exit_1_like_docker():
    code, out, err = run_cli("rm")
    assert code == 1 and out == ""
    assert err == (
        '"dockerlab rm" requires at least 1 argument.\n'
        "See 'dockerlab rm --help'.\n\n"
        "Usage:  dockerlab rm [OPTIONS] CONTAINER [CONTAINER...]\n\n"
        "Remove one or more containers\n"
    )


def test_argument_count_messages():
    assert str(usage_error("logs", "a", "b")).startswith(
        '"dockerlab logs" requires exactly 1 argument.'
    )
    assert str(usage_error("rename", "a")).startswith(
        '"dockerlab rename" requires exactly 2 arguments.'
    )
    assert str(usage_error("ps", "x")).startswith('"dockerlab ps" accepts no arguments.')
    assert str(usage_error("images", "a", "b")).startswith(
        '"dockerlab images" requires at most 1 argument.'
    )


def test_unknown_command():
    code, _, err = run_cli("foo")
    assert code == 1
    assert err == "dockerlab: 'foo' is not a dockerlab command.\nSee 'dockerlab --help'\n"


def test_usage_errors_exit_125_through_main():
    code, out, err = run_cli("run", "--foo", "busybox")
    assert (code, out) == (125, "")
    assert err == "unknown flag: --foo\nSee 'dockerlab run --help'.\n"


def test_help_prints_usage_and_options_and_exits_0():
    code, out, _ = run_cli("run", "--help")
    assert code == 0
    assert "Usage:  dockerlab run [OPTIONS] IMAGE [COMMAND] [ARG...]" in out
    assert "  -d, --detach " in out and "      --rm " in out and "  -h, --hostname string" in out


def test_dash_h_is_help_where_it_is_not_a_flag():
    with pytest.raises(ShowText) as info:
        parse(["ps", "-h"])
    assert "Usage:  dockerlab ps [OPTIONS]" in info.value.text


def test_main_help_and_version():
    code, out, _ = run_cli("--help")
    assert code == 0 and "Management Commands:" in out and "  run " in out
    assert run_cli("-v") == (0, "dockerlab version 0.1.0\n", "")
    assert run_cli()[0] == 0


def test_help_and_usage_errors_do_not_import_the_engine():
    code = (
        "import sys\n"
        "from dockerlab.cli import main\n"
        "import io\n"
        "for argv in (['--help'], ['run', '--help'], ['rm'], ['run', '--x', 'b']):\n"
        "    main(argv, out=io.StringIO(), err=io.StringIO())\n"
        "bad = [m for m in sys.modules if m.startswith('dockerlab.engine') or m == 'pyroute2']\n"
        "print(bad)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr
