"""One cut state file never takes the CLI down: the container lists as Dead, `rm -f` removes it,
and every verb on every other container (and image) still works, with no traceback."""

from __future__ import annotations

import functools
import json
import os

import helpers
import pytest

from dockerlab import errors
from dockerlab.engine.images.archive import pack_dir

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(engine):
    return functools.partial(helpers.cli, engine.paths.root, clean=True)


def cut(path: str, how: str) -> None:
    """What a crash or a full disk leaves: an empty file, or one cut half way."""
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(b"" if how == "empty" else data[: len(data) // 2])


def mounted(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def wait_gone(pid: int, timeout: float = 20) -> bool:
    """The process has exited (gone or a zombie), within `timeout`."""
    return bool(helpers.wait_until(lambda: helpers.pid_ended(pid), timeout))


@pytest.fixture(
    params=[
        ("state.json", "empty"),
        ("state.json", "cut"),
        ("config.v2.json", "empty"),
        ("config.v2.json", "cut"),
    ],
    ids=lambda p: f"{p[1]}-{p[0]}",
)
def broken(request, engine):
    """(bad container ID, its process's pid, the file cut): a running container whose file
    was cut, beside a running and a stopped healthy one."""
    name, how = request.param
    bad, _ = engine.run({"Image": "busybox", "Cmd": ["sleep", "300"]}, name="bad", attach="")
    pid = engine.inspect(bad)["State"]["Pid"]
    engine.run({"Image": "busybox", "Cmd": ["sleep", "300"]}, name="up", attach="")
    engine.create({"Image": "busybox", "Cmd": ["echo", "hello"]}, name="stopped")
    cut(os.path.join(engine.paths.container(bad), name), how)
    return bad, pid, name


def test_cli_lists_a_broken_container_as_dead_and_works_on_the_others(cli, engine, broken):
    bad, pid, name = broken
    r = cli("ps", "-a", "--format", "{{.ID}}|{{.Names}}|{{.Status}}")
    assert r.returncode == 0, r.stderr
    rows = r.stdout.decode().splitlines()
    assert any(row.startswith(bad[:12] + "|") and row.endswith("|Dead") for row in rows), rows
    assert any("|up|Up " in row for row in rows) and any("|stopped|Created" in row for row in rows)
    info = json.loads(cli("inspect", bad[:12]).stdout)[0]
    state = info["State"]
    assert state["Status"] == "dead" and state["Dead"] is True and not state["Running"]
    assert state["Error"] == f"{name}: unexpected end of JSON input"
    assert info["Id"] == bad
    if name == "state.json":  # the config is intact: everything it says is still shown
        assert info["Name"] == "/bad" and info["Config"]["Cmd"] == ["sleep", "300"]

    r = cli("start", bad[:12])
    assert r.returncode == 1
    assert r.stderr.decode().startswith("Error response from daemon: ")
    assert "marked for removal" in r.stderr.decode()
    # every verb on the other containers works
    assert cli("run", "--rm", "busybox", "echo", "hi").stdout == b"hi\n"
    assert cli("start", "-a", "stopped").stdout == b"hello\n"
    assert cli("logs", "stopped").stdout == b"hello\n"
    assert cli("inspect", "up").returncode == 0
    assert cli("stop", "-t", "0", "up").returncode == 0
    assert cli("rm", "-f", "up").returncode == 0
    assert cli("stop", bad[:12]).returncode == 0  # stopping what is not running: a no-op
    assert cli("logs", bad[:12]).returncode == 0

    r = cli("rm", "-f", bad[:12])
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().strip() == bad[:12]
    assert wait_gone(pid), "rm -f left the dead container's process running"
    assert not os.path.exists(engine.paths.container(bad))
    assert not os.path.exists(engine.paths.layer(bad))
    assert not mounted(os.path.join(engine.paths.layer(bad), "merged"))
    assert not os.path.exists(os.path.join(engine.paths.run, bad))
    assert not [
        c
        for c in os.listdir("/sys/fs/cgroup")
        if os.path.isdir(f"/sys/fs/cgroup/{c}/dockerlab/{bad}")
    ]
    assert cli("ps", "-aq").stdout.decode().split() == [engine.inspect("stopped")["Id"][:12]]


def test_engine_api_survives_a_broken_container(engine, broken):
    bad, pid, name = broken
    listed = {c["Id"]: c for c in engine.containers(all=True)}
    assert listed[bad]["State"] == "dead" and listed[bad]["Status"] == "Dead"
    assert len(listed) == 3
    assert engine.inspect(bad)["State"]["Error"] == f"{name}: unexpected end of JSON input"
    assert engine.containers(all=True, filters={"status": ["dead"]})[0]["Id"] == bad
    with pytest.raises(errors.Conflict):
        engine.start(bad)
    with pytest.raises(errors.Conflict):
        engine.kill(bad)
    with pytest.raises(errors.Conflict):
        engine.exec(bad, ["true"])
    with pytest.raises(errors.DockerlabError):
        engine.commit(bad)
    engine.stop(bad)
    assert engine.system_df()["Containers"]
    assert engine.info()["Containers"] == 3
    cid, _ = engine.run({"Image": "busybox", "Cmd": ["true"]}, name="fresh", attach="")
    engine.wait(cid)
    engine.rename("fresh", "renamed")
    engine.remove("renamed")
    engine.remove(bad, force=True)
    assert wait_gone(pid)
    assert bad not in engine.container_ids()
    with pytest.raises(errors.NoSuchContainer):
        engine.inspect(bad)


def test_a_dead_container_without_rm_is_kept_by_prune_of_nothing_else(engine, broken):
    bad, _pid, _name = broken
    result = engine.prune()  # `container prune` removes stopped containers: dead ones too
    assert bad in (result["ContainersDeleted"] or [])
    assert bad not in engine.container_ids()


# ---- images ----------------------------------------------------------------------------------


def child_image(engine, tmp_path, tag: str) -> str:
    store = engine.image_store
    base = store.resolve("busybox")
    cfg = store.config(base)
    folder = tmp_path / "layer"
    folder.mkdir()
    (folder / "extra.txt").write_text("x" * 1000)
    tar = tmp_path / "layer.tar"
    with open(tar, "wb") as f:
        pack_dir(str(folder), f)
    tars = [store.blob_path(d) for d in cfg["rootfs"]["diff_ids"]] + [str(tar)]
    new = {k: v for k, v in cfg.items() if k != "rootfs"}
    return store.create(tars, new, tags=[tag], parent=base)


@pytest.fixture(params=["empty", "cut"])
def broken_image(request, engine, tmp_path):
    image_id = child_image(engine, tmp_path, "child:1")
    chain = engine.image_store.layer_ids(image_id)
    cut(engine.image_store.blob_path(image_id), request.param)
    return image_id, chain


def test_cli_skips_a_corrupt_image_and_rmi_force_removes_it(cli, engine, broken_image, tmp_path):
    image_id, chain = broken_image
    r = cli("images", "--format", "{{.Repository}}:{{.Tag}}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().split() == ["busybox:latest"]  # Docker skips an invalid image
    assert cli("images", "-a").returncode == 0
    r = cli("system", "df")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines()[1].split()[:2] == ["Images", "1"]
    for verb in (
        ("history", "child:1"),
        ("image", "inspect", "child:1"),
        ("save", "-o", str(tmp_path / "x.tar"), "child:1"),
        ("run", "--rm", "child:1", "true"),
    ):
        r = cli(*verb)
        assert r.returncode in (1, 125), (verb, r.stderr)
        assert "corrupt" in r.stderr.decode(), (verb, r.stderr)
    # everything else still works
    assert cli("history", "busybox").returncode == 0
    assert cli("save", "-o", str(tmp_path / "b.tar"), "busybox").returncode == 0
    assert cli("run", "--rm", "busybox", "echo", "ok").stdout == b"ok\n"
    r = cli("rmi", "-f", "child:1")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "Untagged: child:1" in out and f"Deleted: {image_id}" in out
    assert not os.path.exists(engine.image_store.blob_path(image_id))
    assert not os.path.exists(engine.image_store.layers.dir(chain[-1]))
    assert os.path.exists(engine.image_store.layers.dir(chain[0]))  # busybox's, still used
    assert cli("images", "-aq").stdout.decode().split() == [
        engine.image_store.resolve("busybox").split(":")[1][:12]
    ]


def test_engine_api_survives_a_corrupt_image(engine, broken_image):
    image_id, _chain = broken_image
    assert [i["RepoTags"] for i in engine.images(all=True)] == [["busybox:latest"]]
    df = engine.system_df()
    assert len(df["Images"]) == 1
    with pytest.raises(errors.DockerlabError, match="corrupt"):
        engine.image_history("child:1")
    with pytest.raises(errors.DockerlabError, match="corrupt"):
        engine.create({"Image": "child:1"})
    engine.image_remove("child:1", force=True)
    assert [r for r in engine.image_remove("busybox") if "Deleted" in r]


def test_a_cut_layer_record_or_store_index_gives_no_traceback(cli, engine):
    store = engine.image_store
    chain = store.layer_ids(store.resolve("busybox"))
    cut(os.path.join(store.layers.dir(chain[-1]), "layer.json"), "cut")
    assert cli("images").returncode == 0
    assert cli("system", "df").returncode == 0
    assert cli("history", "busybox").returncode == 0
    cut(os.path.join(store.root, "index.json"), "cut")
    r = cli("images")
    assert r.returncode == 1
    assert r.stderr.decode() == (
        "Error response from daemon: the image store is corrupt: "
        "image/index.json cannot be read (unexpected end of JSON "
        "input)\n"
    )
