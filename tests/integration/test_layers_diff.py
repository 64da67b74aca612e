"""`diff` on real containers: Docker's A/C/D lines from the writable layer."""

from __future__ import annotations

import io

from helpers import wait_until


def run(engine, script: str, image: str = "busybox", **body) -> str:
    cid, att = engine.run({"Image": image, "Cmd": ["sh", "-c", script], **body})
    code, out, err = att.collect()
    assert code == 0, err
    return cid


def lines(engine, cid) -> list[str]:
    return [f"{'CAD'[c['Kind']]} {c['Path']}" for c in engine.diff(cid)]


def test_diff_lists_added_changed_and_deleted_paths_sorted_with_their_parents(engine):
    cid = run(engine, "mkdir -p /a/b && touch /a/b/c && rm /etc/passwd && echo hi > /root/z")
    assert lines(engine, cid) == [
        "A /a",
        "A /a/b",
        "A /a/b/c",
        "C /etc",
        "D /etc/passwd",
        "C /root",
        "A /root/z",
    ]


def test_a_deleted_folder_is_listed_once(engine):
    cid = run(engine, "mkdir -p /d/e && touch /d/e/f")
    engine.commit(cid, "withdir:1")
    cid = run(engine, "rm -rf /d", image="withdir:1")
    assert lines(engine, cid) == ["D /d"]


def test_a_folder_deleted_and_made_again_is_changed_with_its_old_files_deleted(engine):
    cid = run(engine, "mkdir -p /d/sub && touch /d/x /d/y /d/sub/z")
    engine.commit(cid, "withdir:1")
    cid = run(
        engine,
        "rm -rf /d && mkdir /d && touch /d/new && rm /d/new && touch /d/n2",
        image="withdir:1",
    )
    assert lines(engine, cid) == ["C /d", "A /d/n2", "D /d/sub", "D /d/x", "D /d/y"]


def test_the_engines_own_files_are_never_listed(engine):
    cid = run(
        engine,
        "echo 1.2.3.4 x >> /etc/hosts; echo n > /etc/hostname; "
        "echo > /etc/resolv.conf; touch /.dockerenv; true",
    )
    assert lines(engine, cid) == []


def test_a_container_that_changed_nothing_has_an_empty_diff(engine):
    assert engine.diff(run(engine, "true")) == []


def test_diff_of_a_running_container_sees_its_changes_live(engine):
    cid, _ = engine.run(
        {"Image": "busybox", "Cmd": ["sh", "-c", "touch /tmp/ready; exec sleep 30"]}, attach=""
    )
    wait_until(lambda: engine.diff(cid))
    assert lines(engine, cid) == ["C /tmp", "A /tmp/ready"]


def test_diff_of_an_unknown_container_is_not_found(engine):
    import pytest

    from dockerlab.errors import NoSuchContainer

    with pytest.raises(NoSuchContainer):
        engine.diff("nope")


def test_cli_diff_prints_kind_and_path_lines(engine):
    from dockerlab.cli import main

    cid = run(engine, "touch /tmp/x")
    out, err = io.StringIO(), io.StringIO()
    code = main(["--root", engine.paths.root, "container", "diff", cid[:12]], out, err)
    assert (code, out.getvalue()) == (0, "C /tmp\nA /tmp/x\n")
    code = main(["--root", engine.paths.root, "diff"], io.StringIO(), err)
    assert code == 1 and '"dockerlab diff" requires exactly 1 argument.' in err.getvalue()


def test_volume_mount_points_made_in_the_layer_are_listed_as_docker_does(engine):
    # Docker 20.10 (checked by hand): `docker run -v /data -v /mnt/vol busybox true` then
    # `docker diff` lists A /data, A /mnt, A /mnt/vol; the volumes' contents never show.
    cid = run(engine, "echo x > /data/file", HostConfig={"Binds": ["/data", "/mnt/vol"]})
    assert lines(engine, cid) == ["A /data", "A /mnt", "A /mnt/vol"]
