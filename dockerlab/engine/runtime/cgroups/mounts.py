"""Where the cgroup hierarchies are mounted, read from ``/proc/self/mountinfo``.

v2 counts only when ``/sys/fs/cgroup`` itself is cgroup2: a hybrid host's extra
``/sys/fs/cgroup/unified`` mount has no controllers of ours and is ignored.
"""

from __future__ import annotations

CGROUP_ROOT = "/sys/fs/cgroup"


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as ``\\ooo`` octal."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        code = field[i + 1 : i + 4]
        if field[i] == "\\" and len(code) == 3 and all(c in "01234567" for c in code):
            out.append(chr(int(code, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[tuple[str, str, str]]:
    """mountinfo lines -> [(mount point, fs type, super options)] in mount order.

    Line format (proc(5)): ``id parent maj:min root mountpoint opts [optional...] - fstype
    source superopts``.
    """
    out = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        out.append((_unescape(fields[4]), tail[0], tail[2]))
    return out


def cgroup_version(mounts: list[tuple[str, str, str]]) -> int:
    """2 when /sys/fs/cgroup is a cgroup2 mount (the last mount there wins), else 1."""
    fstype = ""
    for point, kind, _ in mounts:
        if point == CGROUP_ROOT:
            fstype = kind
    return 2 if fstype == "cgroup2" else 1


def v1_hierarchies(mounts: list[tuple[str, str, str]]) -> dict[str, str]:
    """controller -> mount point of its v1 hierarchy (``cpu,cpuacct`` gives both the same).

    Named hierarchies (``name=systemd``) are skipped; a hierarchy mounted twice keeps its
    first mount point.
    """
    out: dict[str, str] = {}
    for point, kind, options in mounts:
        if kind != "cgroup":
            continue
        for opt in options.split(","):
            if opt in ("rw", "ro") or "=" in opt:
                continue
            out.setdefault(opt, point)
    return out


def v1_named(mounts: list[tuple[str, str, str]]) -> dict[str, str]:
    """``name=systemd`` -> mount point, for the named hierarchies (no controller, but a
    container joins them too, so its cgroup namespace shows its own folder there)."""
    out: dict[str, str] = {}
    for point, kind, options in mounts:
        if kind != "cgroup":
            continue
        opts = options.split(",")
        names = [o for o in opts if o.startswith("name=")]
        if names and not any(o in V1_KNOWN for o in opts):
            out.setdefault(names[0], point)
    return out


def v1_options(mounts: list[tuple[str, str, str]]) -> dict[str, str]:
    """mount point -> the super options to mount that hierarchy again (``cpu,cpuacct``,
    ``xattr,name=systemd``): the same as the host's, or the kernel warns of a mismatch."""
    return {
        point: ",".join(o for o in options.split(",") if o not in ("rw", "ro"))
        for point, kind, options in mounts
        if kind == "cgroup"
    }


# v1 controllers; a hierarchy naming one of them is not a "named" one.
V1_KNOWN = frozenset(
    {
        "cpu",
        "cpuacct",
        "cpuset",
        "memory",
        "devices",
        "freezer",
        "net_cls",
        "net_prio",
        "blkio",
        "perf_event",
        "hugetlb",
        "pids",
        "rdma",
        "misc",
    }
)
