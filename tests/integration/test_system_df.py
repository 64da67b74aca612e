"""system df on real stores: shared layers counted once, containers and volumes."""

from __future__ import annotations

import io
import os

from dockerlab.cli import main
from dockerlab.engine.images.archive import pack_dir


def child_image(engine, tmp_path, tag: str) -> str:
    """An image one small layer above busybox (sharing busybox's layer)."""
    store = engine.image_store
    base = store.resolve("busybox")
    cfg = store.config(base)
    folder = tmp_path / f"layer-{tag.replace(':', '-')}"
    folder.mkdir()
    (folder / "extra.txt").write_text("x" * 1000)
    tar = tmp_path / f"{tag.replace(':', '-')}.tar"
    with open(tar, "wb") as f:
        pack_dir(str(folder), f)
    tars = [store.blob_path(d) for d in cfg["rootfs"]["diff_ids"]] + [str(tar)]
    new = {k: v for k, v in cfg.items() if k != "rootfs"}
    return store.create(tars, new, tags=[tag], parent=base)


def test_layers_shared_between_images_are_counted_once(engine, tmp_path):
    child_image(engine, tmp_path, "child:1")
    df = engine.system_df()
    base = engine.image_store.size(engine.image_store.resolve("busybox"))
    assert df["LayersSize"] == base + 1000
    by_tag = {i["RepoTags"][0]: i for i in df["Images"]}
    assert by_tag["child:1"]["Size"] == base + 1000
    assert by_tag["child:1"]["SharedSize"] == base
    assert by_tag["busybox:latest"]["SharedSize"] == base


def test_containers_and_volumes_are_counted_with_their_sizes(engine):
    cid, att = engine.run(
        {
            "Image": "busybox",
            "Cmd": ["sh", "-c", "head -c 5000 /dev/zero > /big"],
            "HostConfig": {"Binds": ["dfvol:/v"]},
        }
    )
    att.collect()
    df = engine.system_df()
    (c,) = df["Containers"]
    assert c["Id"] == cid and c["SizeRw"] >= 5000
    (v,) = df["Volumes"]
    assert v["Name"] == "dfvol" and v["UsageData"] == {"Size": 0, "RefCount": 1}
    assert df["Images"][0]["Containers"] == 1
    assert df["BuildCache"] == []


def test_cli_system_df_prints_dockers_table(engine, tmp_path):
    out = io.StringIO()
    assert main(["--root", engine.paths.root, "system", "df"], out=out, err=io.StringIO()) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert [line.split("  ")[0] for line in lines[1:]] == [
        "Images",
        "Containers",
        "Local Volumes",
        "Build Cache",
    ]
    assert lines[1].endswith("(100%)")
    assert lines[4].split()[2:] == ["0", "0", "0B", "0B"]


def test_cli_system_df_verbose_lists_each_section(engine):
    out = io.StringIO()
    assert (
        main(["--root", engine.paths.root, "system", "df", "-v"], out=out, err=io.StringIO()) == 0
    )
    text = out.getvalue()
    for title in (
        "Images space usage:",
        "Containers space usage:",
        "Local Volumes space usage:",
        "Build cache usage: 0B",
    ):
        assert title in text
    assert "SHARED SIZE   UNIQUE SIZE   CONTAINERS" in text
    assert os.path.isdir(engine.paths.root)
