"""Rootless mode: containers of an unprivileged user, in a user namespace of their own.

Chosen when dockerlab runs as a non-root user (``DOCKERLAB_ROOTLESS=1`` chooses it as root,
for tests). The state root's forkserver is the namespace holder (as rootless Podman's pause
process): when it starts it becomes root of a new user namespace (and a mount namespace of
its own), mapped by ``newuidmap``/``newgidmap`` from the user's ``/etc/subuid`` and
``/etc/subgid`` ranges: container uid 0 = the user, 1..N = the subordinate range. Every
monitor it forks is that namespace's root, so the root-mode start path (overlay with
``userxattr``, mount/PID/UTS/IPC/network namespaces) runs unchanged inside it; only cgroups
(v1 has no delegation) and the bridge network are left out. The caller checks what the
namespace needs first (:func:`preflight`), so a failure is told in words, not as a
forkserver that never listens.

Imports only ``os`` at module level: the CLI's start path and the forkserver load it.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_TOOL_DIRS = ("/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin", "/usr/local/sbin")
CGROUP_ADVICE = (
    "rootless containers cannot have resource limits on this host: it has cgroup v1 only, "
    "which cannot delegate a cgroup to an unprivileged user; an administrator can boot with "
    "cgroup v2 (systemd.unified_cgroup_hierarchy=1) and delegate the user's slice "
    "(systemd's Delegate=yes), or run dockerlab as root"
)
NO_PAUSE = CGROUP_ADVICE.replace("have resource limits", "be paused (no freezer cgroup)", 1)
INFO_WARNINGS = [
    "WARNING: Running in rootless mode: no cgroup (cgroup v1 delegates none to a user), so "
    "no memory, CPU or pids limits, no pause and no update; stats come from /proc (block I/O "
    "of the container's own-uid processes only)",
    *(
        []
        if any(os.path.isfile(os.path.join(d, "slirp4netns")) for d in _TOOL_DIRS)
        and os.access("/dev/net/tun", os.R_OK | os.W_OK)
        else [
            "WARNING: Running in rootless mode: no slirp4netns or no usable /dev/net/tun, so "
            "no bridge network: containers get --network none"
        ]
    ),
]
# Docker's words (moby's daemon info) for a rootless daemon with the "none" cgroup driver
NO_CGROUP_WARNINGS = {
    "1": "WARNING: Running in rootless-mode without cgroups. To enable cgroups in rootless-mode, "
    "you need to boot the system in cgroup v2 mode.",
    "2": "WARNING: Running in rootless-mode without cgroups. Systemd is required to enable "
    "cgroups in rootless-mode.",
}
# info's cgroup features: none, with no cgroup (limits are refused at create)
NO_CGROUP_FEATURES = (
    "MemoryLimit",
    "SwapLimit",
    "KernelMemory",
    "KernelMemoryTCP",
    "CpuCfsPeriod",
    "CpuCfsQuota",
    "CPUShares",
    "CPUSet",
    "PidsLimit",
    "OomKillDisable",
)
NETWORK_FALLBACK = "the container runs with --network none"


def network_stack() -> str:
    """Why the user-mode network stack cannot run ("" when it can): then rootless
    containers get bridges, user networks and published ports (engine/network/usermode)."""
    if tool("slirp4netns") is None:
        return (
            "rootless mode needs slirp4netns for bridge and user networks and published "
            "ports, and it is not installed (Debian: apt-get install slirp4netns)"
        )
    if not os.access("/dev/net/tun", os.R_OK | os.W_OK):
        return (
            "rootless mode needs /dev/net/tun for bridge and user networks and published "
            "ports (slirp4netns makes its tap device there), and this user may not open it: "
            "an administrator can chmod 0666 /dev/net/tun (Debian's udev rules do)"
        )
    return ""


def enabled() -> bool:
    """Rootless mode: a non-root user, or root that asked for it."""
    return os.geteuid() != 0 or os.environ.get("DOCKERLAB_ROOTLESS") == "1"


def in_userns() -> bool:
    """Is this process in a user namespace other than the host's (the forkserver's, for its
    monitors)? The initial namespace maps all 2**32-1 IDs from 0."""
    try:
        with open("/proc/self/uid_map") as f:
            return f.read().split() != ["0", "0", "4294967295"]
    except OSError:
        return False


def _user_names(uid: int) -> tuple[str, ...]:
    import pwd

    try:
        return (pwd.getpwuid(uid).pw_name, str(uid))
    except KeyError:
        return (str(uid),)


def ranges(kind: str, uid: int | None = None) -> list[tuple[int, int]]:
    """The user's subordinate ranges (start, count) from ``/etc/sub{kind}`` (``uid``/``gid``),
    in file order; lines may name the user or its number, as shadow's tools accept."""
    uid = os.getuid() if uid is None else uid
    names = _user_names(uid)
    found: list[tuple[int, int]] = []
    try:
        with open(f"/etc/sub{kind}") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return found
    for line in lines:
        parts = line.strip().split(":")
        if len(parts) != 3 or parts[0] not in names:
            continue
        if parts[1].isdigit() and parts[2].isdigit() and int(parts[2]) > 0:
            found.append((int(parts[1]), int(parts[2])))
    return found


def mapping(own: int, subs: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(inside, outside, count) lines: 0 = ``own``, then the ranges from 1 on."""
    lines = [(0, own, 1)]
    inside = 1
    for start, count in subs:
        lines.append((inside, start, count))
        inside += count
    return lines


def tool(name: str) -> str | None:
    for folder in _TOOL_DIRS:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


def _sysctl(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def preflight() -> list[str]:
    """Check what the user namespace needs; raises Forbidden naming what is missing and
    returns the warnings to tell (no subordinate ranges: a single-ID mapping)."""
    from dockerlab.errors import Forbidden

    if _sysctl("/proc/sys/user/max_user_namespaces") == "0":
        raise Forbidden(
            "rootless mode needs user namespaces, and this kernel allows none "
            "(sysctl user.max_user_namespaces=0); an administrator can set it to e.g. 15000"
        )
    if os.geteuid() != 0 and _sysctl("/proc/sys/kernel/unprivileged_userns_clone") == "0":
        raise Forbidden(
            "rootless mode needs user namespaces, and this kernel refuses them to "
            "unprivileged users (sysctl kernel.unprivileged_userns_clone=0); an "
            "administrator can set it to 1"
        )
    if not ranges("uid") or not ranges("gid"):
        return [
            f"no subordinate ID ranges for this user in /etc/subuid and /etc/subgid: "
            f"containers get a single-ID mapping (root in the container is uid "
            f"{os.getuid()}; images with other owners, and USER other than root, fail); an "
            f"administrator can add them with usermod --add-subuids and --add-subgids"
        ]
    for name in ("newuidmap", "newgidmap"):
        path = tool(name)
        if path is None:
            raise Forbidden(
                f"rootless mode needs {name} to map this user's subordinate IDs, and it is "
                "not installed (Debian: apt-get install uidmap)"
            )
        st = os.stat(path)
        if not (st.st_uid == 0 and st.st_mode & 0o4000) and not _has_file_caps(path):
            raise Forbidden(
                f"rootless mode needs {path} to be setuid root (or to have the setuid file "
                f"capability), and it is not: an administrator can run chmod u+s {path}"
            )
    return []


def _has_file_caps(path: str) -> bool:
    try:
        return bool(os.getxattr(path, "security.capability"))
    except OSError:
        return False


class Refused(Exception):
    """The user namespace could not be made (told to the caller by the forkserver's exit)."""


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def enter(L: Any) -> None:
    """Make this (single-threaded) process root of a new user namespace with the user's
    mapping, in a mount namespace of its own. ``L``: runtime.linux, loaded."""
    uid, gid = os.getuid(), os.getgid()
    subs_u, subs_g = ranges("uid", uid), ranges("gid", uid)
    single = not subs_u or not subs_g
    go_r, go_w = os.pipe()
    done_r, done_w = os.pipe()
    helper = -1
    if not single:  # newuidmap must run outside the namespace: setuid means nothing inside
        helper = os.fork()
        if helper == 0:
            code = 1
            try:
                os.close(go_w)
                os.close(done_r)
                said = b""
                if os.read(go_r, 1) == b"u":
                    target = str(os.getppid())
                    code = 0
                    for name, lines in (
                        ("newuidmap", mapping(uid, subs_u)),
                        ("newgidmap", mapping(gid, subs_g)),
                    ):
                        path = tool(name) or name
                        args = [name, target, *(str(n) for line in lines for n in line)]
                        err_r, err_w = os.pipe()
                        pid = os.posix_spawn(
                            path, args, {}, file_actions=[(os.POSIX_SPAWN_DUP2, err_w, 2)]
                        )
                        os.close(err_w)
                        said = os.read(err_r, 4096)  # its words: which range it refused
                        os.close(err_r)
                        if os.waitpid(pid, 0)[1] != 0:
                            code = 2
                            break
            finally:
                os.write(done_w, bytes([code]) + (said.strip() if code else b""))
                os._exit(0)
    os.close(go_r)
    os.close(done_w)
    try:
        L.unshare(L.CLONE_NEWUSER | L.CLONE_NEWNS)
        if single:  # our own IDs alone: allowed without a helper (setgroups denied first)
            _write("/proc/self/uid_map", f"0 {uid} 1\n")
            _write("/proc/self/setgroups", "deny\n")
            _write("/proc/self/gid_map", f"0 {gid} 1\n")
        else:
            os.write(go_w, b"u")
            answer = os.read(done_r, 4096)
            os.waitpid(helper, 0)
            if answer != b"\0":
                told = answer[1:].decode("utf-8", "replace")
                raise Refused(
                    "newuidmap/newgidmap refused this user's /etc/subuid or /etc/subgid "
                    f"mapping: {told or 'no reason given'}"
                )
    finally:
        os.close(go_w)
        os.close(done_r)
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    if not single:
        os.setgroups([])
    L.mount(None, "/", None, L.MS_REC | L.MS_PRIVATE)  # nothing of ours reaches the host's


def rmtree(path: str) -> None:
    """Remove ``path`` whatever the container made in it: files of the subordinate range
    (and overlay's mode-0 work folder) are the user namespace's root's to remove, not ours,
    so what is left is removed again by a helper in a user namespace of the same mapping."""
    import shutil

    shutil.rmtree(path, ignore_errors=True)
    if not os.path.lexists(path) or not enabled() or in_userns():
        return
    import sys

    pkg = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    pid = os.posix_spawn(
        sys.executable, [sys.executable, "-I", "-S", os.path.abspath(__file__), pkg, path], {}
    )
    os.waitpid(pid, 0)


def _remove_inside(path: str) -> None:
    import shutil

    from dockerlab.engine.runtime import linux

    linux.load()
    enter(linux)
    shutil.rmtree(path, ignore_errors=True)


def error_file(socket_path: str) -> str:
    """Where a forkserver that could not make its namespace says why (its caller reads it)."""
    return socket_path[: -len(".sock")] + ".error"


def told_error(socket_path: str) -> str:
    try:
        with open(error_file(socket_path)) as f:
            return f.read().strip()
    except OSError:
        return ""


def security_options() -> list[str]:
    return ["name=rootless"] if enabled() else []


if __name__ == "__main__":  # python -I -S rootless.py PKGDIR PATH: rmtree's helper
    import sys

    sys.path.insert(0, sys.argv[1])
    _remove_inside(sys.argv[2])
