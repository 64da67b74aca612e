"""The few Linux syscalls Python's ``os`` module lacks, through ctypes.

Each wrapper raises ``OSError`` from errno with the path or name it acted on, so callers can
turn it into a message that names the step that failed.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_MACHINE = os.uname().machine

# sched.h
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWCGROUP = 0x02000000

# sys/mount.h
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2

# prctl
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NAME = 15
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2

_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
_SYS_CAPSET = {"x86_64": 126, "aarch64": 91, "riscv64": 91, "ppc64le": 184, "s390x": 185}

# linux/capability.h, in bit order; Docker's default set is named in DEFAULT_CAPS.
CAPS = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
]
DEFAULT_CAPS = frozenset(
    {
        "CHOWN",
        "DAC_OVERRIDE",
        "FSETID",
        "FOWNER",
        "MKNOD",
        "NET_RAW",
        "SETGID",
        "SETUID",
        "SETFCAP",
        "SETPCAP",
        "NET_BIND_SERVICE",
        "SYS_CHROOT",
        "KILL",
        "AUDIT_WRITE",
    }
)


_FFI: dict[str, Any] = {}


def load() -> dict[str, Any]:
    """ctypes, libc and the kernel's structures, loaded on the first syscall: the CLI's start
    path only reads this module's constants and /proc, and ctypes costs it ~1.5 ms. The
    forkserver calls this once, so the monitors it forks find them loaded."""
    if not _FFI:
        import ctypes

        class CapHeader(ctypes.Structure):
            _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

        class CapData(ctypes.Structure):
            _fields_ = [
                ("effective", ctypes.c_uint32),
                ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32),
            ]

        class SockFprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

        class Rlimit64(ctypes.Structure):
            _fields_ = [("cur", ctypes.c_uint64), ("max", ctypes.c_uint64)]

        _FFI.update(
            ctypes=ctypes,
            libc=ctypes.CDLL(None, use_errno=True),
            CapHeader=CapHeader,
            CapData=CapData,
            SockFprog=SockFprog,
            Rlimit64=Rlimit64,
        )
    return _FFI


def _libc() -> Any:
    return (_FFI or load())["libc"]


def _check(ret: int, what: str) -> int:
    if ret < 0:
        err = load()["ctypes"].get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


def _b(s: str | None) -> bytes | None:
    return s.encode() if isinstance(s, str) else s


def mount(
    source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None
) -> None:
    c = load()["ctypes"]
    ret = _libc().mount(_b(source), _b(target), _b(fstype), c.c_ulong(flags), _b(data))
    _check(ret, f"mount {fstype or source or ''} on {target}")


def umount(target: str, flags: int = 0) -> None:
    _check(_libc().umount2(_b(target), flags), f"umount {target}")


def unshare(flags: int) -> None:
    _check(_libc().unshare(flags), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc().setns(fd, nstype), "setns")


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc().sethostname(raw, len(raw)), "sethostname")


def pivot_root(new_root: str, put_old: str) -> None:
    nr = _SYS_PIVOT_ROOT[_MACHINE]
    _check(_libc().syscall(nr, _b(new_root), _b(put_old)), "pivot_root")


def prctl(option: int, arg: int = 0) -> None:
    c = load()["ctypes"]
    _check(_libc().prctl(option, c.c_ulong(arg), 0, 0, 0), f"prctl({option})")


def set_process_name(name: str) -> None:
    buf = load()["ctypes"].create_string_buffer(name.encode()[:15])
    _libc().prctl(PR_SET_NAME, buf, 0, 0, 0)


def drop_bounding(keep: frozenset[str] = DEFAULT_CAPS) -> None:
    """Drop every capability not in ``keep`` from the bounding set (no execve regains it)."""
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    for bit, name in enumerate(CAPS[: last + 1]):
        if name not in keep:
            prctl(PR_CAPBSET_DROP, bit)


def set_capabilities(keep: frozenset[str] = DEFAULT_CAPS) -> None:
    """Effective and permitted sets cut to ``keep``, inheritable emptied. Called after the
    uid change: a root process keeps ``keep`` across execve, a non-root one has none left
    (as with Docker)."""
    mask = sum(1 << CAPS.index(name) for name in keep if name in CAPS)
    ffi = load()
    c, libc = ffi["ctypes"], ffi["libc"]
    header = ffi["CapHeader"](0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (ffi["CapData"] * 2)()
    _check(libc.syscall(_SYS_CAPSET[_MACHINE] - 1, c.byref(header), c.byref(data)), "capget")
    for i in range(2):
        part = (mask >> (32 * i)) & 0xFFFFFFFF
        data[i].effective &= part
        data[i].permitted &= part
        data[i].inheritable = 0
    _check(libc.syscall(_SYS_CAPSET[_MACHINE], c.byref(header), c.byref(data)), "capset")


def set_no_new_privs() -> None:
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def install_seccomp(program: bytes) -> None:
    """Load a BPF seccomp program (``struct sock_filter`` array, compiled by the engine).

    Needs no_new_privs or CAP_SYS_ADMIN; after it, only the syscalls it allows work.
    """
    ffi = load()
    c = ffi["ctypes"]
    buf = c.create_string_buffer(program, len(program))
    prog = ffi["SockFprog"](len(program) // 8, c.addressof(buf))
    ret = ffi["libc"].prctl(PR_SET_SECCOMP, c.c_ulong(SECCOMP_MODE_FILTER), c.byref(prog), 0, 0)
    _check(ret, "seccomp")


def proc_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks (field 22 of /proc/PID/stat), None if gone.

    A pid plus its start time names one process for good, even after the pid is reused.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()
    if fields[0] == b"Z":
        return None
    return int(fields[19])


def pid_alive(pid: int, start_time: int | None) -> bool:
    return pid > 0 and start_time is not None and proc_start_time(pid) == start_time


def kernel_version(release: str | None = None) -> tuple[int, int]:
    """``6.18.44-fc`` -> (6, 18)."""
    parts = (release or os.uname().release).split("-")[0].split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return 0, 0


# sys/resource.h: the limits ``--ulimit`` names (Docker's names; "as" is not among them)
RLIMITS = {
    "cpu": 0,
    "fsize": 1,
    "data": 2,
    "stack": 3,
    "core": 4,
    "rss": 5,
    "nproc": 6,
    "nofile": 7,
    "memlock": 8,
    "locks": 10,
    "sigpending": 11,
    "msgqueue": 12,
    "nice": 13,
    "rtprio": 14,
    "rttime": 15,
}
RLIM_INFINITY = (1 << 64) - 1


def set_rlimit(resource: int, soft: int, hard: int) -> None:
    """prlimit64 on ourselves: ``os`` has no setrlimit, and ``resource`` cannot be imported
    once we are inside a container's root. A negative value is unlimited (as runc's uint64)."""
    ffi = load()
    new = ffi["Rlimit64"](soft & RLIM_INFINITY, hard & RLIM_INFINITY)
    _check(
        ffi["libc"].prlimit64(0, resource, ffi["ctypes"].byref(new), None), f"prlimit {resource}"
    )


# sys/inotify.h: a follower of the event journal sleeps until it changes
IN_MODIFY = 0x002
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100


def inotify_init() -> int:
    """A non-blocking, close-on-exec inotify descriptor."""
    return _check(_libc().inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC), "inotify_init1")


def inotify_watch(fd: int, path: str, mask: int) -> int:
    return _check(_libc().inotify_add_watch(fd, _b(path), mask), f"inotify_add_watch {path}")
