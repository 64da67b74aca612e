"""The container's filesystem view, set up inside its new mount namespace.

Runs in the container's first process before it executes the user's command. The overlay
itself is mounted by the monitor on the host (so the host sees ``MergedDir``); here we add
/proc, /dev (with the ``--device`` nodes), /sys and the bind mounts, then ``pivot_root`` into
it and hide what Docker hides. Once the process is in its cgroups, :func:`mount_cgroups`
shows it its own cgroups at /sys/fs/cgroup.
"""

from __future__ import annotations

import errno
import os
import stat

from dockerlab.engine.runtime import linux as L

TYPE_CHECKING = False  # typing costs the CLI's start milliseconds
if TYPE_CHECKING:
    from typing import Any

MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

# (name, major, minor) of the character devices every container gets, mode 0666.
DEVICES = (
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
)
DEV_LINKS = (
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
    ("core", "/proc/kcore"),
)


# moby/sys/mount's option table: name -> (clears the flag, flag). Propagation is applied by
# its own mount call after the mount itself, as runc does.
_MS_SHARED, _MS_UNBINDABLE, _MS_RELATIME = 1 << 20, 1 << 17, 1 << 21
_OPTION_FLAGS = {
    "defaults": (False, 0), "ro": (False, L.MS_RDONLY), "rw": (True, L.MS_RDONLY),
    "suid": (True, L.MS_NOSUID), "nosuid": (False, L.MS_NOSUID),
    "dev": (True, L.MS_NODEV), "nodev": (False, L.MS_NODEV),
    "exec": (True, L.MS_NOEXEC), "noexec": (False, L.MS_NOEXEC),
    "sync": (False, 16), "async": (True, 16), "dirsync": (False, 128),
    "remount": (False, L.MS_REMOUNT), "mand": (False, 64), "nomand": (True, 64),
    "atime": (True, 1024), "noatime": (False, 1024),
    "diratime": (True, 2048), "nodiratime": (False, 2048),
    "bind": (False, L.MS_BIND), "rbind": (False, L.MS_BIND | L.MS_REC),
    "unbindable": (False, _MS_UNBINDABLE), "runbindable": (False, _MS_UNBINDABLE | L.MS_REC),
    "private": (False, L.MS_PRIVATE), "rprivate": (False, L.MS_PRIVATE | L.MS_REC),
    "shared": (False, _MS_SHARED), "rshared": (False, _MS_SHARED | L.MS_REC),
    "slave": (False, L.MS_SLAVE), "rslave": (False, L.MS_SLAVE | L.MS_REC),
    "relatime": (False, _MS_RELATIME), "norelatime": (True, _MS_RELATIME),
    "strictatime": (False, L.MS_STRICTATIME), "nostrictatime": (True, L.MS_STRICTATIME),
}  # fmt: skip
_PROPAGATION = L.MS_PRIVATE | L.MS_SLAVE | _MS_SHARED | _MS_UNBINDABLE
_TMPFS_DATA = frozenset({"", "size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol"})
_BIND_PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
PROPAGATIONS = {name: _OPTION_FLAGS[name][1] for name in _BIND_PROPAGATIONS}


class MountRefused(ValueError):
    """A mount's options the daemon refuses (its words), before anything is mounted."""


def _go_quote_list(items: list[str]) -> str:
    return (
        "[" + " ".join('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in items) + "]"
    )


def tmpfs_options(data: str, readonly: bool = False) -> tuple[int, str, int]:
    """(flags, data, propagation) of a tmpfs mount: Docker's defaults (noexec, nosuid, nodev,
    rprivate) merged with ``data`` as ``mount.MergeTmpfsOptions`` does (the last of each
    kind wins); ``readonly`` for a read-only ``--mount type=tmpfs``."""
    options = ["noexec", "nosuid", "nodev", "rprivate"]
    if readonly:
        options.append("ro")
    if data:
        options += data.split(",")
    seen_flags: set[int] = set()
    seen_data: set[str] = set()
    merged: list[str] = []
    for option in reversed(options):
        if option == "defaults":
            continue
        known = _OPTION_FLAGS.get(option)
        if known is not None and known[1]:
            key = -1 if known[1] & _PROPAGATION else known[1]
            if key not in seen_flags:
                seen_flags.add(key)
                merged.insert(0, option)
            continue
        name, eq, _ = option.partition("=")
        if not eq or name not in _TMPFS_DATA:
            shown = [name, option.partition("=")[2]] if eq else [option]
            raise MountRefused(f"invalid tmpfs option {_go_quote_list(shown)}")
        if name not in seen_data:
            seen_data.add(name)
            merged.insert(0, option)
    flags, propagation, rest = 0, 0, []
    for option in merged:
        known = _OPTION_FLAGS.get(option)
        if known is None:
            rest.append(option)
        elif known[1] & _PROPAGATION:
            propagation = known[1]
        elif known[0]:
            flags &= ~known[1]
        else:
            flags |= known[1]
    return flags, ",".join(rest), propagation


def mount_options(options: str) -> tuple[int, str]:
    """(flags, data) of a mount's ``o=`` options, split as moby's ``parseOptions`` does."""
    flags, data = 0, []
    for option in options.split(",") if options else []:
        known = _OPTION_FLAGS.get(option)
        if known is None:
            data.append(option)
        elif known[0]:
            flags &= ~known[1]
        else:
            flags |= known[1]
    return flags, ",".join(data)


def mount_tmpfs(root: Any, dest: str, flags: int, data: str, propagation: int) -> None:
    """A tmpfs at ``dest``, resolved inside the root through descriptors (a link in the
    image cannot send it onto the host) and mounted on what was resolved."""
    with root.mkdirs(dest, 0o755) as target:
        path = f"/proc/self/fd/{target.fd}"
        L.mount("tmpfs", path, "tmpfs", flags, data or None)
    if propagation:
        with root.resolve(dest) as target:
            L.mount(None, f"/proc/self/fd/{target.fd}", None, propagation)


def _depth(dest: str) -> int:
    return _clean(dest).count("/") if _clean(dest) != "/" else 0


def _clean(path: str) -> str:
    """Go's path.Clean for an absolute path (no ``..`` above the root)."""
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/" + "/".join(parts)


def _make_nodes(rootfs: str, nodes: list[dict[str, Any]]) -> None:
    """The ``--device`` (and privileged) nodes, as the host has them, created through
    descriptors inside ``rootfs`` (the image may hold links); one already there is kept, as
    runc does."""
    from dockerlab.engine.runtime.inroot import Root

    with Root(rootfs) as root:
        for node in nodes:
            head, name = os.path.split(node["Path"].rstrip("/"))
            kind = stat.S_IFBLK if node["Type"] == "b" else stat.S_IFCHR
            with root.mkdirs(head or "/", 0o755) as folder:
                try:
                    os.mknod(
                        name,
                        kind | node["Mode"],
                        os.makedev(node["Major"], node["Minor"]),
                        dir_fd=folder.fd,
                    )
                except FileExistsError:
                    continue
                os.chown(name, node["Uid"], node["Gid"], dir_fd=folder.fd, follow_symlinks=False)


def _mount_dev(
    rootfs: str,
    nodes: list[dict[str, Any]],
    shm_size: int = 0,
    console: bool = True,
    shm: bool = True,
) -> None:
    dev = os.path.join(rootfs, "dev")
    os.makedirs(dev, exist_ok=True)
    L.mount("tmpfs", dev, "tmpfs", L.MS_NOSUID | L.MS_STRICTATIME, "mode=755,size=65536k")
    old = os.umask(0)
    try:
        for name, major, minor in DEVICES:
            try:
                os.mknod(os.path.join(dev, name), 0o666 | stat.S_IFCHR, os.makedev(major, minor))
            except PermissionError:  # a user namespace (rootless): the host's node, bound
                with open(os.path.join(dev, name), "a"):
                    pass
                L.mount(f"/dev/{name}", os.path.join(dev, name), None, L.MS_BIND)
    finally:
        os.umask(old)
    for name, target in DEV_LINKS:
        os.symlink(target, os.path.join(dev, name))
    for sub in ("pts", "shm", "mqueue"):
        os.mkdir(os.path.join(dev, sub))
    pts_data = "newinstance,ptmxmode=0666,mode=0620,gid=5"
    try:
        L.mount("devpts", os.path.join(dev, "pts"), "devpts", L.MS_NOSUID | L.MS_NOEXEC, pts_data)
    except OSError as exc:  # a user namespace mapping no gid 5 (rootless, one ID): as runc
        if exc.errno != errno.EINVAL:
            raise
        pts_data = pts_data.replace(",gid=5", "")
        L.mount("devpts", os.path.join(dev, "pts"), "devpts", L.MS_NOSUID | L.MS_NOEXEC, pts_data)
    if shm:  # not when the user mounts their own /dev/shm (Docker leaves its default out)
        L.mount(
            "shm",
            os.path.join(dev, "shm"),
            "tmpfs",
            L.MS_NOSUID | L.MS_NODEV | L.MS_NOEXEC,
            f"mode=1777,size={shm_size}" if shm_size > 0 else "mode=1777,size=65536k",
        )
    L.mount("mqueue", os.path.join(dev, "mqueue"), "mqueue", L.MS_NOSUID | L.MS_NODEV | L.MS_NOEXEC)
    if console:  # runc makes /dev/console only for a terminal, which is bound on it
        with open(os.path.join(dev, "console"), "a"):
            pass
    if nodes:  # last: a host's /dev/ptmx node must not take the place of our link
        old = os.umask(0)
        try:
            _make_nodes(rootfs, nodes)
        finally:
            os.umask(old)


def _mount_sys(rootfs: str, writable: bool = False) -> None:
    target = os.path.join(rootfs, "sys")
    os.makedirs(target, exist_ok=True)
    flags = L.MS_NOSUID | L.MS_NODEV | L.MS_NOEXEC | (0 if writable else L.MS_RDONLY)
    try:
        L.mount("sysfs", target, "sysfs", flags)
    except OSError as exc:  # sysfs of a network namespace we do not own (--network host)
        if exc.errno != errno.EPERM:
            raise
        L.mount("/sys", target, None, L.MS_BIND | L.MS_REC)
        if not writable:
            L.mount(None, target, None, L.MS_BIND | L.MS_REMOUNT | L.MS_RDONLY | L.MS_REC)


def bind(
    source: str,
    rootfs: str,
    dest: str,
    readonly: bool = False,
    propagation: int = 0,
    recursive: bool = True,
) -> None:
    """Bind ``source`` (a host path) at ``dest`` inside the container.

    ``dest`` is resolved inside ``rootfs`` through descriptors (the image may hold symlinks)
    and the mount made on ``/proc/self/fd/N`` of what was resolved, never on a host path that
    a link could redirect after the check (runc's answer to CVE-2021-30465)."""
    from dockerlab.engine.runtime.inroot import Root

    with Root(rootfs) as root:
        with _mountpoint(root, dest, os.path.isdir(source)) as target:
            rec = L.MS_REC if recursive else 0  # bind-nonrecursive: without its submounts
            L.mount(source, f"/proc/self/fd/{target.fd}", None, L.MS_BIND | rec)
        if readonly:  # the new mount is what the path leads to now
            with root.resolve(dest) as target:
                L.mount(
                    None,
                    f"/proc/self/fd/{target.fd}",
                    None,
                    L.MS_BIND | L.MS_REMOUNT | L.MS_RDONLY | L.MS_REC,
                )
        if propagation:  # --mount bind-propagation / -v :rshared …
            with root.resolve(dest) as target:
                L.mount(None, f"/proc/self/fd/{target.fd}", None, propagation)


def _mountpoint(root: Any, dest: str, is_dir: bool) -> Any:
    """The entry to mount on at ``dest``: a folder, or a file created empty when missing."""
    if is_dir:
        return root.mkdirs(dest, 0o755)
    try:
        return root.resolve(dest)
    except FileNotFoundError:
        pass
    head, name = os.path.split(dest.rstrip("/"))
    with root.mkdirs(head or "/", 0o755) as folder:
        try:
            os.close(
                os.open(
                    name,
                    os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                    0o644,
                    dir_fd=folder.fd,
                )
            )
        except FileExistsError:
            pass
    return root.resolve(dest)


def prepare(
    rootfs: str,
    binds: list[tuple[Any, ...]],
    nodes: list[dict[str, Any]] | None = None,
    nodev: bool = False,
    privileged: bool = False,
    tmpfs: list[tuple[str, str, bool]] | None = None,
    readonly: bool = False,
    shm_size: int = 0,
    console: bool = True,
    workdir: str = "",
) -> None:
    """Mount /proc, /dev (with ``nodes``), /sys, ``binds`` (source, dest, readonly[,
    propagation name[, non-recursive]]) and ``tmpfs`` (dest, options, readonly) under
    ``rootfs``, parents before children (Docker sorts by depth). ``nodev``: no device
    cgroup guards this container, so device nodes that an image carries must not open.
    ``privileged``: /sys writable, as Docker's ``--privileged``. ``readonly``: the root
    itself read-only at the end (``--read-only``; /dev, /proc, volumes, binds and tmpfs keep
    their own modes), after ``workdir`` was made in it, as Docker makes it in the writable
    layer first."""
    mounts: list[tuple[int, int, tuple[Any, ...]]] = []
    for i, b in enumerate(binds):
        mounts.append((_depth(b[1]), i, ("bind", *b)))
    for i, (dest, data, ro) in enumerate(tmpfs or []):
        options = tmpfs_options(data, ro)  # refused before anything is mounted
        mounts.append((_depth(dest), len(binds) + i, ("tmpfs", dest, options)))
    mounts.sort(key=lambda m: m[:2])
    dests = {_clean(m[2][1] if m[2][0] == "tmpfs" else m[2][2]) for m in mounts}
    L.mount(None, "/", None, L.MS_REC | L.MS_PRIVATE)
    if nodev:
        L.mount(None, rootfs, None, L.MS_REMOUNT | L.MS_BIND | L.MS_NODEV)
    proc = os.path.join(rootfs, "proc")
    os.makedirs(proc, exist_ok=True)
    L.mount("proc", proc, "proc", L.MS_NOSUID | L.MS_NODEV | L.MS_NOEXEC)
    _mount_dev(rootfs, nodes or [], shm_size, console, shm="/dev/shm" not in dests)
    _mount_sys(rootfs, privileged)
    for _, _, m in mounts:
        if m[0] == "bind":
            propagation = PROPAGATIONS.get(m[4], 0) if len(m) > 4 else 0
            bind(m[1], rootfs, m[2], m[3], propagation, not (len(m) > 5 and m[5]))
            continue
        from dockerlab.engine.runtime.inroot import Root

        with Root(rootfs) as root:
            try:
                mount_tmpfs(root, m[1], *m[2])
            except OSError as exc:
                from dockerlab.errors import describe

                raise MountRefused(
                    f'error mounting "tmpfs" to rootfs at "{m[1]}": {describe(exc)}'
                ) from None
    if readonly:
        if workdir:
            from dockerlab.engine.runtime.inroot import Root

            with Root(rootfs) as root, root.mkdirs(workdir, 0o755):
                pass
        # runc's setReadonly: the root mount alone, keeping its other flags (nodev above)
        kept = os.statvfs(rootfs).f_flag & (L.MS_NOSUID | L.MS_NODEV | L.MS_NOEXEC)
        L.mount(None, rootfs, None, L.MS_REMOUNT | L.MS_BIND | L.MS_RDONLY | kept)


def enter(rootfs: str, privileged: bool = False) -> None:
    """Make ``rootfs`` the root (pivot_root, old root detached), then hide what Docker hides
    (nothing with ``privileged``: Docker masks no path then)."""
    os.chdir(rootfs)
    L.pivot_root(".", ".")
    L.umount(".", L.MNT_DETACH)
    os.chdir("/")
    if privileged:
        return
    for path in MASKED_PATHS:
        if not os.path.exists(path):
            continue
        if os.path.isdir(path):
            L.mount("tmpfs", path, "tmpfs", L.MS_RDONLY)
        else:
            L.mount("/dev/null", path, None, L.MS_BIND)
    for path in READONLY_PATHS:
        if os.path.exists(path):
            L.mount(path, path, None, L.MS_BIND | L.MS_REC)
            L.mount(None, path, None, L.MS_BIND | L.MS_REMOUNT | L.MS_RDONLY | L.MS_REC)


CGROUP_DIR = "/sys/fs/cgroup"


def mount_cgroups(mounts: list[tuple[str, str, str, tuple[str, ...]]], readonly: bool) -> None:
    """The container's cgroups at /sys/fs/cgroup, as Docker shows them: run inside the
    container's cgroup namespace (after ``pivot_root``), so each mount's root is the
    container's own cgroup. v1: a tmpfs with one folder per hierarchy (and links for
    co-mounted controllers, ``cpu -> cpu,cpuacct``); v2: the cgroup2 file system itself.
    ``mounts`` comes from :meth:`Cgroup.ns_mounts`. Read-only unless privileged.

    Each mount is made read-write, then made read-only by a bind remount: that flag is the
    mount's own, while ``MS_RDONLY`` on a new mount could reach the host's superblock.
    """
    flags = L.MS_NOSUID | L.MS_NODEV | L.MS_NOEXEC

    def seal(path: str) -> None:
        if readonly:
            L.mount(None, path, None, L.MS_REMOUNT | L.MS_BIND | L.MS_RDONLY | flags)

    if not mounts:
        return
    if len(mounts) == 1 and mounts[0][0] == "":
        _, fstype, data, _ = mounts[0]
        L.mount(fstype, CGROUP_DIR, fstype, flags, data or None)
        seal(CGROUP_DIR)
        return
    L.mount("tmpfs", CGROUP_DIR, "tmpfs", flags, "mode=755")
    for folder, fstype, data, links in mounts:
        path = os.path.join(CGROUP_DIR, folder)
        os.mkdir(path, 0o555)
        try:
            L.mount(fstype, path, fstype, flags, data or None)
        except OSError:  # a hierarchy the kernel will not mount again here: left out
            os.rmdir(path)
            continue
        seal(path)
        for link in links:
            os.symlink(folder, os.path.join(CGROUP_DIR, link))
    seal(CGROUP_DIR)
