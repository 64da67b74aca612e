"""A CLI killed (SIGKILL) in the middle of `commit`, `build`, `load` or `rm` leaves nothing
behind once the next verb that takes a store lock has run: no temp tars, staging folders,
partial blobs, orphan layers, frozen or running containers. `system df` counts what is left
before that, and `system prune` removes it."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import tarfile

import helpers
import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(engine):
    def run(*args: str, input: bytes | None = None, timeout: float = 60):
        return helpers.cli(engine.paths.root, *args, input=input, timeout=timeout, clean=True)

    def start(*args: str, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL) -> subprocess.Popen:
        return helpers.cli_popen(
            engine.paths.root, *args, stdin=stdin, stdout=stdout, stderr=subprocess.DEVNULL
        )

    run.start = start
    return run


def poll(check, timeout: float = 60, what: str = "") -> None:
    helpers.wait_until(check, timeout, interval=0.005, what=what or "a condition")


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def tmp_entries(engine) -> list[str]:
    try:
        return [e for e in os.listdir(engine.paths.tmp) if not e.startswith(".")]
    except FileNotFoundError:
        return []


def tmp_size(engine) -> int:
    total = 0
    for folder, _dirs, files in os.walk(engine.paths.tmp):
        for f in files:
            try:
                total += os.lstat(os.path.join(folder, f)).st_size
            except OSError:
                pass
    return total


def snapshot(engine) -> dict[str, set[str]]:
    """What the image store holds on disk (blobs and image layer folders)."""
    blobs = set(os.listdir(engine.image_store.blobs))
    layers = {
        e
        for e in os.listdir(engine.paths.overlay)
        if len(e) == 64 and os.path.exists(os.path.join(engine.paths.overlay, e, "link"))
    }
    return {"blobs": blobs, "layers": layers}


def mounts_under(root: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(root + "/")]


def leftovers(engine, containers: set[str]) -> list[str]:
    """Anything on disk that is neither the image store nor one of ``containers``."""
    out = [f"tmp/{e}" for e in tmp_entries(engine)]
    out += [
        f"containers/{e}"
        for e in os.listdir(engine.paths.containers)
        if e != ".lock" and e not in containers
    ]
    for e in os.listdir(engine.paths.overlay):
        folder = os.path.join(engine.paths.overlay, e)
        if e in ("l", ".incomplete") or os.path.exists(os.path.join(folder, "link")):
            continue
        if e.removesuffix("-init") not in containers:
            out.append(f"overlay/{e}")
    out += [m for m in mounts_under(engine.paths.root) if not any(c in m for c in containers)]
    return out


def assert_nothing_left(engine, before: dict[str, set[str]], containers: set[str]) -> None:
    # `run --rm` finishes removing its own container just after it exits: wait for that
    helpers.wait_until(lambda: not leftovers(engine, containers))
    assert leftovers(engine, containers) == []
    assert snapshot(engine) == before
    assert set(engine.container_ids()) == containers


def test_commit_killed_mid_way_is_cleaned_and_its_container_thawed(cli, engine):
    cid, _ = engine.run(
        {
            "Image": "busybox",
            "Cmd": [
                "sh",
                "-c",
                "dd if=/dev/urandom of=/big bs=1M count=200 2>/dev/null; "
                "touch /ready; while true; do sleep 1; done",
            ],
        },
        attach="",
    )
    upper = os.path.join(engine.paths.layer(cid), "diff")
    poll(lambda: os.path.exists(os.path.join(upper, "ready")), what="the container's data")
    before = snapshot(engine)
    proc = cli.start("commit", cid, "big:1")
    poll(lambda: tmp_size(engine) > 20 << 20, what="commit's temp tar to grow")
    kill(proc)
    assert tmp_size(engine) > 20 << 20  # what a killed commit leaves, until the next verb
    assert engine.inspect(cid)["State"]["Status"] == "paused"  # frozen by the dead commit
    rows = cli("system", "df", "--format", "{{.Type}}|{{.TotalCount}}").stdout.decode()
    assert rows.splitlines()[-1] == "Interrupted work|1", rows
    assert cli("run", "--rm", "busybox", "true").returncode == 0  # takes the store lock
    assert_nothing_left(engine, before, {cid})
    assert engine.inspect(cid)["State"]["Status"] == "running"
    assert cli("system", "df").stdout.decode().count("Interrupted work") == 0


def archive_with_big_layer(tmp_path, size: int) -> bytes:
    """A docker-save archive of one image whose single layer holds ``size`` bytes."""
    import hashlib

    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tf:
        info = tarfile.TarInfo("big")
        info.size = size
        tf.addfile(info, io.BytesIO(os.urandom(1 << 20) * (size >> 20)))
    data = layer.getvalue()
    diff = "sha256:" + hashlib.sha256(data).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [diff]},
        }
    ).encode()
    cfg_hex = hashlib.sha256(config).hexdigest()
    manifest = json.dumps(
        [{"Config": f"{cfg_hex}.json", "RepoTags": ["big:1"], "Layers": ["layer/layer.tar"]}]
    ).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tf:
        for name, blob in (
            (f"{cfg_hex}.json", config),
            ("manifest.json", manifest),
            ("layer/layer.tar", data),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tf.addfile(info, io.BytesIO(blob))
    return out.getvalue()


def test_load_killed_while_staging_leaves_nothing(cli, engine, tmp_path):
    data = archive_with_big_layer(tmp_path, 64 << 20)
    before = snapshot(engine)
    proc = cli.start("load", stdin=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(data[: len(data) // 2])  # half the archive, then the CLI is killed
    proc.stdin.flush()
    poll(lambda: tmp_size(engine) > 16 << 20, what="load's staging folder to fill")
    kill(proc)
    proc.stdin.close()
    assert tmp_entries(engine)
    assert cli("run", "--rm", "busybox", "true").returncode == 0
    assert_nothing_left(engine, before, set())


def test_load_killed_while_writing_the_store_leaves_no_orphan_blob_or_layer(cli, engine, tmp_path):
    archive = tmp_path / "big.tar"
    archive.write_bytes(archive_with_big_layer(tmp_path, 256 << 20))
    before = snapshot(engine)
    proc = cli.start("load", "-i", str(archive))
    # the store phase: a new blob or layer folder appears under the image store's lock
    poll(
        lambda: snapshot(engine) != before or proc.poll() is not None,
        what="load to write the store",
    )
    kill(proc)
    if snapshot(engine) == before and cli("images", "-q", "big:1").stdout:
        pytest.skip("the load finished before it could be killed")
    assert cli("tag", "busybox", "other:1").returncode == 0  # takes the image store's lock
    after = snapshot(engine)
    loaded = cli("images", "-q", "big:1").stdout.strip()
    if not loaded:  # killed before it registered the image: nothing of it may stay
        assert after == before
    assert tmp_entries(engine) == []
    assert not [b for b in after["blobs"] if len(b) != 64]


def test_build_killed_mid_run_kills_and_removes_its_container(cli, engine, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN touch /started && sleep 300\n")
    before = snapshot(engine)
    proc = cli.start("build", "-t", "slow:1", str(ctx))

    def started() -> bool:
        ids = engine.container_ids()
        return bool(ids) and os.path.exists(
            os.path.join(engine.paths.layer(ids[0]), "diff", "started")
        )

    poll(started, what="the build's RUN step")
    cid = engine.container_ids()[0]
    pid = engine.inspect(cid)["State"]["Pid"]
    kill(proc)
    assert engine.inspect(cid)["State"]["Running"]  # left running by the dead build
    assert cli("run", "--rm", "busybox", "true").returncode == 0
    assert gone(pid)
    assert_nothing_left(engine, before, set())


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_export_killed_while_its_mount_is_up_leaves_no_mount(cli, engine):
    cid, _ = engine.run(
        {"Image": "busybox", "Cmd": ["dd", "if=/dev/urandom", "of=/big", "bs=1M", "count=32"]},
        attach="",
    )
    engine.wait(cid)
    proc = cli.start("export", cid, stdout=subprocess.PIPE)  # never read: export blocks
    poll(
        lambda: any("/tmp/" in m for m in mounts_under(engine.paths.root)),
        what="export's temporary mount",
    )
    kill(proc)
    assert proc.stdout is not None
    proc.stdout.close()
    assert cli("run", "--rm", "busybox", "true").returncode == 0
    assert_nothing_left(engine, snapshot(engine), {cid})


def test_build_from_stdin_killed_leaves_no_context_folder(cli, engine):
    dockerfile = b"FROM busybox\nRUN sleep 300\n"
    proc = cli.start("build", "-", stdin=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(dockerfile)
    proc.stdin.close()
    poll(lambda: len(engine.container_ids()) == 1, what="the build's RUN step")
    kill(proc)
    assert tmp_entries(engine)  # its context and work folders
    assert cli("run", "--rm", "busybox", "true").returncode == 0
    assert tmp_entries(engine) == [] and engine.container_ids() == []


def test_rm_killed_mid_way_is_finished_by_the_next_verb(cli, engine):
    cid, _ = engine.run(
        {
            "Image": "busybox",
            "Cmd": [
                "sh",
                "-c",
                "mkdir /many && cd /many && i=0; while [ $i -lt 30000 ]; do "
                "echo x > f$i; i=$((i+1)); done",
            ],
        },
        attach="",
    )
    engine.wait(cid)
    before = snapshot(engine)
    many = os.path.join(engine.paths.layer(cid), "diff", "many")
    proc = cli.start("rm", cid)

    def deleting() -> bool:  # killed while the (big) writable layer is being deleted
        try:
            return len(os.listdir(many)) < 29000
        except FileNotFoundError:
            return True

    poll(deleting, what="rm to delete the layer")
    kill(proc)
    # it finishes deleting ~29 000 files first: minutes on a disk other tests saturate
    assert cli("run", "--rm", "busybox", "true", timeout=240).returncode == 0
    assert not os.path.exists(engine.paths.layer(cid))
    assert not os.path.exists(engine.paths.layer(cid + "-init"))
    assert_nothing_left(engine, before, set())


def test_system_prune_removes_interrupted_work_and_says_what_it_reclaimed(cli, engine):
    cid = engine.create({"Image": "busybox", "Cmd": ["true"]})["Id"]
    folder = os.path.join(engine.paths.tmp, "load-999999-1-abc")  # a dead owner's staging
    os.makedirs(folder)
    with open(os.path.join(folder, "f1"), "wb") as f:
        f.write(b"x" * 3_000_000)
    orphan = os.path.join(engine.image_store.blobs, "0" * 64)  # a blob nothing references
    with open(orphan, "wb") as f:
        f.write(b"y" * 1_000_000)
    rows = {line.split()[0]: line for line in cli("system", "df").stdout.decode().splitlines()}
    assert rows["Interrupted"].split()[2:4] == ["2", "0"]
    r = cli("system", "prune", input=b"n\n")
    assert r.stdout.decode().startswith("WARNING! This will remove:\n  - all stopped containers\n")
    assert os.path.exists(folder)
    r = cli("system", "prune", "-f")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert f"Deleted Containers:\n{cid}\n" in out
    assert out.endswith("Total reclaimed space: 4MB\n"), out
    assert not os.path.exists(folder) and not os.path.exists(orphan)
    assert engine.images()  # busybox has no container but is not dangling: kept without -a
    assert "Interrupted" not in cli("system", "df").stdout.decode()


def test_a_dead_image_writer_is_collected_but_what_containers_use_is_kept(engine, tmp_path):
    from dockerlab.engine.images.archive import pack_dir

    store = engine.image_store
    base = store.resolve("busybox")
    cfg = store.config(base)
    (tmp_path / "layer").mkdir()
    (tmp_path / "layer" / "extra.txt").write_text("still here\n")
    with open(tmp_path / "layer.tar", "wb") as f:
        pack_dir(str(tmp_path / "layer"), f)
    child = store.create(
        [*(store.blob_path(d) for d in cfg["rootfs"]["diff_ids"]), str(tmp_path / "layer.tar")],
        {k: v for k, v in cfg.items() if k != "rootfs"},
        tags=["child:1"],
        parent=base,
    )
    cid = engine.create({"Image": "child:1", "Cmd": ["cat", "/extra.txt"]})["Id"]
    engine.image_remove("child:1", force=True)  # kept on disk for the container
    orphan = os.path.join(store.blobs, "f" * 64)
    with open(orphan, "wb") as f:
        f.write(b"left by a killed load")
    partial = os.path.join(store.blobs, ".import.999999.tmp")
    with open(partial, "wb") as f:
        f.write(b"half a layer")
    open(os.path.join(engine.paths.tmp, "imagewrite-999999-1-abc"), "w").close()
    engine.image_tag("busybox", "again:1")  # the next writer collects what the dead one left
    assert not os.path.exists(orphan) and not os.path.exists(partial)
    assert tmp_entries(engine) == []
    assert os.path.exists(store.blob_path(child))
    engine.start(cid)
    assert engine.wait(cid)["StatusCode"] == 0
    assert b"still here" in b"".join(e.data for e in engine.logs(cid))


def test_system_prune_all_and_volumes_as_docker(cli, engine):
    engine.volume_create("v1")
    used = engine.volume_create("v2")["Name"]
    keep = engine.create(
        {"Image": "busybox", "Cmd": ["sleep", "30"], "HostConfig": {"Binds": [f"{used}:/data"]}}
    )["Id"]
    engine.start(keep)
    r = cli("system", "prune", "-a", "--volumes", input=b"\n")
    assert r.stdout.decode() == (
        "WARNING! This will remove:\n  - all stopped containers\n"
        "  - all networks not used by at least one container\n"
        "  - all volumes not used by at least one container\n"
        "  - all images without at least one container associated to them\n"
        "  - all work left by interrupted commands (staging folders, temporary files, "
        "unreferenced blobs and layers)\n\nAre you sure you want to continue? [y/N] "
    )
    r = cli("system", "prune", "-a", "--volumes", "-f")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().startswith("Deleted Volumes:\nv1\n\n")
    assert "Deleted Images" not in r.stdout.decode()  # busybox is used by a running one
    assert {v["Name"] for v in engine.volumes()} == {"v2"}
    engine.remove(keep, force=True)
    r = cli("system", "prune", "-a", "-f")
    out = r.stdout.decode()
    assert out.startswith("Deleted Images:\nuntagged: busybox:latest\ndeleted: sha256:"), out
    assert engine.images(all=True) == []
    assert out.splitlines()[-1].startswith("Total reclaimed space: ")
    assert out.splitlines()[-1] != "Total reclaimed space: 0B"
