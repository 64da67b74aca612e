"""Non-terminal stdin, as a learner redirects it: `run -i … < file`, `< /dev/null`, pipes,
`start -ai` and `attach` (issue 9). epoll refuses a regular file and /dev/null, and a pipe
bigger than the kernel's buffers once deadlocked the client, the monitor and the container."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

from helpers import cli, cli_env

TIMEOUT = 60  # a hang is the bug: each call is bounded


def dl(root: str, *args: str, stdin=None, input: bytes | None = None):
    """The CLI with its stdin redirected (a file object, /dev/null, or a pipe fed `input`)."""
    return subprocess.run(
        [sys.executable, "-m", "dockerlab", *args],
        env=cli_env(root),
        stdin=stdin,
        input=input,
        capture_output=True,
        timeout=TIMEOUT,
    )


def test_run_i_streams_a_regular_file_then_eof(engine, tmp_path):
    src = tmp_path / "hostfile.txt"
    src.write_bytes(b"host file\n")
    with open(src, "rb") as f:
        r = dl(engine.paths.root, "run", "--rm", "-i", "busybox", "cat", stdin=f)
    assert (r.returncode, r.stdout, r.stderr) == (0, b"host file\n", b"")


def test_run_i_from_dev_null_gives_the_command_eof(engine):
    with open(os.devnull, "rb") as f:
        r = dl(engine.paths.root, "run", "--rm", "-i", "busybox", "wc", "-c", stdin=f)
    assert (r.returncode, r.stdout.split(), r.stderr) == (0, [b"0"], b"")


def test_megabytes_through_run_i_arrive_whole_from_a_file_and_a_pipe(engine, tmp_path):
    data = os.urandom(3 << 20)  # random bytes hold ctrl-p ctrl-q: no detach without a TTY
    src = tmp_path / "big"
    src.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    with open(src, "rb") as f:
        r = dl(engine.paths.root, "run", "--rm", "-i", "busybox", "cat", stdin=f)
    assert r.returncode == 0 and hashlib.sha256(r.stdout).hexdigest() == digest, r.stderr
    r = dl(engine.paths.root, "run", "--rm", "-i", "busybox", "cat", input=data)
    assert r.returncode == 0 and hashlib.sha256(r.stdout).hexdigest() == digest, r.stderr


def test_create_i_is_stdin_once_so_start_ai_ends_at_a_pipes_eof(engine):
    root = engine.paths.root
    assert cli(root, "create", "-i", "--name", "c5", "busybox", "cat").returncode == 0
    fmt = "{{.Config.OpenStdin}} {{.Config.StdinOnce}} {{.Config.AttachStdin}}"
    assert cli(root, "inspect", "-f", fmt, "c5").stdout == b"true true true\n"
    r = dl(root, "start", "-ai", "c5", input=b"from-stdin\n")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"from-stdin\n", b"")
    assert engine.inspect("c5")["State"]["Status"] == "exited"


def test_start_ai_from_dev_null_and_from_a_file(engine, tmp_path):
    root = engine.paths.root
    assert cli(root, "create", "-i", "--name", "c6", "busybox", "wc", "-c").returncode == 0
    with open(os.devnull, "rb") as f:
        r = dl(root, "start", "-ai", "c6", stdin=f)
    assert (r.returncode, r.stdout.split(), r.stderr) == (0, [b"0"], b"")
    src = tmp_path / "in.txt"
    src.write_bytes(b"12345\n")
    assert cli(root, "create", "-i", "--name", "c7", "busybox", "cat").returncode == 0
    with open(src, "rb") as f:
        r = dl(root, "start", "-ai", "c7", stdin=f)
    assert (r.returncode, r.stdout, r.stderr) == (0, b"12345\n", b"")


def test_attach_streams_a_file_to_a_stdin_once_container(engine, tmp_path):
    cid, _ = engine.run(
        {"Image": "busybox", "Cmd": ["cat"], "OpenStdin": True, "StdinOnce": True},
        name="att",
        attach="",
    )
    src = tmp_path / "in.txt"
    src.write_bytes(b"through attach\n")
    with open(src, "rb") as f:
        r = dl(engine.paths.root, "attach", "att", stdin=f)
    assert (r.returncode, r.stdout, r.stderr) == (0, b"through attach\n", b"")
    assert engine.inspect(cid)["State"]["Status"] == "exited"


def test_exec_i_streams_a_file_dev_null_and_megabytes_from_a_pipe(engine, tmp_path):
    root = engine.paths.root
    engine.run({"Image": "busybox", "Cmd": ["sleep", "60"]}, name="ex", attach="")
    src = tmp_path / "in.txt"
    src.write_bytes(b"into exec\n")
    with open(src, "rb") as f:
        r = dl(root, "exec", "-i", "ex", "cat", stdin=f)
    assert (r.returncode, r.stdout, r.stderr) == (0, b"into exec\n", b"")
    with open(os.devnull, "rb") as f:
        r = dl(root, "exec", "-i", "ex", "wc", "-c", stdin=f)
    assert (r.returncode, r.stdout.split()) == (0, [b"0"])
    # more than the pipes hold both ways: the helper once blocked writing the command's
    # input while the command blocked writing its output to the helper
    data = os.urandom(3 << 20)
    r = dl(root, "exec", "-i", "ex", "cat", input=data)
    assert r.returncode == 0 and hashlib.sha256(r.stdout).digest() == hashlib.sha256(data).digest()
