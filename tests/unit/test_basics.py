"""The dependency-free helpers shared with the monitor (engine/basics.py)."""

from __future__ import annotations

import json
import os

from dockerlab.engine.basics import dumps, rfc3339_ns, tree_size


def test_dumps_writes_what_json_would_compactly():
    value = {
        "log": 'a "quoted"\nline\u00e9\udcff',
        "n": 3,
        "f": 1.5,
        "ok": True,
        "no": False,
        "none": None,
        "list": [1, "x", {"k": []}],
    }
    assert json.loads(dumps(value)) == value
    assert dumps({"a": [1, 2]}) == json.dumps({"a": [1, 2]}, separators=(",", ":"))


def test_rfc3339_ns_keeps_all_nine_digits_as_docker_logs_do():
    assert rfc3339_ns(1_700_000_000_000_000_001) == "2023-11-14T22:13:20.000000001Z"
    assert rfc3339_ns(1_700_000_000_000_000_000) == "2023-11-14T22:13:20.000000000Z"


def test_tree_size_counts_files_a_hardlink_once_and_a_symlinks_target_length(tmp_path):
    # Docker's directory.Size: every non-folder's lstat size (a symlink's is its target's
    # length, a link to a folder too, never followed)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a").write_bytes(b"x" * 100)
    os.link(tmp_path / "d" / "a", tmp_path / "d" / "b")
    (tmp_path / "c").write_bytes(b"y" * 10)
    os.symlink("/etc/passwd", tmp_path / "link")
    os.symlink("d", tmp_path / "dlink")
    assert tree_size(str(tmp_path)) == 110 + len("/etc/passwd") + len("d")
    assert tree_size(str(tmp_path / "link")) == len("/etc/passwd")
    assert tree_size(str(tmp_path / "c")) == 10
    assert tree_size(str(tmp_path / "missing")) == 0
