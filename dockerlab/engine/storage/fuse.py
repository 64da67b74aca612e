"""``fuse-overlayfs``: the container's overlay mounted by a FUSE program (Debian's
``fuse-overlayfs``), for where the kernel refuses an overlay mount: a state root on a
filesystem overlay cannot use as its upper layer (overlayfs itself, as in many Kubernetes
pods), or a user namespace on a kernel that does not allow overlay in one.

It reads the same layer folders (whiteouts as char 0/0, opaque folders by xattr) and writes
the container's ``diff/`` in the same form where it can; where ``mknod`` of a whiteout is
refused it writes ``.wh.<name>`` files and ``.wh..wh..opq`` markers (the layer tar's own
names), which ``diff`` and ``commit`` read as whiteouts. The program forks into the
background once the mount is made; it ends by itself when the mount goes.

Imports only ``os``: the monitor loads it when a container of this driver starts.
"""

from __future__ import annotations

import os

PROGRAM = "fuse-overlayfs"
PACKAGE = "fuse-overlayfs"
MISSING = (
    "storage driver fuse-overlayfs needs the fuse-overlayfs program, which is not installed "
    "(Debian: apt-get install fuse-overlayfs)"
)
FUSE_DEVICE = "/dev/fuse"


def program() -> str | None:
    for folder in ("/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin", "/sbin"):
        path = os.path.join(folder, PROGRAM)
        if os.access(path, os.X_OK):
            return path
    return None


def device_problem() -> str:
    """Why this user cannot use /dev/fuse ('' when it can): Debian's udev makes it 0666
    (systemd's 50-udev-default.rules), a host without udev leaves the kernel's 0600 root."""
    try:
        os.close(os.open(FUSE_DEVICE, os.O_RDWR | os.O_CLOEXEC))
        return ""
    except FileNotFoundError:
        return (
            "storage driver fuse-overlayfs needs /dev/fuse, and this host has none (the fuse "
            "kernel module: an administrator can run modprobe fuse)"
        )
    except PermissionError:
        try:
            mode = oct(os.stat(FUSE_DEVICE).st_mode & 0o777)[2:]
        except OSError:
            mode = "?"
        return (
            f"storage driver fuse-overlayfs needs /dev/fuse, which this user may not open "
            f"(mode {mode}, owner root): an administrator can make it usable by every user "
            f'as udev does on Debian (chmod 0666 /dev/fuse; a rule KERNEL=="fuse", '
            f'MODE="0666" keeps it across reboots)'
        )
    except OSError as exc:
        return f"storage driver fuse-overlayfs cannot open /dev/fuse: {exc.strerror}"


def unmount(target: str) -> None:
    """Unmount a fuse-overlayfs mount: as its namespace's root by ``umount2``; as a user
    outside one (fuse-overlayfs mounted it through the setuid ``fusermount3``), by that."""
    from dockerlab.engine.runtime import linux as L

    try:
        L.umount(target)
        return
    except OSError as exc:
        if exc.errno != 1:  # EPERM: not ours to unmount with umount2
            L.umount(target, L.MNT_DETACH)
            return
    for name in ("fusermount3", "fusermount"):
        for folder in ("/usr/bin", "/bin"):
            path = os.path.join(folder, name)
            if os.access(path, os.X_OK):
                pid = os.posix_spawn(path, [name, "-u", "-z", target], {})
                if os.waitpid(pid, 0)[1] == 0:
                    return
    raise OSError(1, f"cannot unmount {target}: fusermount3 -u failed")


def mount(data: str, target: str) -> None:
    """Mount the overlay ``data`` (lowerdir=…,upperdir=…,workdir=…, relative to the current
    folder) on ``target``; OSError with the program's words when it fails."""
    path = program()
    if path is None:
        raise OSError(2, MISSING)
    err_r, err_w = os.pipe()
    try:
        pid = os.posix_spawn(
            path,
            [PROGRAM, "-o", data, target],
            {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
            file_actions=[(os.POSIX_SPAWN_DUP2, err_w, 2), (os.POSIX_SPAWN_DUP2, err_w, 1)],
        )
    finally:
        os.close(err_w)
    said = b""
    try:
        # the background daemon keeps the pipe: read only until the foreground part exits
        status = os.waitpid(pid, 0)[1]
        os.set_blocking(err_r, False)
        try:
            said = os.read(err_r, 4096)
        except BlockingIOError:
            pass
    finally:
        os.close(err_r)
    if status != 0:
        words = " ".join(
            line
            for line in said.decode("utf-8", "replace").splitlines()
            if line and "unknown argument ignored" not in line
        )
        raise OSError(5, f"fuse-overlayfs failed: {words or 'no reason given'}")
