"""Bind mounts and named/anonymous volumes on real containers."""

from __future__ import annotations

import os

import pytest

from dockerlab import errors

pytestmark = pytest.mark.integration


def run(engine, cmd, binds, **body):
    cid, att = engine.run(
        {"Image": "busybox", "Cmd": list(cmd), "HostConfig": {"Binds": binds}, **body}
    )
    return cid, att.collect()


# ---- bind mounts ----------------------------------------------------------------------------
def test_bind_mount_is_shared_both_ways(engine, tmp_path):
    host = tmp_path / "share"
    host.mkdir()
    (host / "from-host").write_text("hello\n")
    _, (code, out, err) = run(
        engine, ["sh", "-c", "cat /mnt/from-host; echo back > /mnt/from-ctr"], [f"{host}:/mnt"]
    )
    assert (code, out) == (0, b"hello\n"), err
    assert (host / "from-ctr").read_text() == "back\n"


def test_read_only_bind_refuses_writes(engine, tmp_path):
    host = tmp_path / "ro"
    host.mkdir()
    _, (code, _, err) = run(engine, ["touch", "/mnt/x"], [f"{host}:/mnt:ro"])
    assert code != 0
    assert b"Read-only file system" in err
    assert not (host / "x").exists()


def test_read_only_bind_is_still_readable(engine, tmp_path):
    host = tmp_path / "ro"
    host.mkdir()
    (host / "f").write_text("r\n")
    _, (code, out, _) = run(engine, ["cat", "/mnt/f"], [f"{host}:/mnt:ro"])
    assert (code, out) == (0, b"r\n")


def test_bind_of_a_single_file(engine, tmp_path):
    f = tmp_path / "conf"
    f.write_text("setting=1\n")
    _, (code, out, _) = run(engine, ["cat", "/etc/app.conf"], [f"{f}:/etc/app.conf"])
    assert (code, out) == (0, b"setting=1\n")


def test_missing_host_folder_is_created(engine, tmp_path):
    host = tmp_path / "made" / "by" / "engine"
    _, (code, _, _) = run(engine, ["touch", "/mnt/x"], [f"{host}:/mnt"])
    assert code == 0 and (host / "x").exists()


def test_bind_mount_shows_in_inspect_mounts(engine, tmp_path):
    cid = engine.create(
        {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Binds": [f"{tmp_path}:/mnt:ro"]}}
    )["Id"]
    (m,) = engine.inspect(cid)["Mounts"]
    assert m["Type"] == "bind" and m["Source"] == str(tmp_path)
    assert m["Destination"] == "/mnt" and m["RW"] is False and m["Mode"] == "ro"


def test_relative_destination_is_invalid(engine, tmp_path):
    with pytest.raises(errors.InvalidParameter):
        engine.create(
            {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Binds": [f"{tmp_path}:relative"]}}
        )


def test_bind_is_not_in_the_writable_layer(engine, tmp_path):
    cid, _ = run(engine, ["touch", "/mnt/x"], [f"{tmp_path}:/mnt"])
    upper = engine.inspect(cid)["GraphDriver"]["Data"]["UpperDir"]
    assert not os.path.exists(os.path.join(upper, "mnt", "x"))


# ---- named volumes --------------------------------------------------------------------------
def test_named_volume_persists_across_containers(engine):
    run(engine, ["sh", "-c", "echo kept > /data/f"], ["store:/data"])
    _, (code, out, _) = run(engine, ["cat", "/data/f"], ["store:/data"])
    assert (code, out) == (0, b"kept\n")
    vol = engine.volume_inspect("store")
    with open(os.path.join(vol["Mountpoint"], "f")) as f:
        assert f.read() == "kept\n"


def test_named_volume_read_only(engine):
    _, (code, _, err) = run(engine, ["touch", "/data/x"], ["rovol:/data:ro"])
    assert code != 0 and b"Read-only file system" in err


def test_volume_create_ls_inspect(engine):
    made = engine.volume_create("myvol", labels={"k": "v"})
    assert made["Name"] == "myvol" and made["Driver"] == "local"
    assert made["Labels"] == {"k": "v"} and made["Scope"] == "local"
    assert os.path.isdir(made["Mountpoint"])
    assert "myvol" in [v["Name"] for v in engine.volumes()]
    assert engine.volume_inspect("myvol") == made


def test_volume_create_existing_name_returns_it(engine):
    first = engine.volume_create("again")
    assert engine.volume_create("again") == first


def test_volume_create_invalid_name(engine):
    with pytest.raises(errors.InvalidParameter):
        engine.volume_create("bad/name")


def test_volume_inspect_unknown(engine):
    with pytest.raises(errors.NoSuchVolume) as exc:
        engine.volume_inspect("missing")
    assert "no such volume" in str(exc.value)


def test_volume_rm_in_use_is_conflict_even_when_stopped(engine):
    cid, _ = run(engine, ["true"], ["busyvol:/data"])
    with pytest.raises(errors.Conflict) as exc:
        engine.volume_remove("busyvol")
    assert "volume is in use" in str(exc.value) and cid in str(exc.value)
    assert "busyvol" in [v["Name"] for v in engine.volumes()]
    engine.remove(cid)
    engine.volume_remove("busyvol")
    assert "busyvol" not in [v["Name"] for v in engine.volumes()]


def test_volume_rm_in_use_by_running_container_is_conflict(engine):
    cid, _ = engine.run(
        {"Image": "busybox", "Cmd": ["sleep", "30"], "HostConfig": {"Binds": ["livevol:/data"]}},
        attach="",
    )
    with pytest.raises(errors.Conflict):
        engine.volume_remove("livevol")


def test_volume_rm_unknown(engine):
    with pytest.raises(errors.NoSuchVolume):
        engine.volume_remove("never-made")


def test_anonymous_volume(engine):
    cid, (code, _, _) = run(engine, ["sh", "-c", "echo anon > /data/f"], ["/data"])
    assert code == 0
    (m,) = engine.inspect(cid)["Mounts"]
    assert m["Type"] == "volume" and len(m["Name"]) == 64 and m["Destination"] == "/data"
    vol = engine.volume_inspect(m["Name"])
    assert "com.docker.volume.anonymous" in vol["Labels"]
    with open(os.path.join(vol["Mountpoint"], "f")) as f:
        assert f.read() == "anon\n"


def test_empty_named_volume_is_populated_from_the_image(engine):
    _, (code, out, _) = run(engine, ["ls", "/etc/passwd"], ["etcvol:/etc"])
    assert (code, out) == (0, b"/etc/passwd\n")
    vol = engine.volume_inspect("etcvol")
    assert os.path.exists(os.path.join(vol["Mountpoint"], "passwd"))
