"""Local volumes made with options (``type=``, ``device=``, ``o=``): mounted on the host at
their ``_data`` while containers use them, as Docker's local driver does.

The first container to start mounts the file system; each user is a line of
``volumes/<name>/users`` (container ID, monitor pid and start time, under a lock beside it);
the last one to end unmounts it. A user whose monitor died is dropped by the next one (and
by the verb that cleans up after it), so a killed monitor never keeps a volume mounted.
Imported by the monitor: nothing slow, no json, no re.
"""

from __future__ import annotations

import fcntl
import os

from dockerlab.engine.runtime import linux as L

VALID_OPTIONS = ("type", "o", "device", "size")
# option -> the options it needs (the local driver's mandatoryOpts), checked in this order
REQUIRED = (("device", ("type",)), ("type", ("device",)), ("o", ("device", "type")))


class VolumeMountFailed(Exception):
    """The local driver could not mount a volume (Docker's words)."""


def check_options(options: dict[str, str]) -> str:
    """The local driver's refusal of ``options`` in its words, or ""."""
    for key in options:
        if key not in VALID_OPTIONS:
            return f'invalid option: "{key}"'
    for key, needs in REQUIRED:
        if key in options:
            for need in needs:
                if need not in options:
                    return f'missing required option: "{need}"'
    if options.get("size") not in (None, "", "0"):
        return "quota size requested but no quota support"
    return ""


def _users(folder: str) -> list[tuple[str, int, int]]:
    try:
        with open(os.path.join(folder, "users")) as f:
            lines = f.read().split("\n")
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            pid, start = int(parts[1]), int(parts[2])
            if L.pid_alive(pid, start):  # a user whose monitor died is dropped here
                out.append((parts[0], pid, start))
    return out


def _write_users(folder: str, users: list[tuple[str, int, int]]) -> None:
    tmp = os.path.join(folder, ".users.tmp")
    with open(tmp, "w") as f:
        f.write("".join(f"{c} {p} {s}\n" for c, p, s in users))
    os.rename(tmp, os.path.join(folder, "users"))


class _Locked:
    def __init__(self, folder: str) -> None:
        self.fd = os.open(os.path.join(folder, "users.lock"), os.O_RDWR | os.O_CREAT, 0o600)

    def __enter__(self) -> _Locked:
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *_: object) -> None:
        os.close(self.fd)


def attach(folder: str, cid: str, options: dict[str, str]) -> None:
    """Count ``cid`` (this monitor) as a user of the volume in ``folder``; mount it if it is
    not mounted. Raises OSError with Docker's words when the mount is refused."""
    from dockerlab.engine.runtime.rootfs import mount_options

    data_dir = os.path.join(folder, "_data")
    with _Locked(folder):
        users = [u for u in _users(folder) if u[0] != cid]
        if not os.path.ismount(data_dir):
            device, fstype, opts = (
                options.get("device", ""),
                options.get("type", ""),
                options.get("o", ""),
            )
            if not device:
                raise VolumeMountFailed(
                    f"error while mounting volume '{data_dir}': missing device in volume options"
                )
            flags, data = mount_options(opts)
            try:
                L.mount(device, data_dir, fstype or None, flags, data or None)
            except OSError as exc:
                shown = f"mount {device}:{data_dir}"  # moby/sys/mount's mountError
                shown += f", flags: {flags:#x}" if flags else ""
                shown += f", data: {data}" if data else ""
                raise VolumeMountFailed(
                    f"error while mounting volume '{data_dir}': failed to mount local volume: "
                    f"{shown}: {os.strerror(exc.errno or 0).lower()}"
                ) from None
        me = os.getpid()
        users.append((cid, me, L.proc_start_time(me) or 0))
        _write_users(folder, users)


def detach(folder: str, cid: str) -> None:
    """``cid`` no longer uses the volume in ``folder``: unmount it if nobody else does."""
    if not os.path.isdir(folder):
        return
    with _Locked(folder):
        users = [u for u in _users(folder) if u[0] != cid]
        _write_users(folder, users)
        data_dir = os.path.join(folder, "_data")
        if not users and os.path.ismount(data_dir):
            L.umount(data_dir, L.MNT_DETACH)


def release_all(folder: str) -> None:
    """A volume being removed: unmount whatever is still mounted at its ``_data``."""
    data_dir = os.path.join(folder, "_data")
    while os.path.ismount(data_dir):
        L.umount(data_dir, L.MNT_DETACH)
