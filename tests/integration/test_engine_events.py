"""`events`: real containers, images and volumes journal Docker's events; read back through
the engine API, the CLI (past and followed live) and the notebook's %docker."""

from __future__ import annotations

import functools
import io
import json
import os
import signal
import subprocess
import time

import helpers
import pytest
from helpers import daemon, pid_ended, wait_until


@pytest.fixture
def cli(engine):
    return functools.partial(helpers.cli, engine.paths.root, text=True, clean=True)


def since_now() -> str:
    return f"{time.time() - 0.001:.9f}"


def seen(engine, since: str, **filters: list[str]) -> list[dict]:
    return list(engine.events(since=since, until=f"{time.time():.9f}", filters=filters or None))


def actions(evs: list[dict]) -> list[str]:
    return [e["Action"] for e in evs]


def test_run_rm_journals_create_attach_start_die_destroy_with_labels(engine):
    t0 = since_now()
    cid, att = engine.run(
        {
            "Image": "busybox",
            "Cmd": ["sh", "-c", "exit 3"],
            "Labels": {"tier": "front"},
            "HostConfig": {"AutoRemove": True},
        },
        name="once",
    )
    assert att is not None and att.wait()["ExitCode"] == 3
    att.close()
    evs = wait_until(lambda: (e := seen(engine, t0)) and e[-1]["Action"] == "destroy" and e)
    assert actions(evs) == ["create", "attach", "start", "die", "destroy"]
    for ev in evs:
        assert ev["Type"] == "container" and ev["id"] == ev["Actor"]["ID"] == cid
        assert ev["from"] == "busybox" and ev["scope"] == "local"
        attrs = ev["Actor"]["Attributes"]
        assert (attrs["image"], attrs["name"], attrs["tier"]) == ("busybox", "once", "front")
    assert evs[3]["Actor"]["Attributes"]["exitCode"] == "3"


def test_stop_kill_pause_rename_exec_and_volume_events(engine):
    t0 = since_now()
    cid = daemon(engine, ["sleep", "30"], name="svc", Volumes={"/data": {}})
    vol = engine.inspect(cid)["Mounts"][0]["Name"]
    proc = engine.exec("svc", ["sh", "-c", "exit 4"])
    assert proc is not None and proc.wait() == 4
    engine.pause("svc")
    engine.unpause("svc")
    engine.rename("svc", "svc2")
    engine.kill("svc2", "USR1")
    engine.stop("svc2", timeout=0)
    engine.remove("svc2", volumes=True)
    evs = wait_until(lambda: (e := seen(engine, t0)) and e[-1]["Action"] == "destroy" and e)
    got = [(e["Type"], e["Action"]) for e in evs]
    exec_id = evs[[a for _, a in got].index("exec_create: sh -c exit 4")]["Actor"]["Attributes"]
    assert got == [
        ("volume", "create"),
        ("container", "create"),
        ("volume", "mount"),
        ("container", "start"),
        ("container", "exec_create: sh -c exit 4"),
        ("container", "exec_start: sh -c exit 4"),
        ("container", "exec_die"),
        ("container", "pause"),
        ("container", "unpause"),
        ("container", "rename"),
        ("container", "kill"),
        ("container", "kill"),
        ("container", "kill"),
        ("container", "die"),
        ("volume", "unmount"),
        ("container", "stop"),
        ("container", "destroy"),
        ("volume", "destroy"),
    ]
    by = {a: e["Actor"]["Attributes"] for (_, a), e in zip(got, evs)}
    assert by["exec_die"]["exitCode"] == "4"
    assert by["exec_die"]["execID"] == exec_id["execID"] and len(exec_id["execID"]) == 64
    assert by["rename"]["oldName"] == "/svc" and by["rename"]["name"] == "svc2"
    kills = [e["Actor"]["Attributes"]["signal"] for e in evs if e["Action"] == "kill"]
    assert kills == ["10", "15", "9"]
    assert by["die"]["name"] == "svc2" and by["die"]["exitCode"] == "137"  # the monitor's news
    mount = evs[2]
    assert mount["Actor"]["ID"] == vol and mount["Actor"]["Attributes"] == {
        "container": cid,
        "destination": "/data",
        "driver": "local",
        "propagation": "",
        "read/write": "true",
    }
    assert "id" not in mount and mount["Type"] == "volume"


def test_image_events_tag_commit_untag_delete_save_load(engine):
    t0 = since_now()
    cid = daemon(engine, ["true"], name="src", Labels={"k": "v"})
    engine.wait(cid)
    image_id = engine.commit("src", "mine:1", message="hello")
    engine.image_tag("mine:1", "mine:2")
    engine.image_remove("mine:2")
    buf = io.BytesIO()
    engine.save(["mine:1"], buf)
    engine.image_remove("mine:1")
    buf.seek(0)
    engine.load(buf)
    evs = [e for e in seen(engine, t0) if e["Type"] == "image" or e["Action"] == "commit"]
    assert [(e["Type"], e["Action"]) for e in evs] == [
        ("image", "tag"),
        ("container", "commit"),
        ("image", "tag"),
        ("image", "untag"),
        ("image", "save"),
        ("image", "untag"),
        ("image", "delete"),
        ("image", "load"),
    ]
    assert all(e["Actor"]["ID"] == image_id for e in evs if e["Type"] == "image")
    assert [e["Actor"]["Attributes"]["name"] for e in evs if e["Type"] == "image"] == [
        "mine:1",
        "mine:2",
        *[image_id] * 5,
    ]
    assert evs[0]["Actor"]["Attributes"]["k"] == "v"  # the image's labels
    commit = evs[1]["Actor"]["Attributes"]
    assert {k: commit[k] for k in ("comment", "imageID", "imageRef", "name", "k")} == {
        "comment": "hello",
        "imageID": image_id,
        "imageRef": "mine:1",
        "name": "src",
        "k": "v",
    }


def test_the_cli_prints_dockers_lines_and_filters(engine, cli):
    t0 = since_now()
    cid = daemon(engine, ["true"], name="one", Labels={"b": "2", "a": "1"})
    engine.wait(cid)
    daemon(engine, ["true"], name="two")
    until = f"{time.time():.9f}"
    r = cli("events", "--since", t0, "--until", until, "--filter", "container=one")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert [line.split()[2] for line in lines] == ["create", "start", "die"]
    assert (
        lines[0].split(" ", 1)[1] == f"container create {cid} (a=1, b=2, image=busybox, name=one)"
    )
    assert lines[2].endswith(f"{cid} (a=1, b=2, exitCode=0, image=busybox, name=one)")
    r = cli(
        "system",
        "events",
        "--since",
        t0,
        "--until",
        until,
        "-f",
        "event=create",
        "--format",
        "{{.Actor.Attributes.name}}",
    )
    assert r.stdout == "one\ntwo\n"
    r = cli("events", "--since", t0, "--until", until, "-f", "label=a=1", "--format", "json")
    assert [line.count('"Action":"') for line in r.stdout.splitlines()] == [1, 1, 1]
    r = cli("events", "--until", "0s", "--filter", "nope=1")
    assert (r.returncode, r.stderr) == (1, "Error response from daemon: Invalid filter 'nope'\n")
    r = cli("events", "--until", "0s", "--format", "{{.Nope}}")
    assert r.returncode == 64 and r.stderr.startswith("Error parsing format: template: ")
    r = cli("events", "--since", "1m", "--until", "2m")
    assert r.returncode == 1 and "cannot be after `until` time" in r.stderr


def test_events_follows_live_until_interrupted(engine):
    proc = helpers.cli_popen(
        engine.paths.root,
        "events",
        "--filter",
        "type=container",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}}",
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        # the follower is up once it has opened the journal; a container then is live news
        wait_until(
            lambda: any("events.log" in p for p in _open_files(proc.pid)), what="the follower"
        )
        daemon(engine, ["true"], name="live")
        assert proc.stdout is not None
        got = [proc.stdout.readline().strip() for _ in range(3)]
        assert got == ["create live", "start live", "die live"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _open_files(pid: int) -> list[str]:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return []
    out = []
    for fd in fds:
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return out


def test_oom_comes_before_die_and_rm_force_kills_with_signal_9(engine):
    t0 = since_now()
    mib = 1 << 20
    cid = daemon(
        engine,
        ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
        name="hog",
        HostConfig={"Memory": 16 * mib, "MemorySwap": 16 * mib},
    )
    assert engine.wait(cid)["StatusCode"] == 137
    other = daemon(engine, ["sleep", "30"], name="victim")
    engine.remove(other, force=True)
    evs = wait_until(lambda: (e := seen(engine, t0)) and e[-1]["Action"] == "destroy" and e)
    hog = [e["Action"] for e in evs if e["Actor"]["ID"] == cid]
    assert hog == ["create", "start", "oom", "die"]
    victim = [(e["Action"], e["Actor"]["Attributes"].get("signal")) for e in evs[len(hog) :]]
    assert victim == [
        ("create", None),
        ("start", None),
        ("kill", "9"),
        ("die", None),
        ("destroy", None),
    ]


def test_restart_top_export_and_prunes(engine):
    t0 = since_now()
    cid = daemon(engine, ["sleep", "30"], name="rr")
    engine.top("rr")
    engine.restart("rr", timeout=0)
    engine.export("rr", io.BytesIO())
    engine.stop("rr", timeout=0)
    engine.prune()
    engine.volume_prune()
    engine.image_prune()
    got = [(e["Type"], e["Action"]) for e in seen(engine, t0)]
    assert got == [
        ("container", "create"),
        ("container", "start"),
        ("container", "top"),
        ("container", "kill"),
        ("container", "kill"),
        ("container", "die"),
        ("container", "stop"),
        ("container", "start"),
        ("container", "restart"),
        ("container", "export"),
        ("container", "kill"),
        ("container", "kill"),
        ("container", "die"),
        ("container", "stop"),
        ("container", "destroy"),
        ("container", "prune"),
        ("volume", "prune"),
        ("image", "prune"),
    ]
    assert all(e["Actor"]["ID"] == cid for e in seen(engine, t0)[:15])


def test_a_dead_monitors_exit_is_told_by_whoever_sees_it(engine):
    t0 = since_now()
    cid = daemon(engine, ["sleep", "30"], name="orphan")
    with open(os.path.join(engine.paths.container(cid), "state.json")) as f:
        monitor = json.load(f)["MonitorPid"]
    os.kill(monitor, signal.SIGKILL)
    wait_until(lambda: pid_ended(monitor))
    assert engine.inspect(cid)["State"]["ExitCode"] == 255  # the look that reconciles it
    evs = seen(engine, t0)
    assert actions(evs) == ["create", "start", "die"]
    assert evs[-1]["Actor"]["Attributes"]["exitCode"] == "255"
