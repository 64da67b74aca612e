"""Health checks against real containers: the probes run in the container, with Docker's
state machine, timeout, start period and pause rules, and leave nothing behind."""

from __future__ import annotations

import os

import pytest
from helpers import cli, daemon, wait_until

pytestmark = pytest.mark.integration

MS = 1_000_000
S = 1000 * MS
_NSEXEC = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "dockerlab",
    "engine",
    "runtime",
    "nsexec.py",
)


def hc(cmd: str, **fields: int) -> dict:
    return {"Healthcheck": {"Test": ["CMD-SHELL", cmd], "Interval": 100 * MS, **fields}}


def health(engine, cid) -> dict:
    return engine.inspect(cid)["State"].get("Health") or {}


def log_of(engine, cid) -> list[dict]:
    return health(engine, cid).get("Log") or []


def processes(word: str) -> list[int]:
    """Host processes whose command line holds ``word``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if word.encode() in f.read():
                    found.append(int(name))
        except OSError:
            continue
    return [p for p in found if p != os.getpid()]


def probe_helpers() -> list[int]:
    """Our exec helpers still alive (zombies excluded)."""
    alive = []
    for pid in processes(_NSEXEC):
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] not in "ZX":
                    alive.append(pid)
        except OSError:
            continue
    return alive


def test_healthy_after_the_first_successful_probe(engine):
    cid = daemon(engine, **hc("echo hi; exit 0"))
    assert engine.inspect(cid)["State"]["Health"]["Status"] in ("starting", "healthy")
    wait_until(lambda: health(engine, cid).get("Status") == "healthy", what="healthy")
    h = health(engine, cid)
    assert h["FailingStreak"] == 0
    entry = h["Log"][-1]
    assert (entry["ExitCode"], entry["Output"]) == (0, "hi\n")
    assert entry["Start"].endswith("Z") and entry["End"] >= entry["Start"]
    row = engine.containers(filters={"health": ["healthy"]})
    assert [r["Id"] for r in row] == [cid] and row[0]["Status"].endswith(" (healthy)")
    assert engine.containers(filters={"health": ["none"]}) == []
    other = daemon(engine)
    assert [r["Id"] for r in engine.containers(filters={"health": ["none"]})] == [other]
    assert "Health" not in engine.inspect(other)["State"]


def test_unhealthy_after_retries_failures_in_a_row(engine):
    cid = daemon(engine, **hc("echo bad >&2; exit 3", Retries=2))
    wait_until(lambda: health(engine, cid).get("Status") == "unhealthy", what="unhealthy")
    h = health(engine, cid)
    assert h["FailingStreak"] >= 2
    assert {(e["ExitCode"], e["Output"]) for e in h["Log"]} == {(3, "bad\n")}
    wait_until(lambda: len(log_of(engine, cid)) == 5, what="five results")
    wait_until(lambda: health(engine, cid)["FailingStreak"] > 5, what="more failures")
    assert len(log_of(engine, cid)) == 5  # only the last five are kept
    [row] = engine.containers(filters={"health": ["unhealthy"]})
    assert row["Status"].endswith(" (unhealthy)")


def test_probe_runs_inside_the_container_as_exec_does(engine):
    cid = daemon(
        engine,
        User="nobody",
        WorkingDir="/tmp",
        Env=["MARK=m1"],
        **hc("echo $(id -u) $(pwd) $MARK $(hostname); cat /proc/self/cgroup | head -1"),
    )
    wait_until(lambda: log_of(engine, cid), what="a probe")
    out = log_of(engine, cid)[-1]["Output"]
    assert out.startswith(f"65534 /tmp m1 {cid[:12]}\n")
    assert out.rstrip().endswith(":/")  # in the container's cgroup namespace


def test_a_command_that_cannot_start_is_docker_s_exit_minus_one(engine):
    cid = daemon(engine, Healthcheck={"Test": ["CMD", "nope"], "Interval": 100 * MS})
    wait_until(lambda: log_of(engine, cid), what="a probe")
    entry = log_of(engine, cid)[-1]
    assert entry["ExitCode"] == -1
    assert entry["Output"] == (
        "OCI runtime exec failed: exec failed: unable to start container process: "
        'exec: "nope": executable file not found in $PATH: unknown'
    )


def test_output_is_capped_at_4096_bytes(engine):
    cid = daemon(engine, **hc("head -c 10000 /dev/zero | tr '\\0' a"))
    wait_until(lambda: log_of(engine, cid), what="a probe")
    assert log_of(engine, cid)[-1]["Output"] == "a" * 4096 + "..."


def test_timeout_kills_a_hanging_probe_and_all_it_started(engine):
    # the shell ignores SIGTERM and waits for its child: only a kill of the group ends both
    cid = daemon(engine, **hc('trap "" TERM; sleep 987001; echo late', Timeout=200 * MS))
    wait_until(lambda: len(log_of(engine, cid)) >= 3, what="three timeouts")
    h = health(engine, cid)
    assert {(e["ExitCode"], e["Output"]) for e in h["Log"]} == {
        (-1, "Health check exceeded timeout (200ms)")
    }
    assert h["Status"] == "unhealthy"  # three failures: the default retries
    # one probe at a time: every timed-out one is gone, with its children
    assert len(processes("sleep\x00987001")) <= 1
    assert len(probe_helpers()) <= 1


def test_failures_in_the_start_period_do_not_count(engine):
    cid = daemon(engine, **hc("exit 1", Retries=1, StartPeriod=3600 * S))
    wait_until(lambda: len(log_of(engine, cid)) >= 3, what="three failed probes")
    h = health(engine, cid)
    assert (h["Status"], h["FailingStreak"]) == ("starting", 0)
    assert engine.containers(filters={"health": ["starting"]})[0]["Status"].endswith(
        " (health: starting)"
    )


def test_a_paused_container_is_not_probed(engine):
    paused = daemon(engine, **hc("echo probe >> /probes"))
    clock = daemon(engine, **hc("true"))  # probed at the same pace: our clock
    wait_until(lambda: health(engine, paused).get("Status") == "healthy", what="healthy")
    engine.pause(paused)
    h = health(engine, paused)
    assert h["Status"] == "unhealthy"  # Docker's word for a health check that stopped
    seen = [e["Start"] for e in h["Log"]]
    with open(
        os.path.join(engine.inspect(paused)["GraphDriver"]["Data"]["UpperDir"], "probes")
    ) as f:
        probes = f.read()
    clock_starts = {e["Start"] for e in log_of(engine, clock)}
    wait_until(
        lambda: len({e["Start"] for e in log_of(engine, clock)} - clock_starts) >= 5 or None,
        what="five probes of the running container",
    )
    assert [e["Start"] for e in log_of(engine, paused)] == seen
    assert health(engine, paused)["Status"] == "unhealthy"
    with open(
        os.path.join(engine.inspect(paused)["GraphDriver"]["Data"]["UpperDir"], "probes")
    ) as f:
        assert f.read() == probes
    engine.unpause(paused)
    wait_until(lambda: health(engine, paused).get("Status") == "healthy", what="healthy again")


@pytest.mark.parametrize("verb", ["stop", "kill", "rm"])
def test_no_probe_outlives_its_container(engine, verb):
    marker = {"stop": "987011", "kill": "987012", "rm": "987013"}[verb]
    cid = daemon(engine, **hc(f"sleep {marker}", Timeout=60 * S))
    wait_until(lambda: processes(f"sleep\x00{marker}"), what="a probe under way")
    assert probe_helpers()
    if verb == "stop":
        engine.stop(cid, timeout=0)
    elif verb == "kill":
        engine.kill(cid)
        engine.wait(cid)
    else:
        engine.remove(cid, force=True)
    wait_until(lambda: not processes(f"sleep\x00{marker}"), what="the probe gone")
    wait_until(lambda: not probe_helpers(), what="the helper gone")
    if verb != "rm":
        h = health(engine, cid)
        assert h["Status"] == "unhealthy"  # as Docker says of a stopped container
        engine.start(cid)
        h = health(engine, cid)
        assert (h["Status"], h["FailingStreak"]) == ("starting", 0)


def test_without_a_probe_nothing_is_started(engine):
    cid = daemon(engine, Healthcheck={"Test": ["NONE"]})
    assert "Health" not in engine.inspect(cid)["State"]
    assert engine.inspect(cid)["Config"]["Healthcheck"] == {"Test": ["NONE"]}
    assert not probe_helpers()


def test_the_images_healthcheck_applies_and_flags_override_it(engine, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nHEALTHCHECK --interval=100ms --retries=1 CMD echo from-image\n"
    )
    for _ in engine.build(str(ctx), tags=["hc"]):
        pass
    cid = daemon(engine, Image="hc")
    wait_until(lambda: health(engine, cid).get("Status") == "healthy", what="healthy")
    assert log_of(engine, cid)[-1]["Output"] == "from-image\n"
    cid2, _ = engine.run(
        {"Image": "hc", "Cmd": ["sleep", "30"], "Healthcheck": {"Test": ["CMD-SHELL", "exit 1"]}},
        attach="",
    )
    assert engine.inspect(cid2)["Config"]["Healthcheck"] == {
        "Test": ["CMD-SHELL", "exit 1"],
        "Interval": 100 * MS,
        "Retries": 1,
    }
    wait_until(lambda: health(engine, cid2).get("Status") == "unhealthy", what="unhealthy")
    cid3 = daemon(engine, Image="hc", Healthcheck={"Test": ["NONE"]})
    assert "Health" not in engine.inspect(cid3)["State"]


def test_the_cli_shows_health_in_ps(engine):
    root = str(engine.paths.root)
    flags = ("--name", "hc", "--health-cmd", "true", "--health-interval", "100ms")
    r = cli(root, "run", "-d", *flags, "busybox", "sleep", "30", text=True, clean=True)
    assert r.returncode == 0, r.stderr
    wait_until(
        lambda: "(healthy)" in cli(root, "ps", "--format", "{{.Status}}", text=True).stdout,
        what="(healthy) in ps",
    )
    r = cli(root, "ps", "-f", "health=healthy", "--format", "{{.Names}}", text=True)
    assert r.stdout == "hc\n"
    r = cli(root, "ps", "-f", "health=bogus", text=True)
    assert r.returncode == 1
    assert "Unrecognised filter value for health: bogus" in r.stderr
    r = cli(root, "run", "--rm", "--health-interval", "500us", "busybox", "true", text=True)
    assert r.returncode == 125
    assert "Interval in Healthcheck cannot be less than 1ms" in r.stderr


def test_the_probe_helper_is_not_in_the_containers_pid_namespace(engine):
    """The probes are started by the monitor, whose children would land in the container's
    PID namespace: there the helper, host Python until it execs, would be visible (and, for
    an instant before it makes itself non-dumpable, open to ``/proc/PID/exe``). The container
    sees its own processes and the probe's command only."""
    cid = daemon(engine, **hc("cat /proc/[0-9]*/cmdline | tr '\\0' ' '; echo; ls /proc"))
    wait_until(lambda: log_of(engine, cid), what="a probe")
    out = log_of(engine, cid)[-1]["Output"]
    assert "sleep 30" in out
    assert "python" not in out and "nsexec" not in out
    pids = sorted(int(p) for p in out.split() if p.isdigit())
    assert len(pids) <= 4, out  # sleep, the probe's shell and its two children


def test_a_build_step_is_not_probed(engine, tmp_path):
    """Docker's builder runs RUN steps without the image's health check: a probe would
    write into the layer being built."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nHEALTHCHECK --interval=1ms CMD touch /probed\n"
        "RUN for i in 1 2 3 4 5 6 7 8 9 10; do [ -e /probed ] && exit 9; sleep 0.1; done\n"
    )
    events = list(engine.build(str(ctx), tags=["hcb"]))  # BuildFailed if /probed appears
    assert any(ev.kind == "aux" for ev in events)
    _, att = engine.run(
        {"Image": "hcb", "Cmd": ["test", "!", "-e", "/probed"], "Healthcheck": {"Test": ["NONE"]}}
    )
    assert att.collect()[0] == 0


def test_a_status_change_is_journaled_as_docker_s_health_status_event(engine):
    import time

    cid = daemon(engine, **hc("exit 0"))

    def actions() -> list[str]:
        past = engine.events(since=0, until=time.time(), filters={"container": [cid]})
        return [e["Action"] for e in past]

    wait_until(lambda: "health_status: healthy" in actions(), what="the health_status event")
    assert actions().count("health_status: healthy") == 1  # a change, not every probe
