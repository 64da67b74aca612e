"""rm / prune / rename on real containers: Docker's refusals and nothing left behind."""

from __future__ import annotations

import os

import pytest
from helpers import daemon

from dockerlab import errors

pytestmark = pytest.mark.integration


def finished(engine, cmd=("true",), name=None, **body):
    cid, att = engine.run({"Image": "busybox", "Cmd": list(cmd), **body}, name=name)
    att.collect()
    return cid


# ---- rm -------------------------------------------------------------------------------------
def test_rm_of_running_container_is_conflict_and_it_keeps_running(engine):
    cid = daemon(engine, name="busy")
    with pytest.raises(errors.Conflict) as exc:
        engine.remove(cid)
    msg = str(exc.value)
    assert 'cannot remove container "/busy"' in msg
    assert "stop the container before removing or force remove" in msg
    assert engine.inspect(cid)["State"]["Running"] is True


def test_rm_of_paused_container_is_conflict(engine):
    cid = daemon(engine)
    engine.pause(cid)
    with pytest.raises(errors.Conflict):
        engine.remove(cid)


def test_rm_force_kills_and_removes_running_container(engine):
    cid = daemon(engine)
    pid = engine.inspect(cid)["State"]["Pid"]
    engine.remove(cid, force=True)
    assert not os.path.exists(f"/proc/{pid}") or _zombie_or_gone(pid)
    with pytest.raises(errors.NoSuchContainer):
        engine.inspect(cid)


def _zombie_or_gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_rm_force_of_paused_container(engine):
    cid = daemon(engine)
    engine.pause(cid)
    engine.remove(cid, force=True)
    assert cid not in engine.container_ids()


def test_rm_of_exited_container_removes_its_files(engine):
    cid = finished(engine, ["sh", "-c", "echo data > /file"])
    info = engine.inspect(cid)
    upper = info["GraphDriver"]["Data"]["UpperDir"]
    assert os.path.exists(os.path.join(upper, "file"))
    engine.remove(cid)
    assert not os.path.exists(engine.paths.container(cid))
    assert not os.path.exists(os.path.dirname(upper))
    assert not os.path.exists(engine.paths.layer(cid + "-init"))
    assert not os.path.exists(os.path.join(engine.paths.run, cid))
    with pytest.raises(errors.NoSuchContainer):
        engine.inspect(cid)


def test_rm_of_unknown_container_is_no_such_container(engine):
    with pytest.raises(errors.NoSuchContainer) as exc:
        engine.remove("ghost")
    assert str(exc.value) == "No such container: ghost"


def test_rm_frees_the_name(engine):
    first = finished(engine, name="reuse")
    engine.remove("reuse")
    second = engine.create({"Image": "busybox", "Cmd": ["true"]}, name="reuse")["Id"]
    assert second != first and engine.inspect("reuse")["Id"] == second


def test_rm_keeps_anonymous_volumes_and_rm_v_removes_them(engine):
    keep = finished(engine, ["true"], HostConfig={"Binds": ["/data"]})
    kept = engine.inspect(keep)["Mounts"][0]["Name"]
    drop = finished(engine, ["true"], HostConfig={"Binds": ["/data"]})
    dropped = engine.inspect(drop)["Mounts"][0]["Name"]
    engine.remove(keep)
    engine.remove(drop, volumes=True)
    names = {v["Name"] for v in engine.volumes()}
    assert kept in names
    assert dropped not in names


def test_rm_v_never_removes_named_volumes(engine):
    cid = finished(engine, ["true"], HostConfig={"Binds": ["named-vol:/data"]})
    engine.remove(cid, volumes=True)
    assert "named-vol" in {v["Name"] for v in engine.volumes()}


def test_autoremove_removes_anonymous_volumes(engine):
    cid, att = engine.run(
        {
            "Image": "busybox",
            "Cmd": ["true"],
            "HostConfig": {"Binds": ["/data", "kept:/kept"], "AutoRemove": True},
        }
    )
    att.collect()
    names = {v["Name"] for v in engine.volumes()}
    assert names == {"kept"}


# ---- prune ----------------------------------------------------------------------------------
def test_prune_removes_stopped_containers_only(engine):
    up = daemon(engine)
    exited = finished(engine, ["sh", "-c", "head -c 100000 /dev/zero > /blob"])
    created = engine.create({"Image": "busybox", "Cmd": ["true"]})["Id"]
    report = engine.prune()
    assert set(report["ContainersDeleted"]) == {exited, created}
    assert report["SpaceReclaimed"] >= 100000
    assert engine.container_ids() == [up]


def test_prune_with_nothing_to_do(engine):
    daemon(engine)
    assert engine.prune() == {"ContainersDeleted": None, "SpaceReclaimed": 0}


# ---- rename ---------------------------------------------------------------------------------
def test_rename_changes_the_name_and_frees_the_old_one(engine):
    cid = daemon(engine, name="old-name")
    engine.rename("old-name", "new-name")
    assert engine.inspect("new-name")["Id"] == cid
    assert engine.inspect(cid)["Name"] == "/new-name"
    with pytest.raises(errors.NoSuchContainer):
        engine.inspect("old-name")
    engine.create({"Image": "busybox", "Cmd": ["true"]}, name="old-name")
    assert engine.containers()[0]["Names"] == ["/new-name"]


def test_rename_keeps_running_container_running_with_same_hostname(engine):
    cid = daemon(engine, name="runner")
    pid = engine.inspect(cid)["State"]["Pid"]
    engine.rename(cid, "renamed")
    info = engine.inspect("renamed")
    assert info["State"]["Pid"] == pid and info["State"]["Running"]
    assert info["Config"]["Hostname"] == cid[:12]


def test_rename_to_a_name_in_use_is_conflict(engine):
    engine.create({"Image": "busybox", "Cmd": ["true"]}, name="one")
    engine.create({"Image": "busybox", "Cmd": ["true"]}, name="two")
    with pytest.raises(errors.Conflict) as exc:
        engine.rename("one", "two")
    assert 'The container name "/two" is already in use' in str(exc.value)
    assert engine.inspect("one")["Name"] == "/one"


def test_rename_to_same_name_or_invalid_name_is_invalid(engine):
    engine.create({"Image": "busybox", "Cmd": ["true"]}, name="same")
    with pytest.raises(errors.InvalidParameter):
        engine.rename("same", "same")
    with pytest.raises(errors.InvalidParameter):
        engine.rename("same", "bad name!")


def test_rename_of_unknown_container_is_no_such_container(engine):
    with pytest.raises(errors.NoSuchContainer):
        engine.rename("nobody", "somebody")
