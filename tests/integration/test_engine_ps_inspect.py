"""ps (``containers``) and ``inspect`` on real containers: Docker's records and lookups."""

from __future__ import annotations

import os
import re
import time

import pytest
from helpers import daemon, wait_until

from dockerlab import errors

pytestmark = pytest.mark.integration


def finished(engine, cmd, name=None, **body):
    cid, att = engine.run({"Image": "busybox", "Cmd": list(cmd), **body}, name=name)
    att.collect()
    return cid


def ids(records):
    return [r["Id"] for r in records]


def test_ps_lists_running_only_and_all_lists_every_container(engine):
    up = daemon(engine, name="up")
    down = finished(engine, ["true"], name="down")
    created = engine.create({"Image": "busybox", "Cmd": ["true"]}, name="fresh")["Id"]
    assert ids(engine.containers()) == [up]
    assert set(ids(engine.containers(all=True))) == {up, down, created}


def test_ps_all_is_newest_first_and_limit_1_is_latest(engine):
    first = finished(engine, ["true"])
    time.sleep(0.01)  # time passes: each is created later than the one before
    second = finished(engine, ["true"])
    time.sleep(0.01)  # likewise
    third = engine.create({"Image": "busybox", "Cmd": ["true"]})["Id"]
    assert ids(engine.containers(all=True)) == [third, second, first]
    assert ids(engine.containers(limit=1)) == [third]  # -l / -n imply -a


def test_ps_status_strings(engine):
    up = daemon(engine)
    exited = finished(engine, ["sh", "-c", "exit 3"])
    created = engine.create({"Image": "busybox", "Cmd": ["true"]})["Id"]
    by_id = {r["Id"]: r for r in engine.containers(all=True)}
    assert re.fullmatch(r"Up (Less than a second|\d+ seconds?)", by_id[up]["Status"])
    assert by_id[up]["State"] == "running"
    assert re.fullmatch(
        r"Exited \(3\) (Less than a second|\d+ seconds?) ago", by_id[exited]["Status"]
    )
    assert by_id[exited]["State"] == "exited"
    assert by_id[created]["Status"] == "Created"
    assert by_id[created]["State"] == "created"
    engine.pause(up)
    rec = engine.containers()[0]
    assert rec["State"] == "paused"
    assert rec["Status"].endswith("(Paused)")


def test_ps_record_fields(engine):
    cid = daemon(engine, name="web", Labels={"tier": "front"})
    rec = engine.containers()[0]
    assert rec["Id"] == cid
    assert rec["Names"] == ["/web"]
    assert rec["Image"] == "busybox"
    assert rec["ImageID"].startswith("sha256:")
    assert rec["Command"] == "sleep 30"
    assert rec["Labels"] == {"tier": "front"}
    assert isinstance(rec["Created"], int) and abs(rec["Created"] - time.time()) < 60


def test_ps_filters(engine):
    a = daemon(engine, name="alpha", Labels={"app": "x"})
    b = finished(engine, ["sh", "-c", "exit 2"], name="beta")
    c = finished(engine, ["true"], name="gamma", Labels={"app": "y"})
    assert ids(engine.containers(all=True, filters={"status": ["exited"]})) in ([c, b],)
    assert ids(engine.containers(all=True, filters={"status": ["running"]})) == [a]
    assert ids(engine.containers(all=True, filters={"name": ["alp"]})) == [a]
    assert ids(engine.containers(all=True, filters={"id": [b[:8]]})) == [b]
    assert ids(engine.containers(all=True, filters={"exited": ["2"]})) == [b]
    assert set(ids(engine.containers(all=True, filters={"label": ["app"]}))) == {a, c}
    assert ids(engine.containers(all=True, filters={"label": ["app=y"]})) == [c]
    assert len(engine.containers(all=True, filters={"ancestor": ["busybox"]})) == 3
    # OR within a key, AND across keys
    both = engine.containers(all=True, filters={"name": ["alpha", "beta"]})
    assert set(ids(both)) == {a, b}
    assert engine.containers(all=True, filters={"name": ["alpha"], "status": ["exited"]}) == []


def test_ps_unknown_filter_is_invalid_when_a_container_is_checked(engine):
    daemon(engine)
    with pytest.raises(errors.InvalidParameter) as exc:
        engine.containers(filters={"colour": ["red"]})
    assert "Invalid filter 'colour'" in str(exc.value)  # Docker 20.10's capital I


def test_ps_unknown_filter_is_invalid_even_with_no_containers(engine):
    with pytest.raises(errors.InvalidParameter):
        engine.containers(filters={"colour": ["red"]})


def test_inspect_running_container(engine):
    cid = daemon(engine, name="insp")
    info = engine.inspect(cid)
    assert info["Id"] == cid
    assert info["Name"] == "/insp"
    assert info["Path"] == "sleep" and info["Args"] == ["30"]
    assert info["Config"]["Hostname"] == cid[:12]
    assert info["Config"]["Image"] == "busybox"
    assert info["Image"].startswith("sha256:")
    st = info["State"]
    assert st["Status"] == "running" and st["Running"] and not st["Paused"]
    assert st["ExitCode"] == 0 and st["FinishedAt"] == "0001-01-01T00:00:00Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", st["StartedAt"])
    # State.Pid is the host pid of the container's first process
    with open(f"/proc/{st['Pid']}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[:2] == [b"sleep", b"30"]
    assert info["Driver"] == "overlay2"
    assert info["GraphDriver"]["Name"] == "overlay2"
    for key in ("UpperDir", "MergedDir", "WorkDir"):
        assert os.path.isdir(info["GraphDriver"]["Data"][key])
    assert info["HostConfig"]["NetworkMode"] in ("none", "default", "bridge")
    assert os.path.exists(info["LogPath"])
    with open(info["HostnamePath"]) as f:
        assert f.read().strip() == cid[:12]


def test_inspect_state_hides_engine_private_fields(engine):
    cid = daemon(engine)
    state = engine.inspect(cid)["State"]
    assert "MonitorPid" not in state and "MonitorStart" not in state
    assert set(state) >= {
        "Status",
        "Running",
        "Paused",
        "Restarting",
        "OOMKilled",
        "Dead",
        "Pid",
        "ExitCode",
        "Error",
        "StartedAt",
        "FinishedAt",
    }


def test_inspect_exited_container(engine):
    cid = finished(engine, ["sh", "-c", "exit 42"])
    st = engine.inspect(cid)["State"]
    assert st["Status"] == "exited" and st["Running"] is False
    assert st["ExitCode"] == 42 and st["Pid"] == 0
    assert st["FinishedAt"] >= st["StartedAt"]


def test_lookup_by_full_id_short_id_prefix_and_name(engine):
    cid = engine.create({"Image": "busybox", "Cmd": ["true"]}, name="lookup")["Id"]
    for ref in (cid, cid[:12], cid[:4], "lookup", "/lookup"):
        assert engine.inspect(ref)["Id"] == cid


def test_unknown_container_is_no_such_container(engine):
    with pytest.raises(errors.NoSuchContainer) as exc:
        engine.inspect("nothing-here")
    assert str(exc.value) == "No such container: nothing-here"
    with pytest.raises(errors.NoSuchContainer):
        engine.inspect("")


def test_ambiguous_prefix_is_an_error_not_a_guess(engine):
    made = [engine.create({"Image": "busybox", "Cmd": ["true"]})["Id"] for _ in range(20)]
    firsts = {}
    for cid in made:
        firsts.setdefault(cid[0], []).append(cid)
    shared = next(k for k, v in firsts.items() if len(v) > 1)  # 20 ids over 16 digits
    with pytest.raises(errors.DockerlabError) as exc:
        engine.inspect(shared)
    assert "multiple IDs found with provided prefix" in str(exc.value)


def test_name_takes_precedence_over_id_prefix(engine):
    target = engine.create({"Image": "busybox", "Cmd": ["true"]})["Id"]
    other = engine.create({"Image": "busybox", "Cmd": ["true"]}, name=target[:6])["Id"]
    assert engine.inspect(target[:6])["Id"] == other


def test_ps_reflects_container_exit_without_any_verb(engine):
    cid = daemon(engine, ["sh", "-c", "sleep 2"])  # long enough to be seen running when loaded
    assert ids(engine.containers()) == [cid]
    wait_until(lambda: not engine.containers())
    assert engine.containers() == []
    assert engine.inspect(cid)["State"]["Status"] == "exited"
