"""Crash and full-disk safety of `create`: nothing half-made is ever shown or left behind."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from dockerlab import errors
from dockerlab.engine import Engine
from dockerlab.engine.containers.store import make_layers


def test_a_create_cut_short_is_invisible_and_cleaned_on_the_next_load(engine):
    # What a crash between the first mkdir and the final rename leaves on disk.
    cid = "c" * 64
    staging = os.path.join(engine.paths.containers, f".creating-{cid}")
    os.makedirs(staging)
    make_layers(engine.paths, cid)
    with open(os.path.join(staging, "config.v2.json"), "w") as f:
        f.write('{"half": ')  # a torn write
    assert engine.containers(all=True) == []
    with pytest.raises(errors.NoSuchContainer):
        engine.inspect(cid)
    engine.create({"Image": "busybox", "Cmd": ["true"]})  # the next load cleans up
    assert not os.path.exists(staging)
    assert not os.path.exists(engine.paths.layer(cid))
    assert not os.path.exists(engine.paths.layer(cid + "-init"))
    assert len(engine.containers(all=True)) == 1


def test_a_removal_cut_short_is_finished_on_the_next_load(engine):
    cid = engine.create({"Image": "busybox", "Cmd": ["true"]})["Id"]
    os.rename(
        engine.paths.container(cid), os.path.join(engine.paths.containers, f".removing-{cid}")
    )
    assert engine.containers(all=True) == []
    engine.create({"Image": "busybox", "Cmd": ["true"]})
    assert not os.path.exists(engine.paths.layer(cid))
    assert not os.path.exists(os.path.join(engine.paths.containers, f".removing-{cid}"))


@pytest.fixture
def small_disk(busybox_root, tmp_path):
    """A state root on a 16 MiB tmpfs holding busybox:latest: room for little else."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)], check=True)
    try:
        shutil.copytree(busybox_root, mnt / "root", symlinks=True)
        yield Engine(str(mnt / "root"))
    finally:
        from dockerlab.engine.network import record

        record.remove_default_bridge(Engine(str(mnt / "root")).paths)  # if it ran one
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_during_create_gives_a_clear_error_and_leaves_nothing(small_disk):
    eng = small_disk
    filler = os.path.join(eng.paths.tmp, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    for chunk in (65536, 512):  # fill the disk to the last block
        try:
            while True:
                os.write(fd, b"\0" * chunk)
        except OSError:
            pass
    os.close(fd)
    with pytest.raises(errors.DockerlabError) as info:
        for _ in range(50):  # whatever step hits ENOSPC first
            eng.create({"Image": "busybox", "Cmd": ["true"], "Env": ["PAD=" + "x" * 4096]})
    assert "no space left on device" in str(info.value)  # Go's words, as Docker's
    listing = [e for e in os.listdir(eng.paths.containers) if e != ".lock"]
    usable = [e for e in listing if not e.startswith(".")]
    for cid in usable:  # whatever was made before the disk filled up works
        assert eng.inspect(cid)["State"]["Status"] == "created"
    assert not [e for e in listing if e.startswith(".creating-")]
