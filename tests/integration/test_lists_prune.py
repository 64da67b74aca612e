"""`ps -f` on real containers, `--format` through the CLI, and the prunes with filters:
the engine filters and prunes, the CLI parses the flags and prints Docker's words."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from helpers import daemon

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(engine):
    env = {**os.environ, "DOCKERLAB_ROOT": engine.paths.root}

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        r = subprocess.run(
            [sys.executable, "-m", "dockerlab", *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "Traceback" not in r.stderr, r.stderr
        return r

    return run


def finished(engine, cmd, name=None, **body):
    cid, att = engine.run({"Image": "busybox", "Cmd": list(cmd), **body}, name=name)
    att.collect()
    return cid


def names(records):
    return [r["Names"][0][1:] for r in records]


def built(engine, tmp_path, dockerfile, tag):
    ctx = tmp_path / tag.replace(":", "-")
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    image_id = ""
    for ev in engine.build(str(ctx), tags=[tag]):
        if ev.kind == "aux":
            image_id = ev.image_id
    assert image_id
    return image_id


def test_before_since_and_the_rest_on_real_containers(engine):
    finished(engine, ["true"], name="p1")
    time.sleep(0.01)  # each is created later than the one before
    finished(engine, ["sh", "-c", "exit 3"], name="p2", Labels={"role": "db"})
    time.sleep(0.01)  # likewise
    daemon(engine, name="p3", Labels={"role": "web"}, HostConfig={"Binds": ["data:/data"]})
    time.sleep(0.01)  # likewise
    engine.create({"Image": "busybox", "Cmd": ["true"]}, name="p4")

    def ps(all=True, **filters):
        return names(engine.containers(all=all, filters={k: [v] for k, v in filters.items()}))

    assert ps(before="p3") == ["p2", "p1"]
    assert ps(since="p2") == ["p4", "p3"]
    assert ps(all=False, since="p1") == ["p3"]
    assert ps(name="^p[12]$") == ["p2", "p1"]
    assert ps(exited="3") == ["p2"]
    assert ps(exited="0") == ["p1"]  # p4 (created) never ran
    assert ps(all=False, status="created") == ["p4"]
    assert ps(label="role") == ["p3", "p2"] and ps(label="role=db") == ["p2"]
    assert ps(volume="data") == ps(volume="/data") == ["p3"]
    assert ps(health="none") == ["p4", "p3", "p2", "p1"]
    assert ps(network="bridge") == ["p4", "p3", "p2", "p1"]  # the default network now


def test_ancestor_finds_containers_of_images_built_on_it(engine, tmp_path):
    child = built(engine, tmp_path, "FROM busybox\nRUN touch /child\n", "child:1")
    on_base = daemon(engine, name="on-base")
    on_child = engine.create({"Image": "child:1", "Cmd": ["true"]}, name="on-child")["Id"]

    def ancestor(ref):
        return {r["Id"] for r in engine.containers(all=True, filters={"ancestor": [ref]})}

    assert ancestor("busybox") == ancestor("busybox:latest") == {on_base, on_child}
    assert ancestor("child:1") == ancestor(child[len("sha256:") :][:12]) == {on_child}
    assert ancestor("nosuch") == set()


def test_ps_cli_errors_json_and_sizes(cli, engine):
    daemon(engine, name="web", Labels={"k": "v"})
    r = cli("ps", "-a", "-f", "status=bogus")
    assert (r.returncode, r.stderr) == (
        1,
        "Error response from daemon: Invalid filter 'status=bogus'\n",
    )
    r = cli("ps", "-f", "nope")
    assert r.returncode == 125 and r.stderr.startswith(
        'invalid argument "nope" for "-f, --filter" flag: '
        "bad format of filter (expected name=value)"
    )
    r = cli("ps", "--format", "json")
    assert sorted(json.loads(r.stdout)) == [
        "Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Names",
        "Networks", "Platform", "Ports", "RunningFor", "Size", "State", "Status",
    ]  # fmt: skip
    out = cli("ps", "-s", "--format", "{{.Size}}").stdout
    assert out.startswith("0B (virtual ") and out.endswith("MB)\n")
    assert cli("ps", "--format", "{{.Size}}").stdout.startswith("0B (virtual ")  # as Docker's
    r = cli("inspect", "-f", "{{.Nope}}", "web")
    assert r.returncode == 1 and r.stderr.endswith('map has no entry for key "Nope"\n')
    assert cli("inspect", "-f", "{{.State.Status", "web").returncode == 64
    keys = json.loads(cli("info", "--format", "{{json .}}").stdout)
    assert {"SecurityOptions", "Plugins", "Swarm", "Warnings", "MemoryLimit", "SwapLimit",
            "RegistryConfig", "LiveRestoreEnabled", "NFd", "NGoroutines"} <= set(keys)  # fmt: skip
    # Docker 20.10's 59 keys, ClientInfo (the CLI's own part) and CDISpecDirs (API 1.44)
    assert len(keys) == 61
    assert keys["Swarm"]["LocalNodeState"] == "inactive"


def test_image_prune_untags_then_deletes_and_filters(cli, engine):
    base = engine.commit(engine.create({"Image": "busybox", "Cmd": ["true"]})["Id"], "mine:1")
    engine.image_tag("mine:1", "mine:2")
    labelled = engine.commit(
        engine.create({"Image": "busybox", "Cmd": ["true"]})["Id"],
        "kept:1",
        changes=["LABEL keep=yes"],
    )
    r = cli("image", "prune", "-f")
    assert r.stdout == "Total reclaimed space: 0B\n"
    r = cli("image", "prune", "-a", "-f", "--filter", "until=1h")  # all are younger
    assert r.stdout == "Total reclaimed space: 0B\n"
    r = cli("image", "prune", "-a", "-f", "--filter", "label!=keep")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(
        f"Deleted Images:\nuntagged: mine:1\nuntagged: mine:2\ndeleted: {base}\n"
    ) or r.stdout.startswith(
        f"Deleted Images:\nuntagged: mine:2\nuntagged: mine:1\ndeleted: {base}\n"
    )
    assert r.stdout.endswith("\nTotal reclaimed space: 0B\n")
    assert [i["Id"] for i in engine.images(filters={"reference": ["kept"]})] == [labelled]
    r = cli("image", "prune", "-f", "--filter", "until=bogus")
    assert (r.returncode, r.stderr) == (
        1,
        'Error response from daemon: failed to parse value as time or duration: "bogus"\n',
    )
    r = cli("image", "prune", "-a", stdin="n\n")
    assert r.stdout == (
        "WARNING! This will remove all images without at least one container associated "
        "to them.\nAre you sure you want to continue? [y/N] "
    )


def test_container_and_volume_prune_filters(cli, engine):
    old = engine.create({"Image": "busybox", "Cmd": ["true"], "Labels": {"prune": "1"}})["Id"]
    kept = finished(engine, ["true"])
    r = cli("container", "prune", "-f", "--filter", "until=1h")  # both are younger
    assert r.stdout == "Total reclaimed space: 0B\n"
    r = cli("container", "prune", "-f", "--filter", "label=prune=1")
    assert r.stdout == f"Deleted Containers:\n{old}\n\nTotal reclaimed space: 0B\n"
    assert [c["Id"] for c in engine.containers(all=True)] == [kept]
    assert cli("container", "prune", "-f", "--filter", "nope=1").stderr == (
        "Error response from daemon: Invalid filter 'nope'\n"
    )
    engine.volume_create("labelled", {"tier": "db"})
    engine.volume_create("plain")
    r = cli("volume", "prune", "-f", "--filter", "label=tier")
    assert r.stdout == "Deleted Volumes:\nlabelled\n\nTotal reclaimed space: 0B\n"
    assert cli("volume", "prune", "-f", "--filter", "until=1h").stderr == (
        "Error response from daemon: Invalid filter 'until'\n"
    )
    r = cli("system", "prune", "--filter", "label=x", stdin="n\n")
    assert "\n  Items to be pruned will be filtered with:\n  - label=x\n\nAre you sure" in r.stdout
    assert [v["Name"] for v in engine.volumes()] == ["plain"]
