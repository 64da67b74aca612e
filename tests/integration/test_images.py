"""The image store on real files: bootstrap, tags, rmi refusals, shared layers, crash safety."""

from __future__ import annotations

import json
import os
import stat

import pytest

from dockerlab.engine.images.archive import pack_dir
from dockerlab.engine.images.bootstrap import bootstrap_busybox
from dockerlab.engine.images.layers import chain_ids, short_link
from dockerlab.engine.images.store import ImageStore
from dockerlab.engine.paths import Paths
from dockerlab.errors import Conflict, InvalidParameter, NoSuchImage, NotFound

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="root is needed to chown layer files"),
    pytest.mark.skipif(
        not os.path.exists("/bin/busybox"),
        reason="/bin/busybox is missing (Debian package busybox-static)",
    ),
]

CID = "3f2a1b0c9d8e" + "0" * 52


@pytest.fixture
def store(tmp_path):
    return ImageStore(Paths.of(str(tmp_path / "root")))


@pytest.fixture
def busybox(store):
    return bootstrap_busybox(store)


def make_tar(tmp_path, name: str, files: dict[str, str]) -> str:
    folder = tmp_path / f"src-{name}"
    folder.mkdir()
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
        os.utime(folder / rel, (1_700_000_000, 1_700_000_000))
    for dirpath, _dirs, _files in os.walk(folder):
        os.utime(dirpath, (1_700_000_000, 1_700_000_000))
    path = tmp_path / f"{name}.tar"
    with open(path, "wb") as f:
        pack_dir(str(folder), f)
    return str(path)


def child_of(store, tmp_path, parent_id: str, name: str, tags=()) -> str:
    """An image one layer above ``parent_id`` (as commit or build would make it)."""
    cfg = store.config(parent_id)
    tars = [store.blob_path(d) for d in cfg["rootfs"]["diff_ids"]]
    tars.append(make_tar(tmp_path, name, {f"{name}.txt": name}))
    new = {k: v for k, v in cfg.items() if k != "rootfs"}
    new["created"] = "2030-01-02T03:04:05.123456789Z"
    new["history"] = [
        *cfg["history"],
        {"created": new["created"], "created_by": f"/bin/sh -c echo {name}"},
    ]
    return store.create(tars, new, tags=list(tags), parent=parent_id)


# ---- bootstrap -------------------------------------------------------------------------------


def test_bootstrap_makes_a_listed_busybox_image_with_sh(store, busybox):
    [image] = store.list()
    assert image["Id"] == busybox and image["RepoTags"] == ["busybox:latest"]
    assert image["Size"] >= os.path.getsize("/bin/busybox")
    assert store.config(busybox)["config"]["Cmd"] == ["sh"]
    [diff] = store.layer_dirs(busybox)
    assert os.readlink(os.path.join(diff, "bin", "sh")) == "busybox"
    assert os.access(os.path.join(diff, "bin", "busybox"), os.X_OK)
    assert stat.S_IMODE(os.stat(os.path.join(diff, "tmp")).st_mode) == 0o1777
    with open(os.path.join(diff, "etc", "passwd")) as f:
        assert f.read().startswith("root:x:0:0:")
    [lower] = store.lowerdirs(busybox)
    assert os.path.realpath(lower) == os.path.realpath(diff)
    top = store.history("busybox")
    assert top[0]["Id"] == busybox and top[0]["Tags"] == ["busybox:latest"]
    assert top[-1]["Id"] == "<missing>"
    assert top[-1]["CreatedBy"].startswith("dockerlab image bootstrap busybox: /bin/busybox ")


def test_bootstrap_twice_gives_the_same_image(store, busybox):
    assert bootstrap_busybox(store) == busybox
    assert len(store.list()) == 1


def test_bootstrap_without_busybox_says_what_to_install(store, tmp_path):
    with pytest.raises(NotFound) as err:
        bootstrap_busybox(store, busybox=str(tmp_path / "nope"))
    assert "install Debian's busybox-static (apt-get install busybox-static)" in str(err.value)


def test_on_disk_layout_is_an_oci_layout_plus_overlay2_layers(store, busybox):
    root = store.paths.root
    with open(os.path.join(root, "image", "oci-layout")) as f:
        assert json.load(f) == {"imageLayoutVersion": "1.0.0"}
    with open(os.path.join(root, "image", "index.json")) as f:
        index = json.load(f)
    manifest_digest = index["manifests"][0]["digest"]
    with open(store.blob_path(manifest_digest)) as f:
        manifest = json.load(f)
    assert manifest["config"]["digest"] == busybox
    layer = chain_ids(store.config(busybox)["rootfs"]["diff_ids"])[0]
    hexid = layer.split(":")[1]
    assert os.path.exists(store.blob_path(layer))  # the uncompressed tar is kept for save
    with open(os.path.join(root, "overlay", hexid, "link")) as f:
        assert f.read() == short_link(layer)
    assert os.readlink(os.path.join(root, "overlay", "l", short_link(layer))) == f"../{hexid}/diff"


# ---- lookups ---------------------------------------------------------------------------------


def test_resolve_accepts_names_full_and_short_ids(store, busybox):
    hexid = busybox.split(":")[1]
    for ref in (
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox:latest",
        busybox,
        hexid,
        hexid[:12],
        hexid[:1],
        "sha256:" + hexid[:5],
    ):
        assert store.resolve(ref) == busybox, ref


def test_unknown_image_gives_dockers_message(store, busybox):
    with pytest.raises(NoSuchImage) as err:
        store.resolve("nothere")
    assert str(err.value) == "No such image: nothere:latest"
    with pytest.raises(NoSuchImage):
        store.resolve("sha256:" + "0" * 64)
    with pytest.raises(InvalidParameter) as err:
        store.resolve("Busybox")
    assert "must be lowercase" in str(err.value)


def test_inspect_has_dockers_shape(store, busybox, tmp_path):
    child = child_of(store, tmp_path, busybox, "one", tags=["one:v1"])
    info = store.inspect("one:v1")
    assert info["Id"] == child and info["Parent"] == busybox
    assert info["RepoTags"] == ["one:v1"]
    assert info["Created"] == "2030-01-02T03:04:05.123456789Z"
    assert info["GraphDriver"]["Name"] == "overlay2"
    data = info["GraphDriver"]["Data"]
    assert data["UpperDir"] == store.layer_dirs(child)[1]
    assert data["LowerDir"] == store.layer_dirs(child)[0]
    assert info["RootFS"]["Layers"] == store.config(child)["rootfs"]["diff_ids"]
    assert info["Metadata"]["LastTagTime"] != "0001-01-01T00:00:00Z"
    [image] = [i for i in store.list() if i["Id"] == child]
    assert image["Created"] == 1893553445 and image["ParentId"] == busybox


def test_history_is_newest_first_with_known_parent_ids(store, busybox, tmp_path):
    child = child_of(store, tmp_path, busybox, "two", tags=["two"])
    hist = store.history("two")
    assert [h["Id"] for h in hist] == [child, busybox, "<missing>"]
    assert hist[0]["CreatedBy"] == "/bin/sh -c echo two" and hist[0]["Size"] == 3
    assert hist[1]["Tags"] == ["busybox:latest"]


def test_lowerdirs_are_top_first_and_short(store, busybox, tmp_path):
    child = child_of(store, tmp_path, busybox, "three")
    chain = store.layer_ids(child)
    assert store.lowerdirs(child, relative=True) == [
        f"l/{short_link(chain[1])}",
        f"l/{short_link(chain[0])}",
    ]


# ---- tags and rmi ----------------------------------------------------------------------------


def test_tag_then_rmi_of_one_tag_only_untags(store, busybox):
    store.tag("busybox", "mine:v1")
    [image] = store.list()
    assert image["RepoTags"] == ["busybox:latest", "mine:v1"]
    assert store.remove("mine:v1") == [{"Untagged": "mine:v1"}]
    assert store.resolve("busybox") == busybox


def test_rmi_of_the_last_tag_deletes_image_and_layers(store, busybox):
    layer = store.layer_ids(busybox)[0]
    out = store.remove("busybox")
    assert out == [{"Untagged": "busybox:latest"}, {"Deleted": busybox}, {"Deleted": layer}]
    assert store.list() == []
    assert not os.path.exists(store.layers.dir(layer))
    assert not os.path.lexists(store.layers.link_path(layer))
    assert not os.path.exists(store.blob_path(layer))


def test_rmi_by_id_with_several_tags_must_be_forced(store, busybox):
    store.tag("busybox", "other:1")
    short = busybox[7:19]
    with pytest.raises(Conflict) as err:
        store.remove(short)
    assert str(err.value) == (
        f"conflict: unable to delete {short} (must be forced) - "
        "image is referenced in multiple repositories"
    )
    out = store.remove(short, force=True)
    assert {"Untagged": "busybox:latest"} in out and {"Untagged": "other:1"} in out
    assert {"Deleted": busybox} in out


def test_rmi_of_a_name_used_by_a_container_must_force(store, busybox):
    used = {busybox: [(CID, False)]}
    with pytest.raises(Conflict) as err:
        store.remove("busybox", used_by=used)
    assert str(err.value) == (
        'conflict: unable to remove repository reference "busybox" (must force) - container '
        f"3f2a1b0c9d8e is using its referenced image {busybox[7:19]}"
    )


def test_rmi_of_one_of_two_names_of_a_used_image_untags_it(store, busybox):
    store.tag("busybox", "other:1")
    out = store.remove("other:1", used_by={busybox: [(CID, True)]})
    assert out == [{"Untagged": "other:1"}]
    assert store.resolve("busybox") == busybox


def test_rmi_by_id_refuses_stopped_and_running_users(store, busybox):
    short = busybox[7:19]
    with pytest.raises(Conflict) as err:
        store.remove(short, used_by={busybox: [(CID, False)]})
    assert str(err.value) == (
        f"conflict: unable to delete {short} (must be forced) - "
        "image is being used by stopped container 3f2a1b0c9d8e"
    )
    with pytest.raises(Conflict) as err:
        store.remove(short, force=True, used_by={busybox: [(CID, True)]})
    assert str(err.value) == (
        f"conflict: unable to delete {short} (cannot be forced) - "
        "image is being used by running container 3f2a1b0c9d8e"
    )
    assert store.resolve("busybox") == busybox


def test_forced_rmi_of_a_name_used_by_a_running_container_only_untags(store, busybox):
    out = store.remove("busybox", force=True, used_by={busybox: [(CID, True)]})
    assert out == [{"Untagged": "busybox:latest"}]
    assert store.resolve(busybox) == busybox


def test_forced_rmi_keeps_what_a_stopped_container_still_needs(store, busybox):
    lowers = store.lowerdirs(busybox)
    out = store.remove("busybox", force=True, used_by={busybox: [(CID, False)]})
    assert out == [{"Untagged": "busybox:latest"}, {"Deleted": busybox}]
    assert store.list() == []
    assert store.lowerdirs(busybox) == lowers  # the container can still start
    assert all(os.path.isdir(d) for d in lowers)


def test_parent_with_children_cannot_be_deleted(store, busybox, tmp_path):
    child_of(store, tmp_path, busybox, "kid", tags=["kid"])
    short = busybox[7:19]
    with pytest.raises(Conflict) as err:
        store.remove(short, force=True)
    assert str(err.value) == (
        f"conflict: unable to delete {short} (cannot be forced) - image has dependent child images"
    )


def test_untagged_parent_is_hidden_and_pruned_with_its_child(store, busybox, tmp_path):
    child = child_of(store, tmp_path, busybox, "kid", tags=["kid"])
    store.remove("busybox")  # untag only: it has a child
    assert [i["Id"] for i in store.list()] == [child]
    assert {i["Id"] for i in store.list(all=True)} == {child, busybox}
    base, top = store.layer_ids(child)
    assert store.remove("kid") == [
        {"Untagged": "kid:latest"},
        {"Deleted": child},
        {"Deleted": top},
        {"Deleted": busybox},
        {"Deleted": base},
    ]
    assert store.list(all=True) == []
    assert [n for n in os.listdir(store.paths.overlay) if len(n) == 64] == []


# ---- layers ----------------------------------------------------------------------------------


def test_shared_layers_are_stored_once(store, busybox, tmp_path):
    a = child_of(store, tmp_path, busybox, "a", tags=["a"])
    b = child_of(store, tmp_path, busybox, "b", tags=["b"])
    base = store.layer_ids(busybox)[0]
    assert store.layer_ids(a)[0] == store.layer_ids(b)[0] == base
    layer_dirs = [n for n in os.listdir(store.paths.overlay) if len(n) == 64]
    assert len(layer_dirs) == 3
    store.remove("a")
    assert os.path.isdir(store.layers.diff_dir(base))
    assert os.path.isfile(os.path.join(store.layer_dirs(b)[0], "bin", "busybox"))


def test_incomplete_layer_is_removed_at_next_load(store, busybox):
    paths = store.paths
    fake = "ab" * 32
    flag_dir = os.path.join(paths.overlay, ".incomplete")
    os.makedirs(os.path.join(paths.overlay, fake, "diff", "half"), exist_ok=True)
    os.makedirs(flag_dir, exist_ok=True)
    open(os.path.join(flag_dir, fake), "w").close()
    real = store.layer_ids(busybox)[0].split(":")[1]
    open(os.path.join(flag_dir, real), "w").close()  # crash just before its flag was dropped
    ImageStore(paths)
    assert not os.path.exists(os.path.join(paths.overlay, fake))
    assert os.listdir(flag_dir) == []
    assert os.path.isdir(store.layer_dirs(busybox)[0])  # in use and complete: kept


def test_interrupted_create_leaves_nothing_trusted(store, tmp_path, monkeypatch):
    from dockerlab.engine.images import archive

    def boom(src, dest):
        os.mkdir(os.path.join(dest, "partial"))
        raise KeyboardInterrupt

    monkeypatch.setattr(archive, "unpack_layer", boom)
    tar = make_tar(tmp_path, "x", {"f": "1"})
    with pytest.raises(KeyboardInterrupt):
        store.create([tar], {"architecture": "amd64", "os": "linux"}, tags=["x"])
    monkeypatch.undo()
    assert not store.exists("x")
    fresh = ImageStore(store.paths)
    assert [n for n in os.listdir(store.paths.overlay) if len(n) == 64] == []
    image = fresh.create([tar], {"architecture": "amd64", "os": "linux"}, tags=["x"])
    assert os.path.isfile(os.path.join(fresh.layer_dirs(image)[0], "f"))
