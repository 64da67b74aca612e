"""Bytes that are not UTF-8 in a command, ``--entrypoint`` or ``-u``: Docker's results.

Docker's client sends its request as Go JSON, which turns each such byte into U+FFFD, so
``docker run busybox $'\\xff'`` looks for a command named "\ufffd" (127) and ``-u $'\\xff'``
for a user "\ufffd" (125). Before, an encode error escaped the container's error handler and
the container "exited 0" having run nothing. Expected outputs were taken from Docker 20.10.24.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess

import helpers
import pytest

from dockerlab import errors

pytestmark = pytest.mark.integration

FFFD = "\ufffd".encode()  # b"\xef\xbf\xbd"
NOT_FOUND = b'exec: "' + FFFD + b'": executable file not found in $PATH'


@pytest.fixture
def cli(engine):
    return functools.partial(helpers.cli, engine.paths.root)


def _clean(r: subprocess.CompletedProcess) -> None:
    assert b"Traceback" not in r.stderr and b"Errno" not in r.stderr


# ---- run ------------------------------------------------------------------------------------
def test_run_of_a_command_in_bytes_is_127_not_found(cli):
    r = cli("run", "--rm", "busybox", b"\xff")
    assert r.returncode == 127, r.stderr
    assert NOT_FOUND in r.stderr
    _clean(r)


def test_run_with_an_entrypoint_in_bytes_is_127_not_found(cli):
    r = cli("run", "--rm", "--entrypoint", b"\xff", "busybox")
    assert r.returncode == 127, r.stderr
    assert NOT_FOUND in r.stderr
    _clean(r)


def test_run_as_a_user_in_bytes_is_125_unable_to_find_user(cli):
    r = cli("run", "--rm", "-u", b"\xff", "busybox", "true")
    assert r.returncode == 125, r.stderr
    assert r.stderr.startswith(
        b"dockerlab: Error response from daemon: unable to find user "
        + FFFD
        + b": no matching entries in passwd file.\n"
    )
    _clean(r)


def test_arguments_in_bytes_reach_the_command_as_docker_sends_them(cli):
    r = cli("run", "--rm", "busybox", "echo", b"a\xffb")
    assert (r.returncode, r.stdout) == (0, b"a" + FFFD + b"b\n")


# ---- create + start ---------------------------------------------------------------------------
def test_create_then_start_of_a_command_in_bytes(cli, engine):
    r = cli("create", "--name", "bad", "busybox", b"\xff")
    assert r.returncode == 0, r.stderr
    r = cli("start", "bad")
    assert r.returncode == 1
    assert NOT_FOUND in r.stderr and r.stderr.endswith(b"Error: failed to start containers: bad\n")
    _clean(r)
    r = cli("start", "-a", "bad")
    assert r.returncode == 1 and NOT_FOUND in r.stderr
    _clean(r)
    state = engine.inspect("bad")["State"]
    assert (state["Status"], state["ExitCode"]) == ("created", 127)


def test_create_then_start_as_a_user_in_bytes(cli):
    assert cli("create", "--name", "bad", "-u", b"\xff", "busybox", "true").returncode == 0
    r = cli("start", "bad")
    assert r.returncode == 1
    assert r.stderr == (
        b"Error response from daemon: unable to find user "
        + FFFD
        + b": no matching entries in passwd file\n"
        b"Error: failed to start containers: bad\n"
    )


# ---- exec -----------------------------------------------------------------------------------
def test_exec_of_bytes_is_126_with_dockers_messages(cli, engine):
    cid, _ = engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, attach="")
    r = cli("exec", cid, b"\xff")
    assert r.returncode == 126  # Docker 20.10: the runtime's error in the exec's stdout
    assert r.stdout == (
        b"OCI runtime exec failed: exec failed: unable to start container "
        b"process: " + NOT_FOUND + b": unknown\r\n"
    )
    r = cli("exec", "-u", b"\xff", cid, "true")
    assert r.returncode == 126
    assert r.stdout == b"unable to find user " + FFFD + b": no matching entries in passwd file\r\n"
    r = cli("exec", "-d", cid, b"\xff")  # detached: the daemon's error, exit code 1
    assert r.returncode == 1
    assert r.stderr == (
        b"Error response from daemon: OCI runtime exec failed: exec failed: "
        b"unable to start container process: " + NOT_FOUND + b": unknown\n"
    )
    r = cli("exec", "-e", b"X=\xff", cid, "sh", "-c", b"echo $X \xfe")
    assert (r.returncode, r.stdout) == (0, FFFD + b" " + FFFD + b"\n")


# ---- the engine API -------------------------------------------------------------------------
def test_engine_run_of_surrogates_raises_command_not_found(engine):
    with pytest.raises(errors.CommandNotFound) as exc:
        engine.run({"Image": "busybox", "Cmd": ["\udcff"]}, name="bad", attach="")
    assert 'exec: "\ufffd": executable file not found in $PATH' in str(exc.value)
    assert engine.inspect("bad")["State"]["ExitCode"] == 127
    with pytest.raises(errors.ContainerStartError) as exc:
        engine.run({"Image": "busybox", "Cmd": ["true"], "User": "\udcff"}, attach="")
    assert str(exc.value) == "unable to find user \ufffd: no matching entries in passwd file"


def test_engine_exec_of_surrogates_is_126(engine):
    cid, _ = engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, attach="")
    proc = engine.exec(
        cid, ["\udcff"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 126 and NOT_FOUND in out


def test_a_stored_command_that_cannot_be_encoded_still_fails_with_its_code(engine):
    # A record written before the engine made strings valid (or by hand): the container's
    # first process must report the failure, never return into the monitor and "exit 0".
    cid = engine.create({"Image": "busybox", "Cmd": ["true"]}, name="old")["Id"]
    path = os.path.join(engine.paths.containers, cid, "config.v2.json")
    with open(path) as f:
        record = json.load(f)
    record["Path"], record["Args"] = "\udcff", ["\ud800"]
    with open(path, "w") as f:
        json.dump(record, f)
    with pytest.raises(errors.CommandNotFound):
        engine.start(cid)
    assert engine.inspect(cid)["State"]["ExitCode"] == 127
