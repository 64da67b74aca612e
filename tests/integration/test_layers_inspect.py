"""The layer inspection API the notebook widgets draw: layers, their files, file histories."""

from __future__ import annotations

import pytest

from dockerlab.errors import InvalidParameter


def build(engine) -> str:
    """busybox (0: bootstrap layer, 1: CMD, empty) + 2: add /app + 3: change and delete."""
    cid, att = engine.run(
        {
            "Image": "busybox",
            "Cmd": ["sh", "-c", "mkdir /app && echo v1 > /app/conf && echo big > /app/data"],
        }
    )
    att.collect()
    engine.commit(cid, "stack:1", message="add app")
    cid, att = engine.run(
        {
            "Image": "stack:1",
            "Cmd": ["sh", "-c", "echo version2 > /app/conf && rm /app/data && rm /etc/group"],
        }
    )
    att.collect()
    engine.commit(cid, "stack:2")
    return "stack:2"


def test_image_layers_match_history_entries_to_layers_empty_ones_included(engine):
    ref = build(engine)
    layers = engine.image_layers(ref)
    assert [row["Index"] for row in layers] == [0, 1, 2, 3]
    assert [row["EmptyLayer"] for row in layers] == [False, True, False, False]
    diff_ids = engine.image_inspect(ref)["RootFS"]["Layers"]
    assert [row["Id"] for row in layers if not row["EmptyLayer"]] == diff_ids
    assert layers[1]["Size"] == 0 and layers[1]["Id"] == ""
    assert layers[0]["Size"] > 1_000_000
    assert layers[2]["Size"] == len(b"v1\nbig\n")
    assert layers[3]["CreatedBy"].startswith("sh -c echo version2")


def test_layer_files_lists_a_layers_own_changes_with_kinds_and_types(engine):
    ref = build(engine)
    files = {f["Path"]: f for f in engine.layer_files(ref, 3)}
    assert {p: f["Kind"] for p, f in files.items()} == {
        "/app": "C",
        "/app/conf": "C",
        "/app/data": "D",
        "/etc": "C",
        "/etc/group": "D",
    }
    assert files["/app/conf"]["Size"] == len(b"version2\n")
    assert files["/app/conf"]["Type"] == "file" and files["/app"]["Type"] == "dir"
    assert files["/app/data"]["Type"] == "file" and files["/app/data"]["Size"] == 0
    added = {f["Path"]: f["Kind"] for f in engine.layer_files(ref, 2)}
    assert added == {"/app": "A", "/app/conf": "A", "/app/data": "A"}
    assert engine.layer_files(ref, 1) == []
    base = engine.layer_files(ref, 0)
    assert all(f["Kind"] == "A" for f in base)
    assert {"Path": "/bin/sh", "Kind": "A", "Type": "symlink"}.items() <= next(
        f for f in base if f["Path"] == "/bin/sh"
    ).items()


def test_cumulative_layer_files_is_the_whole_tree_up_to_that_layer(engine):
    ref = build(engine)
    tree = {f["Path"]: f for f in engine.layer_files(ref, 3, cumulative=True)}
    assert "/app/data" not in tree and "/etc/group" not in tree
    assert tree["/app/conf"]["Kind"] == "C" and tree["/app/conf"]["Layer"] == 3
    assert tree["/bin/busybox"]["Layer"] == 0 and tree["/bin/busybox"]["Kind"] == "A"
    at2 = {f["Path"] for f in engine.layer_files(ref, 2, cumulative=True)}
    assert {"/app/data", "/etc/group", "/bin/busybox"} <= at2
    at1 = {f["Path"] for f in engine.layer_files(ref, 1, cumulative=True)}
    assert "/app" not in at1 and "/etc/passwd" in at1


def test_file_at_layer_reads_a_file_as_the_image_was_at_that_layer(engine):
    ref = build(engine)
    assert engine.file_at_layer(ref, 2, "/app/conf") == b"v1\n"
    assert engine.file_at_layer(ref, 3, "/app/conf") == b"version2\n"
    assert engine.file_at_layer(ref, 3, "/app/data") is None
    assert engine.file_at_layer(ref, 1, "/app/conf") is None
    assert engine.file_at_layer(ref, 3, "/bin") is None  # not a regular file
    assert engine.file_at_layer(ref, 0, "/etc/../etc/passwd").startswith(b"root:")


def test_file_history_says_which_layers_touched_a_path(engine):
    ref = build(engine)
    assert engine.file_history(ref, "/app/conf") == [
        {"Index": 2, "Kind": "A", "Size": 3},
        {"Index": 3, "Kind": "C", "Size": 9},
    ]
    assert engine.file_history(ref, "/app/data") == [
        {"Index": 2, "Kind": "A", "Size": 4},
        {"Index": 3, "Kind": "D", "Size": 0},
    ]
    assert engine.file_history(ref, "/nothing") == []


def test_an_index_out_of_range_is_refused(engine):
    ref = build(engine)
    with pytest.raises(InvalidParameter, match="out of range"):
        engine.layer_files(ref, 9)
    with pytest.raises(InvalidParameter):
        engine.file_at_layer(ref, -1, "/etc/passwd")
