"""``docker system df``: Docker's ``GET /system/df`` from what is on disk.

Image layers are shared: ``LayersSize`` counts each layer folder once, an image's
``SharedSize`` is the part of its ``Size`` held by layers that other images use too, and
``Containers`` is how many containers (running or not) were created from it.

``InterruptedWork`` (dockerlab's own key) lists what verbs at work hold now and what killed
ones left that the next locked verb has not removed yet: scratch folders and files under
``tmp/`` (``{"Kind", "Path", "Size", "Owner", "InProgress"}``) and blobs or image layers
that nothing references (``Kind`` "blob" / "layer"). ``system prune`` removes the
abandoned ones.
"""

from __future__ import annotations

from typing import Any

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockerlab.engine.containers.store import Container
    from dockerlab.engine.images.store import ImageStore


def system_df(store: ImageStore, containers: list[Container]) -> dict[str, Any]:
    """``{"LayersSize", "Images", "Containers", "Volumes", "BuildCache"}`` as Docker, of
    the images in ``store`` and of ``containers`` (refreshed)."""
    from dockerlab.engine.basics import tree_size
    from dockerlab.engine.containers import records
    from dockerlab.engine.containers.volumes import VolumeStore
    from dockerlab.engine.storage import usage
    from dockerlab.errors import DockerlabError, NotFound

    paths = store.paths
    per_image: dict[str, int] = {}
    for c in containers:
        per_image[c.config["Image"]] = per_image.get(c.config["Image"], 0) + 1

    images = store.list(all=True)
    chains = {i["Id"]: store.layer_ids(i["Id"]) for i in images}
    users: dict[str, int] = {}
    for chain in chains.values():
        for layer in set(chain):
            users[layer] = users.get(layer, 0) + 1
    sizes: dict[str, int] = {}
    for layer in users:
        try:
            sizes[layer] = store.layers.size(layer)
        except NotFound:
            sizes[layer] = 0
    for image in images:
        chain = chains[image["Id"]]
        image["SharedSize"] = sum(sizes[c] for c in set(chain) if users[c] > 1)
        image["Containers"] = per_image.get(image["Id"], 0)

    out_containers = []
    for c in sorted(containers, key=lambda c: c.config["Created"], reverse=True):
        rec = records.summary(c, store)
        rw = usage.rw_size(c)  # (vfs: what it changed in its copy)
        rec["SizeRw"] = rw
        try:
            rec["SizeRootFs"] = rw + store.size(c.config["Image"])
        except DockerlabError:  # its image is gone or corrupt
            rec["SizeRootFs"] = rw
        out_containers.append(rec)

    volumes = []
    refcount: dict[str, int] = {}
    for c in containers:
        for m in c.config.get("MountPoints") or []:
            if m.get("Type") == "volume" and m.get("Name"):
                refcount[m["Name"]] = refcount.get(m["Name"], 0) + 1
    for v in VolumeStore(paths).list():
        v = dict(v)
        v["UsageData"] = {
            "Size": tree_size(v["Mountpoint"]),
            "RefCount": refcount.get(v["Name"], 0),
        }
        volumes.append(v)

    from dockerlab.engine import work

    interrupted = work.entries(paths)
    for item in store.collect_garbage(dry_run=True):
        interrupted.append({**item, "Owner": 0, "InProgress": False})
    return {
        "InterruptedWork": interrupted,
        "LayersSize": sum(sizes.values()),
        "Images": images,
        "Containers": out_containers,
        "Volumes": volumes,
        "BuildCache": [],
    }
