"""`images -f`, `volume ls -f` and `volume prune`: the engine filters and prunes, the CLI
only parses the flags and prints."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(engine):
    env = {**os.environ, "DOCKERLAB_ROOT": engine.paths.root}

    def run(*args: str) -> subprocess.CompletedProcess:
        r = subprocess.run(
            [sys.executable, "-m", "dockerlab", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "Traceback" not in r.stderr, r.stderr
        return r

    return run


def test_images_filters_and_repository_argument(cli, engine):
    engine.image_tag("busybox", "mine/tool:1")
    both = engine.images(filters={"reference": ["mine/*"]})
    assert [i["RepoTags"] for i in both] == [["mine/tool:1"]]
    assert engine.images(filters={"dangling": ["true"]}) == []
    assert cli("images", "--format", "{{.Repository}}:{{.Tag}}", "mine/tool").stdout == (
        "mine/tool:1\n"
    )
    out = cli("images", "-f", "reference=busybox", "--format", "{{.Repository}}").stdout
    assert out == "busybox\n"
    later = engine.commit(
        engine.create({"Image": "busybox", "Cmd": ["true"]})["Id"],
        "later:1",
        changes=["LABEL tier=web"],
    )
    out = cli("images", "-q", "--no-trunc", "-f", "since=busybox", "-f", "label=tier").stdout
    assert out == later + "\n"
    r = cli("images", "-f", "since=nope:1")
    assert (r.returncode, r.stderr) == (1, "Error response from daemon: No such image: nope:1\n")
    r = cli("images", "-f", "colour=red")
    assert (r.returncode, r.stderr) == (1, "Error response from daemon: Invalid filter 'colour'\n")


def test_volume_ls_filters_by_use_name_and_label(cli, engine):
    engine.volume_create("kept", {"tier": "db"})
    engine.volume_create("loose")
    engine.create({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Binds": ["kept:/d"]}})
    assert [v["Name"] for v in engine.volumes(filters={"dangling": ["true"]})] == ["loose"]
    assert cli("volume", "ls", "-q", "-f", "dangling=false").stdout == "kept\n"
    assert cli("volume", "ls", "-q", "-f", "label=tier=db").stdout == "kept\n"
    assert cli("volume", "ls", "-q", "-f", "name=oos").stdout == "loose\n"
    r = cli("volume", "ls", "-f", "colour=red")
    assert r.returncode == 1 and "Invalid filter 'colour'" in r.stderr


def test_volume_prune_removes_the_unused_and_says_what_it_reclaimed(cli, engine):
    engine.volume_create("kept")
    loose = engine.volume_create("loose")
    with open(os.path.join(loose["Mountpoint"], "blob"), "wb") as f:
        f.write(b"x" * 5000)
    engine.create({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Binds": ["kept:/d"]}})
    r = cli("volume", "prune", "-f")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Deleted Volumes:\nloose\n\nTotal reclaimed space: 5kB\n"
    assert [v["Name"] for v in engine.volumes()] == ["kept"]
