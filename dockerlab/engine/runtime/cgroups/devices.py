"""Which devices a container may use: Docker's device rules, the host nodes behind
``--device``, and the cgroup v1 lines that say so.

Pure translation, apart from :func:`gather`, which reads the host's ``/dev``.

A rule is ``(allow, type, major, minor, access)``: type ``a`` (all), ``c`` or ``b``; major
and minor ``-1`` for ``*``; access a subset of ``rwm``. A rule list starts with the default
(``a``) and then lists the exceptions, as the v1 devices controller keeps them::

    deny a               everything refused ...
    allow c *:* m        ... but mknod of any char or block device (runc's AllowedDevices),
    allow b *:* m
    allow c 1:3 rwm      and read/write of null, zero, full, random, urandom, tty,
    …                    console, ptmx, pts/*, net/tun (Docker 20.10 with runc 1.1)

What a container ends up with (``devices.list`` inside a Docker 20.10 container)::

    b *:* m  c *:* m  c 1:3 rwm  c 1:5 rwm  c 1:7 rwm  c 1:8 rwm  c 1:9 rwm  c 5:0 rwm
    c 5:1 rwm  c 5:2 rwm  c 10:200 rwm  c 136:* rwm
"""

from __future__ import annotations

import os
import stat

from dockerlab.errors import CommandNotFound, ContainerStartError, InvalidParameter

TYPE_CHECKING = False  # typing costs ~5 ms on the monitor's start path
if TYPE_CHECKING:
    from typing import Any

    Rule = tuple[bool, str, int, int, str]

WILDCARD = -1
ALLOW_ALL: list[Rule] = [(True, "a", WILDCARD, WILDCARD, "rwm")]
DEFAULT_RULES: list[Rule] = [
    (False, "a", WILDCARD, WILDCARD, "rwm"),
    (True, "c", WILDCARD, WILDCARD, "m"),
    (True, "b", WILDCARD, WILDCARD, "m"),
    (True, "c", 1, 3, "rwm"),  # null
    (True, "c", 1, 5, "rwm"),  # zero
    (True, "c", 1, 7, "rwm"),  # full
    (True, "c", 1, 8, "rwm"),  # random
    (True, "c", 1, 9, "rwm"),  # urandom
    (True, "c", 5, 0, "rwm"),  # tty
    (True, "c", 5, 1, "rwm"),  # console
    (True, "c", 5, 2, "rwm"),  # ptmx
    (True, "c", 10, 200, "rwm"),  # net/tun
    (True, "c", 136, WILDCARD, "rwm"),  # pts/*
]

# Host /dev entries a privileged container does not get (runc's GetDevices skips them).
_SKIP_DIRS = frozenset({"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"})


def valid_mode(mode: str) -> bool:
    """Docker's validDeviceMode: one or more of r, w, m, each at most once."""
    return bool(mode) and all(c in "rwm" for c in mode) and len(set(mode)) == len(mode)


def parse_device(spec: str) -> dict[str, str]:
    """``--device HOST[:CONTAINER][:PERMS]`` -> Docker's ``DeviceMapping``, with the CLI's
    checks (validateLinuxPath, then parseLinuxDevice); errors are ``ValueError``s with
    Docker's text."""
    if spec.count(":") > 2 or not spec.split(":", 1)[0]:
        raise ValueError(f"bad format for path: {spec}")
    parts = spec.split(":")
    src, dst, perms = parts[0], "", "rwm"
    if len(parts) == 3:
        dst, perms = parts[1], parts[2]
        if not valid_mode(perms):
            raise ValueError(f"bad mode specified: {perms}")
    elif len(parts) == 2:
        if valid_mode(parts[1]):
            perms = parts[1]
        else:
            dst = parts[1]
    check = dst or src
    if not check.startswith("/"):
        raise ValueError(f"{check} is not an absolute path")
    return {"PathOnHost": src, "PathInContainer": dst or src, "CgroupPermissions": perms}


def _node(path: str, st: os.stat_result, dest: str, perms: str) -> dict[str, Any]:
    return {
        "Path": dest,
        "Type": "b" if stat.S_ISBLK(st.st_mode) else "c",
        "Major": os.major(st.st_rdev),
        "Minor": os.minor(st.st_rdev),
        "Mode": stat.S_IMODE(st.st_mode),
        "Uid": st.st_uid,
        "Gid": st.st_gid,
        "Perms": perms,
    }


def _is_device(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)


def host_devices(
    root: str, dest: str = "", perms: str = "rwm", skip: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """Every char/block device under the folder ``root`` (symlinks not followed), placed
    under ``dest`` (default: the same path)."""
    out = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in skip)
        for name in sorted(files):
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if _is_device(st):
                rel = os.path.relpath(path, root)
                out.append(_node(path, st, os.path.join(dest or root, rel), perms))
    return out


def privileged_devices() -> list[dict[str, Any]]:
    """The host's /dev devices for a privileged container (console comes from the pty)."""
    return [n for n in host_devices("/dev", skip=_SKIP_DIRS) if n["Path"] != "/dev/console"]


def gather(host_config: dict[str, Any]) -> list[dict[str, Any]]:
    """The device nodes of ``HostConfig.Devices`` (a folder gives every device in it), read
    from the host at start, with Docker's errors."""
    out: list[dict[str, Any]] = []
    for mapping in host_config.get("Devices") or []:
        src = mapping.get("PathOnHost") or ""
        dst = mapping.get("PathInContainer") or src
        perms = mapping.get("CgroupPermissions") or "rwm"
        what = f'error gathering device information while adding custom device "{src}"'
        if not valid_mode(perms):
            raise InvalidParameter(f"invalid device mode: {perms}")
        if not dst.startswith("/"):
            raise InvalidParameter(f"{dst} is not an absolute path")
        try:
            st = os.stat(src)  # a symlink to a device counts, as in Docker
        except OSError as exc:
            # Docker's CLI exits 127 when a start error names a missing file.
            cls = CommandNotFound if isinstance(exc, FileNotFoundError) else ContainerStartError
            raise cls(f"{what}: {(exc.strerror or str(exc)).lower()}") from None
        if _is_device(st):
            out.append(_node(src, st, dst, perms))
            continue
        found = host_devices(src, dst, perms) if stat.S_ISDIR(st.st_mode) else []
        if not found:
            raise ContainerStartError(f"{what}: not a device node")
        out.extend(found)
    return out


def rules_for(privileged: bool, nodes: list[dict[str, Any]]) -> list[Rule]:
    """The container's rules: everything when privileged, else Docker's defaults plus one
    allow rule per ``--device`` node."""
    if privileged:
        return list(ALLOW_ALL)
    return DEFAULT_RULES + [(True, n["Type"], n["Major"], n["Minor"], n["Perms"]) for n in nodes]


def _num(n: int) -> str:
    return "*" if n == WILDCARD else str(n)


def rule_text(rule: Rule) -> str:
    """``c 1:3 rwm`` (``a`` alone for all devices), as devices.allow/deny take it."""
    _, kind, major, minor, access = rule
    if kind == "a":
        return "a"
    return f"{kind} {_num(major)}:{_num(minor)} {access}"


def v1_lines(rules: list[Rule]) -> list[tuple[str, str]]:
    """(file, line) to write in order: the default first (``devices.deny a`` clears what
    the new cgroup inherited), then one line per exception."""
    if not rules or rules[0][1] != "a":
        raise ValueError("a device rule list starts with its default (type 'a')")
    return [("devices.allow" if r[0] else "devices.deny", rule_text(r)) for r in rules]


def allowed(rules: list[Rule], kind: str, major: int, minor: int, access: str) -> bool:
    """What the kernel decides for ``access`` to a device (the v1 controller's semantics):
    the default, unless an exception of the other kind matches. An allow exception must
    cover the whole access; a deny exception refuses as soon as it covers part of it."""
    default = rules[0][0]
    for allow, rkind, rmajor, rminor, raccess in rules[1:]:
        if allow == default or rkind not in ("a", kind):
            continue
        if rmajor not in (WILDCARD, major) or rminor not in (WILDCARD, minor):
            continue
        if set(access) <= set(raccess) if allow else set(access) & set(raccess):
            return allow
    return default
