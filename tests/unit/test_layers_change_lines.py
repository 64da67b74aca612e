"""Dockerfile lines given to commit/import with -c, and Docker's merge with the container."""

from __future__ import annotations

import pytest

from dockerlab.engine.images.commit import apply_changes, merge, parse_change
from dockerlab.errors import InvalidParameter


def test_instructions_are_case_insensitive():
    assert parse_change("env A=1") == ("env", "A=1")
    assert parse_change('  CMD  ["sh"]') == ("cmd", '["sh"]')


@pytest.mark.parametrize("line", ["RUN echo hi", "FROM busybox", "COPY a b", "FOO x"])
def test_instructions_commit_cannot_apply_are_refused_with_dockers_words(line):
    with pytest.raises(InvalidParameter) as exc:
        apply_changes([line])
    assert str(exc.value) == f"{line.split()[0].lower()} is not a valid change command"


def test_cmd_and_entrypoint_take_exec_or_shell_form():
    assert apply_changes(['CMD ["ls", "-l"]'])["Cmd"] == ["ls", "-l"]
    assert apply_changes(["CMD echo hi"])["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    assert apply_changes(["ENTRYPOINT top -b"])["Entrypoint"] == ["/bin/sh", "-c", "top -b"]


def test_entrypoint_clears_a_cmd_not_set_before_it():
    assert apply_changes(['ENTRYPOINT ["x"]'], {"Cmd": ["sh"]})["Cmd"] is None
    cfg = apply_changes(['CMD ["a"]', 'ENTRYPOINT ["x"]'], {"Cmd": ["sh"]})
    assert cfg["Cmd"] == ["a"] and cfg["Entrypoint"] == ["x"]


def test_env_label_expose_volume_user_workdir_stopsignal():
    cfg = apply_changes(
        [
            'ENV A=1 B="two words"',
            "ENV C 3 4",
            "LABEL k=v",
            "EXPOSE 80 53/udp",
            'VOLUME ["/data"]',
            "VOLUME /a /b",
            "USER nobody",
            "WORKDIR /srv",
            "WORKDIR app",
            "STOPSIGNAL SIGINT",
        ],
        {"Env": ["A=0", "PATH=/bin"]},
    )
    assert cfg["Env"] == ["PATH=/bin", "A=1", "B=two words", "C=3 4"]
    assert cfg["Labels"] == {"k": "v"}
    assert cfg["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert cfg["Volumes"] == {"/data": {}, "/a": {}, "/b": {}}
    assert cfg["User"] == "nobody"
    assert cfg["WorkingDir"] == "/srv/app"
    assert cfg["StopSignal"] == "SIGINT"


def test_a_bad_stop_signal_or_port_is_refused():
    with pytest.raises(InvalidParameter):
        apply_changes(["STOPSIGNAL NOPE"])
    with pytest.raises(InvalidParameter):
        apply_changes(["EXPOSE http"])


def test_merge_keeps_the_containers_command_and_env_under_the_changes():
    container = {
        "Cmd": ["sh", "-c", "x"],
        "Env": ["PATH=/bin", "A=0"],
        "User": "u",
        "WorkingDir": "/w",
        "Labels": {"a": "1"},
        "Hostname": "abc",
    }
    out = merge(apply_changes(["ENV A=1", "LABEL b=2"]), container)
    assert out == {
        "Cmd": ["sh", "-c", "x"],
        "Env": ["A=1", "PATH=/bin"],
        "User": "u",
        "WorkingDir": "/w",
        "Labels": {"a": "1", "b": "2"},
    }


def test_merge_takes_a_new_cmd_instead_of_the_containers():
    out = merge(apply_changes(['CMD ["ls"]']), {"Cmd": ["sh"], "Entrypoint": None})
    assert out["Cmd"] == ["ls"] and "Entrypoint" not in out
