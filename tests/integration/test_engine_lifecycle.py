"""stop / kill / pause / unpause / restart / wait on real containers, with Docker's codes."""

from __future__ import annotations

import os
import threading
import time

import pytest
from helpers import daemon, pid_gone, ready_sh, wait_ready, wait_until

from dockerlab import errors

pytestmark = pytest.mark.integration

SH_LOOP = ["sh", "-c", "while true; do sleep 0.1; done"]  # PID 1 with no TERM handler
TRAP_TERM = ready_sh("trap 'exit 0' TERM")


def read_or_none(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def state(engine, cid):
    return engine.inspect(cid)["State"]


def freezer_state(cid):
    with open(f"/sys/fs/cgroup/freezer/dockerlab/{cid}/freezer.state") as f:
        return f.read().strip()


# ---- stop -----------------------------------------------------------------------------------
def test_stop_sh_loop_as_pid1_takes_the_timeout_then_exit_137(engine):
    cid = daemon(engine, SH_LOOP)
    t = time.monotonic()
    engine.stop(cid, timeout=1)
    took = time.monotonic() - t
    assert took >= 0.9, "PID 1 without a TERM handler must ignore SIGTERM"
    assert took < 5
    st = state(engine, cid)
    assert st["Status"] == "exited" and st["ExitCode"] == 137 and st["Running"] is False


def test_stop_sleep_as_pid1_also_needs_sigkill(engine):
    cid = daemon(engine)
    t = time.monotonic()
    engine.stop(cid, timeout=1)
    assert time.monotonic() - t >= 0.9
    assert state(engine, cid)["ExitCode"] == 137


def test_stop_container_that_traps_term_exits_at_once_with_its_code(engine):
    cid = daemon(engine, TRAP_TERM)
    wait_ready(engine, cid)  # sh has installed the trap
    t = time.monotonic()
    engine.stop(cid, timeout=10)
    assert time.monotonic() - t < 3
    assert state(engine, cid)["ExitCode"] == 0


def test_stop_with_init_forwards_term_and_exits_143(engine):
    cid = daemon(engine, ["sleep", "30"], HostConfig={"Init": True})
    # tini handles signals once it has started the command
    wait_until(lambda: len(engine.top(cid)["Processes"]) >= 2, interval=0.01)
    t = time.monotonic()
    engine.stop(cid, timeout=10)
    assert time.monotonic() - t < 3
    assert state(engine, cid)["ExitCode"] == 143


def test_stop_with_zero_timeout_kills_at_once(engine):
    cid = daemon(engine, SH_LOOP)
    t = time.monotonic()
    engine.stop(cid, timeout=0)
    assert time.monotonic() - t < 2
    st = state(engine, cid)
    assert st["Status"] == "exited" and st["ExitCode"] == 137


def test_stop_uses_the_containers_stop_signal(engine):
    cid = daemon(engine, ready_sh("trap 'exit 5' USR1"), StopSignal="SIGUSR1")
    wait_ready(engine, cid)
    t = time.monotonic()
    engine.stop(cid, timeout=10)
    assert time.monotonic() - t < 3
    assert state(engine, cid)["ExitCode"] == 5


def test_stop_with_explicit_signal_argument(engine):
    cid = daemon(engine, ready_sh("trap 'exit 6' HUP"))
    wait_ready(engine, cid)
    engine.stop(cid, timeout=10, signal="HUP")
    assert state(engine, cid)["ExitCode"] == 6


def test_stop_uses_stop_timeout_from_config(engine):
    cid = daemon(engine, SH_LOOP, StopTimeout=1)
    t = time.monotonic()
    engine.stop(cid)  # no -t: the container's StopTimeout (1 s), not 10 s
    assert 0.9 <= time.monotonic() - t < 5
    assert state(engine, cid)["ExitCode"] == 137


def test_stop_of_stopped_or_created_container_is_not_an_error(engine):
    cid = daemon(engine)
    engine.stop(cid, timeout=1)
    engine.stop(cid, timeout=1)
    created = engine.create({"Image": "busybox", "Cmd": ["true"]})["Id"]
    engine.stop(created)
    assert state(engine, created)["Status"] == "created"


def test_stop_of_paused_container_stops_it(engine):
    cid = daemon(engine)
    engine.pause(cid)
    engine.stop(cid, timeout=1)
    st = state(engine, cid)
    assert st["Status"] == "exited" and st["Paused"] is False
    assert st["ExitCode"] == 137


def test_stop_kills_every_process_of_the_container(engine):
    cid = daemon(engine, ["sh", "-c", "sleep 100 & sleep 101 & wait"])
    wait_until(lambda: len(engine.top(cid)["Processes"]) == 3)
    pids = [int(p[1]) for p in engine.top(cid)["Processes"]]
    assert len(pids) == 3
    engine.stop(cid, timeout=1)
    wait_until(lambda: all(pid_gone(p) for p in pids))
    assert not [p for p in pids if os.path.exists(f"/proc/{p}")]


# ---- kill -----------------------------------------------------------------------------------
def test_kill_defaults_to_sigkill_exit_137(engine):
    cid = daemon(engine)
    engine.kill(cid)
    assert engine.wait(cid)["StatusCode"] == 137
    assert state(engine, cid)["Status"] == "exited"


def test_kill_with_signal_reaches_the_handler(engine):
    cid = daemon(engine, ready_sh("trap 'exit 9' USR2"))
    wait_ready(engine, cid)
    engine.kill(cid, "SIGUSR2")
    assert engine.wait(cid)["StatusCode"] == 9


def test_kill_accepts_names_and_numbers(engine):
    cid = daemon(engine, ready_sh("trap 'exit 3' TERM"))
    wait_ready(engine, cid)
    engine.kill(cid, 15)
    assert engine.wait(cid)["StatusCode"] == 3
    cid = daemon(engine)
    engine.kill(cid, "kill")
    assert engine.wait(cid)["StatusCode"] == 137


def test_kill_of_not_running_container_is_conflict(engine):
    cid = engine.create({"Image": "busybox", "Cmd": ["true"]})["Id"]
    with pytest.raises(errors.Conflict) as exc:
        engine.kill(cid)
    assert "is not running" in str(exc.value)


def test_kill_invalid_signal_is_invalid_parameter_and_container_runs_on(engine):
    cid = daemon(engine)
    with pytest.raises(errors.InvalidParameter) as exc:
        engine.kill(cid, "NOTASIGNAL")
    assert "Invalid signal: NOTASIGNAL" in str(exc.value)
    assert state(engine, cid)["Running"] is True


def test_kill_of_paused_container_with_sigkill(engine):
    cid = daemon(engine)
    engine.pause(cid)
    engine.kill(cid)
    assert engine.wait(cid)["StatusCode"] == 137
    st = state(engine, cid)
    assert st["Status"] == "exited" and st["Paused"] is False


# ---- pause / unpause ------------------------------------------------------------------------
def test_pause_freezes_the_cgroup_and_unpause_thaws_it(engine):
    cid = daemon(engine)
    engine.pause(cid)
    assert freezer_state(cid) == "FROZEN"
    st = state(engine, cid)
    assert st["Status"] == "paused" and st["Paused"] is True and st["Running"] is True
    engine.unpause(cid)
    assert freezer_state(cid) == "THAWED"
    st = state(engine, cid)
    assert st["Status"] == "running" and st["Paused"] is False


def test_paused_container_makes_no_progress(engine):
    cid = daemon(
        engine, ["sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /n; sleep 0.05; done"]
    )
    upper = engine.inspect(cid)["GraphDriver"]["Data"]["UpperDir"]

    def counter():
        try:
            with open(os.path.join(upper, "n")) as f:
                return int(f.read().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    wait_until(lambda: counter() >= 2)
    engine.pause(cid)
    wait_until(lambda: freezer_state(cid) == "FROZEN")
    frozen_at = counter()
    time.sleep(0.5)  # time passes; a frozen container must not use it
    assert counter() == frozen_at
    engine.unpause(cid)
    wait_until(lambda: counter() > frozen_at)
    assert counter() > frozen_at


def test_pause_twice_and_unpause_of_running_are_conflicts(engine):
    cid = daemon(engine)
    engine.pause(cid)
    with pytest.raises(errors.Conflict) as exc:
        engine.pause(cid)
    assert "is already paused" in str(exc.value)
    engine.unpause(cid)
    with pytest.raises(errors.Conflict) as exc:
        engine.unpause(cid)
    assert "is not paused" in str(exc.value)


def test_pause_of_stopped_container_is_conflict(engine):
    cid = engine.create({"Image": "busybox", "Cmd": ["true"]})["Id"]
    with pytest.raises(errors.Conflict) as exc:
        engine.pause(cid)
    assert "is not running" in str(exc.value)


def test_start_of_paused_container_is_conflict(engine):
    cid = daemon(engine)
    engine.pause(cid)
    with pytest.raises(errors.Conflict) as exc:
        engine.start(cid)
    assert "cannot start a paused container, try unpause instead" in str(exc.value)


# ---- restart --------------------------------------------------------------------------------
def test_restart_gives_a_new_process_and_start_time(engine):
    cid = daemon(engine)
    before = state(engine, cid)
    time.sleep(0.05)  # time passes, so the new StartedAt is later
    engine.restart(cid, timeout=1)
    after = state(engine, cid)
    assert after["Running"] is True and after["Status"] == "running"
    assert after["Pid"] != before["Pid"]
    assert after["StartedAt"] > before["StartedAt"]
    assert not os.path.exists(f"/proc/{before['Pid']}")


def test_restart_of_exited_container_starts_it(engine):
    cid, att = engine.run(
        {"Image": "busybox", "Cmd": ["sh", "-c", "echo run >> /log; sleep 30"]}, attach=""
    )
    upper = engine.inspect(cid)["GraphDriver"]["Data"]["UpperDir"]
    # the first run has written its line (not only created the file) before we kill it
    wait_until(lambda: read_or_none(os.path.join(upper, "log")) == "run\n", interval=0.01)
    engine.kill(cid)
    engine.wait(cid)
    engine.restart(cid, timeout=1)
    assert state(engine, cid)["Running"] is True
    upper = engine.inspect(cid)["GraphDriver"]["Data"]["UpperDir"]
    wait_until(lambda: read_or_none(os.path.join(upper, "log")) == "run\nrun\n")
    with open(os.path.join(upper, "log")) as f:
        assert f.read() == "run\nrun\n"


# ---- wait -----------------------------------------------------------------------------------
def test_wait_blocks_until_exit_and_returns_the_code(engine):
    cid = daemon(engine, ["sh", "-c", "sleep 0.5; exit 4"])
    t = time.monotonic()
    assert engine.wait(cid) == {"StatusCode": 4, "Error": None}
    assert time.monotonic() - t >= 0.3


def test_wait_on_exited_container_returns_at_once(engine):
    cid, att = engine.run({"Image": "busybox", "Cmd": ["sh", "-c", "exit 12"]})
    att.collect()
    t = time.monotonic()
    assert engine.wait(cid)["StatusCode"] == 12
    assert time.monotonic() - t < 1


def test_wait_in_another_thread_sees_a_kill(engine):
    cid = daemon(engine)
    got = {}
    t = threading.Thread(target=lambda: got.update(engine.wait(cid)))
    t.start()
    # meant to kill while the waiter blocks; had it not started yet, it sees the exit all the same
    time.sleep(0.3)
    engine.kill(cid)
    t.join(10)
    assert got.get("StatusCode") == 137


def test_the_api_waiter_answers_a_die_it_meets_at_the_journals_end(engine, monkeypatch):
    # POST /containers/{id}/wait just after start: the monitor's "die" can land as the waiter
    # takes the journal's end (its first read), the exit not recorded yet. The waiter then
    # made a list of the endless journal follower and never answered (1 in 8 in a notebook).
    from dockerlab.engine import events
    from dockerlab.engine.containers import waiting

    cid = daemon(engine)
    record = engine.store.find(cid).config
    real = events.subscribe

    def die_at_the_end(paths, filters=None):
        follower = real(paths, filters)
        assert next(follower) is None  # the journal's end is taken
        events.container(paths, record, "die", {"exitCode": "137"})  # told, not yet recorded
        yield from follower

    monkeypatch.setattr(waiting.events, "subscribe", die_at_the_end)
    waiter = engine.waiter(cid)
    assert waiter.running and waiter._pending  # the state of the race, set up for real
    got: dict = {}
    stop = threading.Event()
    t = threading.Thread(target=lambda: got.update(waiter.wait(stop.is_set) or {}), daemon=True)
    t.start()
    engine.kill(cid)  # the exit the die told of
    t.join(10)
    stop.set()
    assert got == {"StatusCode": 137, "Error": None}


def test_wait_of_unknown_container_is_no_such_container(engine):
    with pytest.raises(errors.NoSuchContainer):
        engine.wait("no-such-container")
