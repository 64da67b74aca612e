"""`commit` on real containers: a new image from the writable layer, Docker's metadata."""

from __future__ import annotations

import io
import os

import pytest
from helpers import wait_until

from dockerlab.errors import InvalidParameter


def run(engine, script: str, image: str = "busybox", **body) -> str:
    cid, att = engine.run({"Image": image, "Cmd": ["sh", "-c", script], **body})
    code, out, err = att.collect()
    assert code == 0, err
    return cid


def output(engine, image: str, script: str) -> str:
    cid, att = engine.run({"Image": image, "Cmd": ["sh", "-c", script]})
    code, out, err = att.collect()
    assert code == 0, err
    engine.remove(cid)
    return out.decode()


def test_a_committed_image_holds_the_changes_on_a_new_layer(engine):
    cid = run(engine, "echo hi > /root/z && rm /etc/passwd && mkdir /d && touch /d/f")
    image_id = engine.commit(cid, "snap:1")
    assert image_id.startswith("sha256:") and len(image_id) == 71
    info = engine.image_inspect("snap:1")
    base = engine.image_inspect("busybox")
    assert info["Id"] == image_id and info["Parent"] == base["Id"]
    assert info["RootFS"]["Layers"][:-1] == base["RootFS"]["Layers"]
    assert len(info["RootFS"]["Layers"]) == len(base["RootFS"]["Layers"]) + 1
    assert (
        output(engine, "snap:1", "cat /root/z; ls /d; test -e /etc/passwd || echo gone")
        == "hi\nf\ngone\n"
    )


def test_history_gets_the_command_the_message_and_the_author(engine):
    cid = run(engine, "touch /x")
    engine.commit(cid, "snap:1", message="my change", author="Ann <ann@example.com>")
    newest = engine.image_history("snap:1")[0]
    assert newest["CreatedBy"] == "sh -c touch /x"
    assert newest["Comment"] == "my change"
    info = engine.image_inspect("snap:1")
    assert info["Author"] == "Ann <ann@example.com>" and info["Comment"] == "my change"


def test_changes_apply_dockerfile_lines_over_the_containers_config(engine):
    cid = run(engine, "touch /x", Env=["KEEP=1"])
    engine.commit(
        cid,
        "snap:1",
        changes=[
            'CMD ["cat", "/etc/greeting"]',
            "ENV GREETING=hi",
            "WORKDIR /tmp",
            "EXPOSE 8080",
            "LABEL a=b",
        ],
    )
    cfg = engine.image_inspect("snap:1")["Config"]
    assert cfg["Cmd"] == ["cat", "/etc/greeting"]
    assert cfg["Env"][0] == "GREETING=hi" and "KEEP=1" in cfg["Env"]
    assert not any(e.startswith("HOSTNAME=") for e in cfg["Env"])
    assert cfg["WorkingDir"] == "/tmp" and cfg["ExposedPorts"] == {"8080/tcp": {}}
    assert cfg["Labels"] == {"a": "b"}
    assert output(engine, "snap:1", "pwd; echo $GREETING $KEEP") == "/tmp\nhi 1\n"


def test_without_changes_the_image_keeps_the_containers_command(engine):
    cid = run(engine, "echo baked > /msg")
    engine.commit(cid, "snap:1")
    assert engine.image_inspect("snap:1")["Config"]["Cmd"] == ["sh", "-c", "echo baked > /msg"]


def test_an_instruction_commit_cannot_apply_is_refused_before_anything_is_made(engine):
    cid = run(engine, "true")
    before = len(engine.images(all=True))
    with pytest.raises(InvalidParameter, match="run is not a valid change command"):
        engine.commit(cid, changes=["RUN echo"])
    assert len(engine.images(all=True)) == before


def test_an_empty_writable_layer_adds_a_history_entry_but_no_layer_as_docker_does(engine):
    cid = run(engine, "true")
    engine.commit(cid, "snap:1")
    info = engine.image_inspect("snap:1")
    assert info["RootFS"]["Layers"] == engine.image_inspect("busybox")["RootFS"]["Layers"]
    layers = engine.image_layers("snap:1")
    assert layers[-1]["EmptyLayer"] is True and layers[-1]["CreatedBy"] == "sh -c true"


def test_a_running_container_is_paused_while_committing_and_keeps_running(engine):
    cid, _ = engine.run(
        {"Image": "busybox", "Cmd": ["sh", "-c", "echo 1 > /count; exec sleep 30"]}, attach=""
    )
    count = os.path.join(engine.inspect(cid)["GraphDriver"]["Data"]["UpperDir"], "count")
    # the file is written, not only created
    wait_until(lambda: os.path.exists(count) and open(count).read() == "1\n")
    frozen = []
    c = engine.store.find(cid)
    cg = c.cgroup()
    real_freeze = type(cg).freeze

    def spy(self):
        real_freeze(self)
        frozen.append(self.frozen())

    type(cg).freeze = spy
    try:
        engine.commit(cid, "live:1")
    finally:
        type(cg).freeze = real_freeze
    assert frozen == [True]
    state = engine.inspect(cid)["State"]
    assert state["Running"] and not state["Paused"]
    assert output(engine, "live:1", "cat /count") == "1\n"
    engine.commit(cid, "live:2", pause=False)
    assert engine.inspect(cid)["State"]["Status"] == "running"


def test_commit_holds_the_container_lock_so_a_pause_meanwhile_is_not_undone(engine):
    """Lock-then-act: while the layer is packed nothing else acts on the container; a
    `pause` that comes meanwhile waits, so the commit's thaw cannot undo it."""
    import fcntl
    import threading

    cid, _ = engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, attach="")
    c = engine.store.find(cid)
    cg = c.cgroup()
    real_freeze = type(cg).freeze
    held: list[bool] = []
    pausing: list[threading.Thread] = []

    def spy(self):
        real_freeze(self)
        if pausing:  # the pause's own freeze
            return
        with open(os.path.join(c.dir, "lock"), "rb") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held.append(True)
            else:
                held.append(False)
                fcntl.flock(f, fcntl.LOCK_UN)
        t = threading.Thread(target=engine.pause, args=(cid,))
        t.start()
        pausing.append(t)

    type(cg).freeze = spy
    try:
        engine.commit(cid, "locked:1")
    finally:
        type(cg).freeze = real_freeze
    pausing[0].join(timeout=60)
    assert held == [True]
    assert engine.inspect(cid)["State"]["Status"] == "paused"
    assert c.cgroup().frozen()  # the pause came after the commit's thaw, and holds
    engine.unpause(cid)


def test_committing_a_paused_container_leaves_it_paused(engine):
    cid, _ = engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, attach="")
    engine.pause(cid)
    engine.commit(cid)
    assert engine.inspect(cid)["State"]["Status"] == "paused"
    engine.unpause(cid)


def test_a_digest_reference_is_refused(engine):
    cid = run(engine, "true")
    with pytest.raises(InvalidParameter):
        engine.commit(cid, "snap@sha256:" + "0" * 64)


def test_cli_commit_prints_the_image_id_and_tags_it(engine):
    from dockerlab.cli import main

    cid = run(engine, "touch /x")
    out, err = io.StringIO(), io.StringIO()
    code = main(
        [
            "--root",
            engine.paths.root,
            "commit",
            "-m",
            "msg",
            "-a",
            "me",
            "-c",
            "ENV A=1",
            "--change",
            'CMD ["sh"]',
            "-p=false",
            cid,
            "mine",
        ],
        out,
        err,
    )
    assert code == 0, err.getvalue()
    image_id = out.getvalue().strip()
    assert image_id == engine.image_inspect("mine:latest")["Id"]
    assert engine.image_inspect("mine")["Config"]["Env"][0] == "A=1"
    code = main(
        ["--root", engine.paths.root, "container", "commit", "-c", "RUN x", cid], io.StringIO(), err
    )
    assert code == 1
    assert err.getvalue().endswith(
        "Error response from daemon: run is not a valid change command\n"
    )
