"""logs (json-file) and attach on real containers."""

from __future__ import annotations

import re
import threading
import time

import pytest

from dockerlab import errors
from dockerlab.engine.streams import STDERR, STDOUT

pytestmark = pytest.mark.integration


def finished(engine, cmd, name=None, **body):
    cid, att = engine.run({"Image": "busybox", "Cmd": list(cmd), **body}, name=name)
    att.collect()
    return cid


def daemon(engine, cmd=("sleep", "30"), name=None, **body):
    cid, _ = engine.run({"Image": "busybox", "Cmd": list(cmd), **body}, name=name, attach="")
    return cid


def text(entries):
    return b"".join(e.data for e in entries)


# ---- logs -----------------------------------------------------------------------------------
def test_logs_keep_both_streams_after_exit(engine):
    cid = finished(engine, ["sh", "-c", "echo one; echo two >&2; echo three"])
    entries = list(engine.logs(cid))
    assert [(e.stream, e.data) for e in entries if e.stream == "stdout"] == [
        ("stdout", b"one\n"), ("stdout", b"three\n")]
    assert [(e.stream, e.data) for e in entries if e.stream == "stderr"] == [
        ("stderr", b"two\n")]


def test_logs_stream_selection(engine):
    cid = finished(engine, ["sh", "-c", "echo out; echo err >&2"])
    assert text(engine.logs(cid, stderr=False)) == b"out\n"
    assert text(engine.logs(cid, stdout=False)) == b"err\n"


def test_logs_tail(engine):
    cid = finished(engine, ["sh", "-c", "for i in 1 2 3 4 5; do echo $i; done"])
    assert text(engine.logs(cid, tail=2)) == b"4\n5\n"
    assert text(engine.logs(cid, tail=0)) == b""
    assert text(engine.logs(cid, tail=-1)) == b"1\n2\n3\n4\n5\n"


def test_logs_timestamps_are_rfc3339_nano(engine):
    cid = finished(engine, ["echo", "x"])
    (entry,) = list(engine.logs(cid))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", entry.time)


def test_logs_since_skips_older_lines(engine):
    cid = finished(engine, ["echo", "old"])
    cut = time.time() + 0.05
    time.sleep(0.1)
    engine.start(cid, attach="o").collect()
    assert text(engine.logs(cid)) == b"old\nold\n"  # the log accumulates across starts
    assert text(engine.logs(cid, since=cut)) == b"old\n"


def test_logs_of_a_line_without_newline(engine):
    cid = finished(engine, ["printf", "no newline"])
    assert text(engine.logs(cid)) == b"no newline"


def test_logs_of_never_started_container_are_empty(engine):
    cid = engine.create({"Image": "busybox", "Cmd": ["echo", "x"]})["Id"]
    assert list(engine.logs(cid)) == []


def test_logs_follow_streams_until_the_container_exits(engine):
    cid = daemon(engine, ["sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.2; done"])
    t = time.monotonic()
    got = text(engine.logs(cid, follow=True))
    assert got == b"1\n2\n3\n"
    assert time.monotonic() - t < 10


def test_logs_of_detached_container_are_recorded(engine):
    cid = daemon(engine, ["sh", "-c", "echo detached; sleep 30"])
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not text(engine.logs(cid)):
        time.sleep(0.05)
    assert text(engine.logs(cid)) == b"detached\n"


def test_logs_of_unknown_container(engine):
    with pytest.raises(errors.NoSuchContainer):
        list(engine.logs("nope-nope"))


# ---- attach ---------------------------------------------------------------------------------
def test_attach_sees_later_output_and_the_exit(engine):
    cid = daemon(engine, ["sh", "-c", "sleep 0.5; echo late; echo bad >&2; exit 6"])
    att = engine.attach(cid)
    code, out, err = att.collect()
    assert (code, out, err) == (6, b"late\n", b"bad\n")


def test_attach_with_stdin(engine):
    cid = daemon(engine, ["sh", "-c", "read line; echo got:$line"], OpenStdin=True)
    att = engine.attach(cid, stdin=True)
    att.write(b"hello\n")
    assert att.collect() == (0, b"got:hello\n", b"")


def test_two_attachments_both_see_output(engine):
    cid = daemon(engine, ["sh", "-c", "sleep 0.5; echo shared"])
    a, b = engine.attach(cid), engine.attach(cid)
    results = {}
    ta = threading.Thread(target=lambda: results.update(a=a.collect()))
    ta.start()
    results["b"] = b.collect()
    ta.join(10)
    assert results["a"] == results["b"] == (0, b"shared\n", b"")


def test_attach_streams_are_multiplexed_in_order(engine):
    cid, att = engine.run({"Image": "busybox",
                           "Cmd": ["sh", "-c", "echo a; sleep 0.1; echo b >&2; sleep 0.1; "
                                               "echo c"]})
    frames = []
    while (item := att.read()) is not None:
        frames.append(item)
    assert frames == [(STDOUT, b"a\n"), (STDERR, b"b\n"), (STDOUT, b"c\n")]
    assert att.exit["ExitCode"] == 0


def test_closing_stdin_with_stdin_once_ends_input(engine):
    cid = engine.create({"Image": "busybox", "Cmd": ["wc", "-c"], "OpenStdin": True,
                         "StdinOnce": True, "AttachStdin": True})["Id"]
    att = engine.start(cid, attach="ioe")
    att.write(b"12345")
    att.close_stdin()
    code, out, _ = att.collect()
    assert code == 0 and out.strip() == b"5"


def test_attach_to_stopped_container_is_conflict(engine):
    cid = finished(engine, ["true"])
    with pytest.raises(errors.Conflict) as exc:
        engine.attach(cid)
    assert "You cannot attach to a stopped container, start it first" in str(exc.value)


def test_attach_to_paused_container_is_conflict(engine):
    cid = daemon(engine)
    engine.pause(cid)
    with pytest.raises(errors.Conflict) as exc:
        engine.attach(cid)
    assert "You cannot attach to a paused container, unpause it first" in str(exc.value)


def test_tty_container_output_comes_through_the_terminal(engine):
    cid, att = engine.run({"Image": "busybox", "Tty": True,
                           "Cmd": ["sh", "-c", "[ -t 1 ] && echo tty; echo $TERM"]})
    code, out, err = att.collect()
    assert code == 0
    assert out.replace(b"\r\n", b"\n") == b"tty\nxterm\n"
    assert err == b""
