"""Several threads using one engine (as a Jupyter kernel does) never corrupt state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import pytest

from dockerlab import errors

pytestmark = pytest.mark.integration


def together(n, fn):
    """Run ``fn(i)`` in ``n`` threads released at once; returns results or exceptions."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def go(i):
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each thread got
            results[i] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def in_child(engine, script, timeout=15):
    """Run ``script`` (which has ``engine``, ``together`` and ``errors``) in a child process on
    the same root, so that an engine deadlock kills only the child (its flocks go with it).
    Returns what the script printed as JSON; fails on a hang."""
    prelude = textwrap.dedent(f"""
        import json, threading
        from dockerlab import errors
        from dockerlab.engine import Engine
        engine = Engine({str(engine.paths.root)!r})
        def together(n, fn):
            barrier = threading.Barrier(n)
            out = [None] * n
            def go(i):
                barrier.wait()
                try:
                    r = fn(i)
                    out[i] = None if r is None else repr(r)
                except Exception as exc:
                    out[i] = type(exc).__name__ + ": " + str(exc)
            ts = [threading.Thread(target=go, args=(i,)) for i in range(n)]
            [t.start() for t in ts]
            [t.join() for t in ts]
            return out
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", prelude + textwrap.dedent(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"engine deadlocked: the child did not finish within {timeout} s")
    assert proc.returncode == 0, err.decode()
    return json.loads(out)


def cgroup_dirs(cid):
    return [
        c
        for c in os.listdir("/sys/fs/cgroup")
        if os.path.isdir(f"/sys/fs/cgroup/{c}/dockerlab/{cid}")
    ]


def mounts_under(root):
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(str(root))]


def test_same_name_created_by_many_threads_only_one_wins(engine):
    results = together(
        6, lambda i: engine.create({"Image": "busybox", "Cmd": ["true"]}, name="contested")
    )
    wins = [r for r in results if isinstance(r, dict)]
    losses = [r for r in results if isinstance(r, errors.Conflict)]
    assert len(wins) == 1 and len(losses) == 5, results
    assert engine.inspect("contested")["Id"] == wins[0]["Id"]
    assert len(engine.container_ids()) == 1


def test_concurrent_creates_get_distinct_ids_and_names(engine):
    results = together(8, lambda i: engine.create({"Image": "busybox", "Cmd": ["true"]}))
    assert all(isinstance(r, dict) for r in results), results
    ids = {r["Id"] for r in results}
    assert len(ids) == 8
    names = {engine.inspect(cid)["Name"] for cid in ids}
    assert len(names) == 8


def test_two_threads_starting_the_same_container_start_it_once(engine):
    cid = engine.create({"Image": "busybox", "Cmd": ["sleep", "30"]})["Id"]
    results = in_child(
        engine,
        f"""
        print(json.dumps(together(2, lambda i: engine.start({cid!r}))))
    """,
    )
    assert results == [None, None], results
    st = engine.inspect(cid)["State"]
    assert st["Running"] is True
    top = engine.top(cid)["Processes"]
    assert len(top) == 1  # one container process, not two
    assert int(top[0][1]) == st["Pid"]
    monitors = [p for p in os.listdir("/proc") if p.isdigit() and _is_monitor_of(p, cid)]
    assert len(monitors) == 1


def _is_monitor_of(pid, cid):
    """A ``dockerlab-mon`` process whose child sits in the container's cgroup."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            if f.read().strip() != "dockerlab-mon":
                return False
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = f.read().split()
    except OSError:
        return False
    for child in children:
        try:
            with open(f"/proc/{child}/cgroup") as f:
                if f"/dockerlab/{cid}" in f.read():
                    return True
        except OSError:
            pass
    return False


def test_two_threads_removing_the_same_container(engine):
    cid, _ = engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, attach="")
    results = together(2, lambda i: engine.remove(cid, force=True))
    for r in results:
        assert r is None or isinstance(r, (errors.NoSuchContainer, errors.Conflict)), r
    assert cid not in engine.container_ids()
    assert cgroup_dirs(cid) == []
    assert mounts_under(engine.paths.root) == []


def _kill_leftovers(cid):
    """Kill what a racing start left in ``cid``'s cgroup (its monitor then cleans up)."""
    for controller in cgroup_dirs(cid):
        try:
            with open(f"/sys/fs/cgroup/{controller}/dockerlab/{cid}/cgroup.procs") as f:
                pids = [int(p) for p in f.read().split()]
        except OSError:
            continue
        for pid in pids:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass


def test_start_racing_remove_leaves_a_consistent_state(engine):
    problems = []
    for _ in range(8):
        cid = engine.create({"Image": "busybox", "Cmd": ["sleep", "30"]})["Id"]
        results = in_child(
            engine,
            f"""
            print(json.dumps(together(2, lambda i: engine.start({cid!r}) if i == 0
                                      else engine.remove({cid!r}, force=True))))
        """,
        )
        for r in results:
            assert r is None or r.startswith(("NoSuchContainer", "Conflict")), r
        if cid in engine.container_ids():
            engine.remove(cid, force=True)
        assert cid not in engine.container_ids()
        if cgroup_dirs(cid) or mounts_under(engine.paths.root):
            problems.append((cid[:12], cgroup_dirs(cid), mounts_under(engine.paths.root)))
            _kill_leftovers(cid)
    assert problems == []


def test_parallel_runs_each_get_their_own_output(engine):
    def job(i):
        cid, att = engine.run({"Image": "busybox", "Cmd": ["sh", "-c", f"echo job{i}"]})
        return att.collect()

    results = together(6, job)
    assert [r for r in results] == [(0, f"job{i}\n".encode(), b"") for i in range(6)]


def test_stop_and_kill_at_once(engine):
    cid, _ = engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, attach="")
    results = together(2, lambda i: engine.stop(cid, timeout=1) if i == 0 else engine.kill(cid))
    for r in results:
        assert r is None or isinstance(r, errors.Conflict), r
    st = engine.inspect(cid)["State"]
    assert st["Status"] == "exited" and st["ExitCode"] == 137
