"""logs (json-file) and attach on real containers."""

from __future__ import annotations

import os
import re
import threading
import time

import pytest
from helpers import daemon, wait_until

from dockerlab import errors
from dockerlab.engine.runtime.streams import STDERR, STDOUT

pytestmark = pytest.mark.integration


def finished(engine, cmd, name=None, **body):
    cid, att = engine.run({"Image": "busybox", "Cmd": list(cmd), **body}, name=name)
    att.collect()
    return cid


def text(entries):
    return b"".join(e.data for e in entries)


# ---- logs -----------------------------------------------------------------------------------
def test_logs_keep_both_streams_after_exit(engine):
    cid = finished(engine, ["sh", "-c", "echo one; echo two >&2; echo three"])
    entries = list(engine.logs(cid))
    assert [(e.stream, e.data) for e in entries if e.stream == "stdout"] == [
        ("stdout", b"one\n"),
        ("stdout", b"three\n"),
    ]
    assert [(e.stream, e.data) for e in entries if e.stream == "stderr"] == [("stderr", b"two\n")]


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
    time.sleep(0.1)  # time passes: the second run's line is logged after `cut`
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
    wait_until(lambda: text(engine.logs(cid)))
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
    cid, att = engine.run(
        {
            "Image": "busybox",
            "Cmd": ["sh", "-c", "echo a; sleep 0.1; echo b >&2; sleep 0.1; echo c"],
        }
    )
    frames = []
    while (item := att.read()) is not None:
        frames.append(item)
    assert frames == [(STDOUT, b"a\n"), (STDERR, b"b\n"), (STDOUT, b"c\n")]
    assert att.exit["ExitCode"] == 0


def test_closing_stdin_with_stdin_once_ends_input(engine):
    cid = engine.create(
        {
            "Image": "busybox",
            "Cmd": ["wc", "-c"],
            "OpenStdin": True,
            "StdinOnce": True,
            "AttachStdin": True,
        }
    )["Id"]
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
    cid, att = engine.run(
        {"Image": "busybox", "Tty": True, "Cmd": ["sh", "-c", "[ -t 1 ] && echo tty; echo $TERM"]}
    )
    code, out, err = att.collect()
    assert code == 0
    assert out.replace(b"\r\n", b"\n") == b"tty\nxterm\n"
    assert err == b""


# ---- logs --tail reads from the end ---------------------------------------------------------
_T0 = 1_700_000_000  # 2023-11-14T22:13:20Z: the stamps of the records written below


def _stamp(i: int) -> str:
    """The time of record i: one millisecond apart, in Docker's json-file layout."""
    ms = _T0 * 1000 + i
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}000000Z"


def write_json_log(path: str, lines: int, mode: str = "a") -> None:
    """Append ``lines`` stdout records ("line I") in Docker's json-file format, fast."""
    with open(path, mode) as f:
        for lo in range(0, lines, 50_000):
            f.write(
                "".join(
                    f'{{"log":"line {i} {"x" * 40}\\n","stream":"stdout","time":"{_stamp(i)}"}}\n'
                    for i in range(lo, min(lo + 50_000, lines))
                )
            )


BIG = 540_000  # records: about 66 MB of log


def rchar() -> int:
    with open("/proc/self/io") as f:
        return int(next(line for line in f if line.startswith("rchar:")).split()[1])


def test_logs_tail_of_a_big_log_reads_only_its_end(engine):
    cid = finished(engine, ["true"])
    path = engine.inspect(cid)["LogPath"]
    write_json_log(path, BIG)
    assert os.path.getsize(path) > 60 << 20
    before = rchar()
    got = list(engine.logs(cid, tail=2))
    spent = rchar() - before
    assert [e.data for e in got] == [f"line {i} {'x' * 40}\n".encode() for i in (BIG - 2, BIG - 1)]
    assert got[-1].time == _stamp(BIG - 1)
    assert spent < 1 << 20, f"read {spent} bytes of a {os.path.getsize(path)}-byte log"


def test_logs_tail_counts_records_then_since_and_until_filter_them(engine):
    """Docker's json-file reader: the last N records, then --since/--until on those."""
    cid = finished(engine, ["true"])
    write_json_log(engine.inspect(cid)["LogPath"], 1000, mode="w")

    def numbers(**kw):
        return [int(e.data.split()[1]) for e in engine.logs(cid, **kw)]

    at = lambda i: _T0 + i / 1000  # noqa: E731 - the time of record i, as a float
    assert numbers(tail=3) == [997, 998, 999]
    assert numbers(tail=5, since=at(997)) == [997, 998, 999]
    assert numbers(tail=5, until=at(996)) == [995, 996]
    assert numbers(tail=5, since=at(500)) == [995, 996, 997, 998, 999]
    assert numbers(since=at(998)) == [998, 999]
    assert numbers(until=at(2)) == [0, 1, 2]
    assert numbers(since=at(10), until=at(12)) == [10, 11, 12]
    assert numbers(tail=2000) == list(range(1000))
    assert numbers(tail=0) == []


def test_logs_tail_leaves_out_a_half_written_record(engine):
    cid = finished(engine, ["true"])
    path = engine.inspect(cid)["LogPath"]
    write_json_log(path, 3, mode="w")
    with open(path, "a") as f:
        f.write('{"log":"cut')
    assert [e.data for e in engine.logs(cid, tail=1)] == [f"line 2 {'x' * 40}\n".encode()]


def test_logs_tail_with_follow_goes_on_from_the_end(engine):
    cid = daemon(engine, ["sh", "-c", "echo 1; echo 2; echo 3; read x; echo 4"], OpenStdin=True)
    wait_until(lambda: text(engine.logs(cid)) == b"1\n2\n3\n")
    att = engine.attach(cid, stdin=True)
    got = []
    for entry in engine.logs(cid, follow=True, tail=2):
        got.append(entry.data)
        if len(got) == 2:
            att.write(b"go\n")
    assert got == [b"2\n", b"3\n", b"4\n"]


def cli_reading(engine, *args: str, limit: int) -> tuple[int, bytes, int]:
    """Run `dockerlab ARGS`; (exit code, stdout, bytes it read). The child is killed as soon
    as it has read ``limit`` bytes, so a reader that would go through a whole log (or never
    stop) fails fast instead of hanging the test."""
    import subprocess
    import sys

    env = {**os.environ, "DOCKERLAB_ROOT": engine.paths.root}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dockerlab", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    out = bytearray()
    os.set_blocking(proc.stdout.fileno(), False)
    read = 0
    deadline = time.monotonic() + 120  # a guard only: the byte limit is what fails first
    while time.monotonic() < deadline:
        out += proc.stdout.read() or b""
        # WNOWAIT leaves the child a zombie whose /proc/PID/io still holds its totals
        done = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        with open(f"/proc/{proc.pid}/io") as f:
            read = int(next(line for line in f if line.startswith("rchar:")).split()[1])
        if done is not None or read > limit:
            break
        time.sleep(0.02)
    else:
        proc.kill()
    if read > limit:
        proc.kill()
    proc.wait()
    os.set_blocking(proc.stdout.fileno(), True)
    out += proc.stdout.read()
    return proc.returncode, bytes(out), read


def test_cli_logs_tail_of_a_big_stopped_log_reads_a_bounded_amount(engine):
    cid = finished(engine, ["true"], name="big")
    write_json_log(engine.inspect(cid)["LogPath"], BIG)
    limit = 24 << 20  # python, its modules and dockerlab's: a few MB; the log is 66 MB
    code, out, read = cli_reading(engine, "logs", "--tail", "2", "-t", "big", limit=limit)
    assert read < limit, f"logs --tail 2 read {read} bytes"
    assert code == 0
    assert out.decode().splitlines() == [
        f"{_stamp(i)[:23]}000000Z line {i} {'x' * 40}" for i in (BIG - 2, BIG - 1)
    ]


def test_cli_logs_tail_of_a_flooding_container_returns(engine):
    """The log grows faster than it can be read: without -f, logs stops at what was there."""
    cid = engine.create({"Image": "busybox", "Cmd": ["yes", "flood"]}, name="flood")["Id"]
    path = engine.inspect(cid)["LogPath"]
    write_json_log(path, BIG, mode="w")  # what it printed before: reading it all is the bug
    written = os.path.getsize(path)
    engine.start(cid)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and os.path.getsize(path) < written + (1 << 20):
        time.sleep(0.02)
    limit = 24 << 20
    code, out, read = cli_reading(engine, "logs", "--tail", "2", "flood", limit=limit)
    assert read < limit, f"logs --tail 2 read {read} bytes"
    assert code == 0 and out == b"flood\nflood\n"
