"""Docker's diff rules on crafted overlay layer folders (real whiteouts and opaque xattrs)."""

from __future__ import annotations

import os

import pytest

from dockerlab.engine.images.changes import (
    ADD,
    DELETE,
    MODIFY,
    changes,
    container_changes,
    lookup,
    merged_entries,
)

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="whiteouts (mknod) and trusted.* xattrs need root"
)


def make(root, spec: dict) -> str:
    """Build a folder: "name/": folder, "name": file text, None: whiteout, "->x": symlink."""
    os.makedirs(root, exist_ok=True)
    for path, value in spec.items():
        full = os.path.join(root, path.rstrip("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if path.endswith("/"):
            os.makedirs(full, exist_ok=True)
        elif value is None:
            os.mknod(full, 0o600 | 0o020000, os.makedev(0, 0))
        elif value.startswith("->"):
            os.symlink(value[2:], full)
        else:
            with open(full, "w") as f:
                f.write(value)
    return str(root)


def opaque(path: str) -> None:
    os.setxattr(path, "trusted.overlay.opaque", b"y")


@pytest.fixture
def image(tmp_path):
    return make(
        tmp_path / "lower",
        {
            "etc/passwd": "root",
            "etc/group": "g",
            "bin/sh": "x",
            "d/x": "1",
            "d/sub/z": "2",
            "tmp/": None,
        },
    )


def test_new_files_are_added_and_their_existing_parents_changed(tmp_path, image):
    upper = make(tmp_path / "upper", {"a/b/c": "new", "etc/new": "n"})
    assert changes(upper, [image]) == [
        ("/a", ADD),
        ("/a/b", ADD),
        ("/a/b/c", ADD),
        ("/etc", MODIFY),
        ("/etc/new", ADD),
    ]


def test_a_whiteout_is_a_deletion_and_a_deleted_folder_is_listed_once(tmp_path, image):
    upper = make(tmp_path / "upper", {"etc/passwd": None, "d": None})
    assert changes(upper, [image]) == [("/d", DELETE), ("/etc", MODIFY), ("/etc/passwd", DELETE)]


def test_a_modified_file_is_changed(tmp_path, image):
    upper = make(tmp_path / "upper", {"bin/sh": "y"})
    assert changes(upper, [image]) == [("/bin", MODIFY), ("/bin/sh", MODIFY)]


def test_an_opaque_folder_is_changed_its_files_added_and_what_it_hid_deleted(tmp_path, image):
    upper = make(tmp_path / "upper", {"d/new": "n", "d/x/": None})
    opaque(os.path.join(upper, "d"))
    assert changes(upper, [image]) == [
        ("/d", MODIFY),
        ("/d/new", ADD),
        ("/d/sub", DELETE),
        ("/d/x", ADD),
    ]


def test_a_copied_up_folder_with_nothing_changed_inside_is_not_listed(tmp_path, image):
    upper = make(tmp_path / "upper", {"tmp/": None})
    os.chmod(os.path.join(upper, "tmp"), os.stat(os.path.join(image, "tmp")).st_mode)
    assert changes(upper, [image]) == []
    os.chmod(os.path.join(upper, "tmp"), 0o700)
    assert changes(upper, [image]) == [("/tmp", MODIFY)]


def test_a_whiteout_in_a_lower_layer_hides_what_is_below_it(tmp_path, image):
    middle = make(tmp_path / "middle", {"etc/passwd": None})
    upper = make(tmp_path / "upper", {"etc/passwd": "again"})
    assert changes(upper, [middle, image]) == [("/etc", MODIFY), ("/etc/passwd", ADD)]


def test_an_opaque_lower_folder_hides_the_layers_below(tmp_path, image):
    middle = make(tmp_path / "middle", {"d/only": "o"})
    opaque(os.path.join(middle, "d"))
    upper = make(tmp_path / "upper", {"d/x": "back"})
    assert changes(upper, [middle, image]) == [("/d", MODIFY), ("/d/x", ADD)]


def test_the_engine_files_are_never_listed_for_a_container(tmp_path, image):
    upper = make(
        tmp_path / "upper",
        {
            ".dockerenv": "",
            "etc/hosts": "h",
            "etc/hostname": "x",
            "etc/resolv.conf": "",
            "etc/new": "n",
        },
    )
    assert container_changes(upper, [image]) == [("/etc", MODIFY), ("/etc/new", ADD)]


def test_changes_are_sorted_by_path(tmp_path, image):
    upper = make(tmp_path / "upper", {"a-b": "", "a/b": "", "a.x": "", "A": ""})
    paths = [p for p, _ in changes(upper, [image])]
    assert paths == sorted(paths) == ["/A", "/a", "/a-b", "/a.x", "/a/b"]


def test_ten_thousand_new_files_need_no_lookup_below_their_folder(tmp_path, image):
    upper = make(tmp_path / "upper", {"data/": None})
    for i in range(10_000):
        open(os.path.join(upper, "data", f"f{i}"), "w").close()
    out = changes(upper, [image])
    assert len(out) == 10_001 and all(k == ADD for _, k in out)


def test_the_merged_view_applies_whiteouts_and_opaque_folders(tmp_path, image):
    top = make(tmp_path / "top", {"etc/passwd": None, "d/new": "n", "bin/sh": "y"})
    opaque(os.path.join(top, "d"))
    view = {p: (layer, below) for p, layer, below, _ in merged_entries([top, image])}
    assert "/etc/passwd" not in view and "/d/x" not in view and "/d/sub" not in view
    assert view["/d/new"] == (0, False)
    assert view["/bin/sh"] == (0, True)
    assert view["/etc/group"] == (1, False)


def test_lookup_resolves_symlinks_inside_the_view_never_on_the_host(tmp_path, image):
    top = make(
        tmp_path / "top", {"link": "->/etc", "up": "->../../../../../../etc", "rel": "->etc/group"}
    )
    found = lookup([top, image], "/link/passwd")
    assert found == (1, os.path.join(image, "etc", "passwd"))
    assert lookup([top, image], "/up/group") == (1, os.path.join(image, "etc", "group"))
    assert lookup([top, image], "/rel") == (1, os.path.join(image, "etc", "group"))
    assert lookup([top, image], "/rel", follow=False) == (0, os.path.join(top, "rel"))
    assert lookup([top, image], "/nope") is None
