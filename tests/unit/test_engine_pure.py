"""Pure parts of the engine: IDs and names, spec translation, path resolution, signals."""

from __future__ import annotations

import os

import pytest

from dockerlab.engine.basics import daemon_env
from dockerlab.engine.containers.create import compose, merge_env
from dockerlab.engine.facade import parse_signal
from dockerlab.engine.ids import check_name, new_id, random_name
from dockerlab.engine.runtime.inroot import join
from dockerlab.errors import InvalidParameter

IMAGE = {"config": {"Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"], "WorkingDir": "/w"}}


def test_ids_are_64_hex_and_never_all_digits_in_short_form():
    for _ in range(200):
        cid = new_id()
        assert len(cid) == 64 and int(cid, 16) >= 0
        assert not cid[:12].isdigit()


def test_generated_names_are_adjective_surname_and_avoid_taken():
    name = random_name(set())
    left, _, right = name.partition("_")
    assert left and right
    assert random_name({name}) != name


@pytest.mark.parametrize("bad", ["a", "-x", "has space", "é", "a/b"])
def test_invalid_names_are_refused_with_dockers_words(bad):
    with pytest.raises(InvalidParameter, match=r"only \[a-zA-Z0-9\]\[a-zA-Z0-9_.-\] are allowed"):
        check_name(bad)


def test_valid_name_loses_its_slash():
    assert check_name("/web_1.a-b") == "web_1.a-b"


def test_user_env_overrides_image_env_by_key():
    assert merge_env(["PATH=/bin", "A=1"], ["A=2", "B=3"]) == ["PATH=/bin", "A=2", "B=3"]


def test_image_cmd_used_when_none_given_and_hostname_is_short_id():
    cid = "ab" * 32
    rec = compose({"Image": "busybox"}, "sha256:x", IMAGE, cid)
    assert rec["Path"] == "sh" and rec["Args"] == []
    assert rec["Config"]["Hostname"] == cid[:12]
    assert rec["Config"]["WorkingDir"] == "/w"
    # Docker keeps HOSTNAME out of Config.Env: it is the process's (daemon_env)
    assert rec["Config"]["Env"] == ["PATH=/bin", "A=1"]
    assert "HOSTNAME=" + cid[:12] in daemon_env(
        rec["Config"]["Hostname"], rec["Config"]["Env"], False
    )


def test_entrypoint_from_command_line_drops_image_cmd():
    rec = compose({"Image": "b", "Entrypoint": ["echo"]}, "sha256:x", IMAGE, "c" * 64)
    assert (rec["Path"], rec["Args"]) == ("echo", [])


def test_empty_entrypoint_clears_and_cmd_runs():
    img = {"config": {"Entrypoint": ["/init"], "Cmd": ["x"]}}
    rec = compose({"Image": "b", "Entrypoint": [""], "Cmd": ["ls", "-l"]}, "s", img, "c" * 64)
    assert (rec["Path"], rec["Args"]) == ("ls", ["-l"])


def test_no_command_at_all_is_an_error():
    with pytest.raises(InvalidParameter, match="no command specified"):
        compose({"Image": "b"}, "s", {"config": {}}, "c" * 64)


def test_unknown_network_is_refused():
    with pytest.raises(InvalidParameter, match="network nope not found"):
        compose({"Image": "b", "HostConfig": {"NetworkMode": "nope"}}, "s", IMAGE, "c" * 64)


def test_tty_sets_term_in_the_process_env_not_in_config_env():
    rec = compose({"Image": "b", "Tty": True}, "s", IMAGE, "c" * 64)
    assert not any(e.startswith("TERM=") for e in rec["Config"]["Env"])
    assert daemon_env(rec["Config"]["Hostname"], rec["Config"]["Env"], True) == [
        "PATH=/bin",
        "HOSTNAME=cccccccccccc",
        "TERM=xterm",
        "A=1",
    ]


@pytest.mark.parametrize("value,num", [("KILL", 9), ("SIGTERM", 15), ("9", 9), ("hup", 1)])
def test_signals_by_name_or_number(value, num):
    assert parse_signal(value) == num


def test_bad_signal_is_refused():
    with pytest.raises(InvalidParameter, match="Invalid signal: NOPE"):
        parse_signal("NOPE")


def test_inroot_join_keeps_absolute_symlinks_inside_root(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc", root / "link")
    os.symlink("../../../../outside", root / "up")
    assert join(str(root), "/link/passwd") == str(root / "etc" / "passwd")
    assert join(str(root), "/up/x") == str(root / "outside" / "x")
    assert join(str(root), "/../../x") == str(root / "x")


def test_non_root_is_told_exactly_which_privileges_are_missing(monkeypatch):
    """(Rootless mode: a non-root user gets user namespaces, or is told which sysctl
    forbids them; this pinned the old "needs root" refusal.)"""
    from dockerlab.engine import rootless
    from dockerlab.engine.facade import require_privileges
    from dockerlab.errors import Forbidden

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(
        rootless, "_sysctl", lambda p: "0" if p.endswith("max_user_namespaces") else None
    )
    with pytest.raises(Forbidden, match="user.max_user_namespaces=0"):
        require_privileges()


def test_ps_command_quotes_arguments_with_spaces_as_docker_does():
    from dockerlab.engine.containers.records import _quote

    cmd = " ".join(_quote(a) for a in ["sh", "-c", "while true; do sleep 1; done"])
    assert cmd == "sh -c 'while true; do sleep 1; done'"


def test_work_names_carry_their_owner_and_a_dead_owner_means_abandoned():
    import os

    from dockerlab.engine import work

    mine = work.prefix("load") + "x1y2"
    assert work.owner(mine)[:2] == ("load", os.getpid())
    assert not work.abandoned(mine)
    assert work.owner("commit-999999-1-abc.tar") == ("commit", 999999, 1)
    assert work.abandoned("commit-999999-1-abc.tar")
    assert work.owner("load-abc123") is None and not work.abandoned("load-abc123")
    start = work.owner(mine)[2]
    assert work.abandoned(f"load-{os.getpid()}-{start + 1}-x")  # same pid, another process


def test_a_cut_json_file_is_reported_as_go_does():
    import json

    from dockerlab.engine.containers.store import json_reason

    for text in ("", '{"a": 1', '{"Name": "/x", "Co', "  "):
        try:
            json.loads(text)
        except ValueError as exc:
            assert json_reason(exc) == "unexpected end of JSON input", text
    try:
        json.loads('{"a": x}')
    except ValueError as exc:
        assert json_reason(exc).startswith("invalid JSON at offset 6")
