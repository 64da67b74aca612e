"""``docker system df`` tables (docker cli ``formatter/disk_usage.go``), from ``/system/df``."""

from __future__ import annotations

from typing import Any

from dockerlab.format.rendered import Lines, Sections, Table
from dockerlab.format.units import human_size, human_size_with_precision

SUMMARY_FORMAT = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
SUMMARY_HEADER = {
    "Type": "TYPE",
    "TotalCount": "TOTAL",
    "Active": "ACTIVE",
    "Size": "SIZE",
    "Reclaimable": "RECLAIMABLE",
}


class _Row:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


def _with_percent(reclaimable: int, total: int) -> str:
    if total > 0:
        return f"{human_size(reclaimable)} ({reclaimable * 100 // total}%)"
    return human_size(reclaimable)


def _active(c: dict[str, Any]) -> bool:
    state = c.get("State", "")
    return any(s in state for s in ("running", "paused", "restarting"))


def summary_rows(df: dict[str, Any]) -> list[_Row]:
    images, containers = df["Images"], df["Containers"]
    volumes = df["Volumes"]
    total = int(df.get("LayersSize") or 0)
    used = sum(
        i["Size"] - i["SharedSize"]
        for i in images
        if i.get("Containers") and i["Size"] != -1 and i["SharedSize"] != -1
    )
    c_total = sum(c.get("SizeRw", 0) for c in containers)
    c_free = sum(c.get("SizeRw", 0) for c in containers if not _active(c))
    sizes = [
        (v["UsageData"]["Size"], v["UsageData"]["RefCount"])
        for v in volumes
        if v.get("UsageData") and v["UsageData"]["Size"] != -1
    ]
    v_total = sum(s for s, _ in sizes)
    v_free = sum(s for s, n in sizes if n == 0)
    cache = df.get("BuildCache") or []
    b_total = sum(b.get("Size", 0) for b in cache if not b.get("Shared"))
    b_free = sum(b.get("Size", 0) for b in cache if not b.get("InUse") and not b.get("Shared"))
    rows = [
        _Row(
            go_type="*formatter.diskUsageImagesContext",  # as Docker names it in errors
            Type="Images",
            TotalCount=str(len(images)),
            Active=str(sum(1 for i in images if i.get("Containers", 0) > 0)),
            Size=human_size(total),
            Reclaimable=_with_percent(total - used, total),
        ),
        _Row(
            go_type="*formatter.diskUsageContainersContext",  # as Docker names it in errors
            Type="Containers",
            TotalCount=str(len(containers)),
            Active=str(sum(1 for c in containers if _active(c))),
            Size=human_size(c_total),
            Reclaimable=_with_percent(c_free, c_total),
        ),
        _Row(
            go_type="*formatter.diskUsageVolumesContext",  # as Docker names it in errors
            Type="Local Volumes",
            TotalCount=str(len(volumes)),
            Active=str(sum(1 for v in volumes if (v.get("UsageData") or {}).get("RefCount"))),
            Size=human_size(v_total),
            Reclaimable=_with_percent(v_free, v_total),
        ),
        _Row(
            go_type="*formatter.diskUsageBuilderContext",  # as Docker names it in errors
            Type="Build Cache",
            TotalCount=str(len(cache)),
            Active=str(sum(1 for b in cache if b.get("InUse"))),
            Size=human_size(b_total),
            Reclaimable=human_size(b_free),
        ),
    ]
    # dockerlab's own row, only when there is something: work under way now, or left by a
    # killed command and not yet removed (the next locked command or `system prune` does)
    work = df.get("InterruptedWork") or []
    if work:
        w_total = sum(w.get("Size", 0) for w in work)
        w_free = sum(w.get("Size", 0) for w in work if not w.get("InProgress"))
        rows.append(
            _Row(
                Type="Interrupted work",
                TotalCount=str(len(work)),
                Active=str(sum(1 for w in work if w.get("InProgress"))),
                Size=human_size(w_total),
                Reclaimable=_with_percent(w_free, w_total),
            )
        )
    return rows


def render(
    df: dict[str, Any], fmt: str | None = None, verbose: bool = False, now: float | None = None
) -> Table | Lines | Sections:
    from dockerlab.cli import render as r

    if not verbose:
        return r.listing(fmt, SUMMARY_FORMAT, SUMMARY_HEADER, summary_rows(df))
    rows = []
    for row in r.image_rows(df["Images"], True, now):
        img = row.i
        rows.append(
            [
                row.Repository,
                row.Tag,
                row.ID,
                row.CreatedSince,
                human_size_with_precision(img["Size"], 3),
                human_size(img["SharedSize"]),
                human_size(img["Size"] - img["SharedSize"]),
                str(img["Containers"]),
            ]
        )
    blocks: list[str | Table] = [
        "Images space usage:",
        Table(
            [
                "REPOSITORY",
                "TAG",
                "IMAGE ID",
                "CREATED",
                "SIZE",
                "SHARED SIZE",
                "UNIQUE SIZE",
                "CONTAINERS",
            ],
            rows,
        ),
    ]
    rows = []
    for c in df["Containers"]:
        p = r.PsRow(c, True, now)
        vols = sum(1 for m in c.get("Mounts") or [] if m.get("Type") == "volume")
        rows.append(
            [
                p.ID,
                p.Image,
                p.Command,
                str(vols),
                human_size(c.get("SizeRw", 0)),
                p.RunningFor,
                p.Status,
                p.Names,
            ]
        )
    blocks += [
        "Containers space usage:",
        Table(
            [
                "CONTAINER ID",
                "IMAGE",
                "COMMAND",
                "LOCAL VOLUMES",
                "SIZE",
                "CREATED",
                "STATUS",
                "NAMES",
            ],
            rows,
        ),
    ]
    rows = []
    for v in df["Volumes"]:
        u = v.get("UsageData") or {}
        rows.append([v["Name"], str(u.get("RefCount", 0)), human_size(u.get("Size", 0))])
    blocks += ["Local Volumes space usage:", Table(["VOLUME NAME", "LINKS", "SIZE"], rows)]
    cache = df.get("BuildCache") or []
    blocks += [
        f"Build cache usage: {human_size(sum(b.get('Size', 0) for b in cache))}",
        Table(["CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"], []),
    ]
    work = df.get("InterruptedWork") or []
    if work:
        rows = []
        for w in work:
            rows.append(
                [
                    w["Kind"],
                    str(w.get("Owner") or "-"),
                    "in progress" if w.get("InProgress") else "abandoned",
                    human_size(w.get("Size", 0)),
                    w["Path"],
                ]
            )
        blocks += [
            "Interrupted work space usage:",
            Table(["KIND", "OWNER", "STATE", "SIZE", "PATH"], rows),
        ]
    return Sections(blocks)
