"""The last steps of a container's (or an exec's) process: user, capabilities, command.

Runs inside the container after ``pivot_root``. Failures raise :class:`StartFailure`, whose
``code`` is the exit code Docker gives (126 cannot invoke, 127 not found) and whose message is
Docker's, so the monitor can report it to whoever started the container.
"""

from __future__ import annotations

import os
import stat

from dockerlab.engine.basics import DEFAULT_PATH
from dockerlab.engine.runtime import linux as L
from dockerlab.errors import reason

L.load()  # ctypes before the process leaves the host's filesystem (pivot_root, setns)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# How runc words a failure of its container's init, as the daemon passes it on.
RUNC_CREATE = "failed to create shim task: OCI runtime create failed: runc create failed: "
RUNC_INIT = "unable to start container process: error during container init: "


class StartFailure(Exception):
    """``init``: a step runc's init does (rlimits, sysctls): ``run`` words it as runc's
    create failure, ``exec`` as runc's exec failure."""

    def __init__(self, code: int, message: str, init: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.init = init

    def for_run(self) -> str:
        return f"{RUNC_CREATE}{RUNC_INIT}{self}: unknown" if self.init else str(self)


def _entries(path: str) -> list[list[str]]:
    try:
        with open(path) as f:
            return [
                line.rstrip("\n").split(":")
                for line in f
                if line.strip() and not line.startswith("#")
            ]
    except OSError:
        return []


def resolve_user(spec: str, group_add: list[str] | None = None) -> tuple[int, int, list[int], str]:
    """``user[:group]`` (names or numbers) → uid, gid, supplementary gids, home folder.

    The supplementary groups are Docker's: the primary group, the groups that list the
    user by name when no group was given, and ``group_add`` (``--group-add``)."""
    user, _, group = (spec or "0").partition(":")
    passwd = _entries("/etc/passwd")
    groups = _entries("/etc/group")
    uid = gid = None
    home = "/"
    for e in passwd:
        if len(e) >= 6 and (e[0] == user or (user.isdigit() and e[2] == user)):
            uid, gid, home = int(e[2]), int(e[3]), e[5]
            break
    if uid is None:
        if not user.isdigit():
            raise StartFailure(
                125, f"unable to find user {user}: no matching entries in passwd file"
            )
        uid, gid = int(user), 0
    if group:
        match = next(
            (
                e
                for e in groups
                if len(e) >= 3 and (e[0] == group or (group.isdigit() and e[2] == group))
            ),
            None,
        )
        if match:
            gid = int(match[2])
        elif group.isdigit():
            gid = int(group)
        else:
            raise StartFailure(
                125, f"unable to find group {group}: no matching entries in group file"
            )
    gid = gid if gid is not None else 0
    name = next((e[0] for e in passwd if len(e) >= 3 and e[2] == str(uid)), None)
    extra = {gid}
    if not group:
        extra |= {
            int(e[2])
            for e in groups
            if len(e) >= 4 and name and name in e[3].split(",") and e[2].isdigit()
        }
    extra |= set(additional_groups(group_add or [], groups))
    return uid, gid, sorted(extra), home


_MAX_ID = 2**31 - 1


def _why(exc: OSError) -> str:
    """Go's words for an errno: ``operation not permitted``."""
    return os.strerror(exc.errno).lower() if exc.errno else str(exc)


def additional_groups(names: list[str], groups: list[list[str]]) -> list[int]:
    """libcontainer's ``GetAdditionalGroups``: each name or gid looked up in /etc/group; a
    number not there is taken as it is."""
    out = []
    for ag in names:
        match = next((e for e in groups if len(e) >= 3 and ag in (e[0], e[2])), None)
        if match and match[2].isdigit():
            out.append(int(match[2]))
            continue
        if not ag.isdigit() or not ag.isascii():
            raise StartFailure(125, f"Unable to find group {ag}: no matching entries in group file")
        if int(ag) > _MAX_ID:
            raise StartFailure(125, f"uids and gids must be in range 0-{_MAX_ID}")
        out.append(int(ag))
    return out


def set_rlimits(rlimits: list[list[int]]) -> None:
    """``[resource, soft, hard]`` each, before the capabilities go (a hard limit above the
    current one needs CAP_SYS_RESOURCE), as runc's init."""
    for resource, soft, hard in rlimits:
        try:
            L.set_rlimit(resource, soft, hard)
        except OSError as exc:
            raise StartFailure(
                125,
                "error setting rlimits for ready process: error setting rlimit type "
                f"{resource}: {_why(exc)}",
                init=True,
            )


# runc's validation: what each namespace of the container owns (moby's CLI allows fewer)
_IPC_SYSCTLS = frozenset(
    {
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    }
)


def check_sysctls(sysctls: dict[str, str], host_network: bool) -> None:
    for key in sysctls:
        if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
            continue
        if key.startswith("net."):
            if host_network:
                raise StartFailure(
                    125,
                    f'{RUNC_CREATE}sysctl "{key}" not allowed in host network namespace: unknown',
                )
            continue
        if key in ("kernel.domainname", "kernel.hostname"):
            continue
        raise StartFailure(
            125, f'{RUNC_CREATE}sysctl "{key}" is not in a separate kernel namespace: unknown'
        )


def write_sysctls(sysctls: dict[str, str], host_network: bool) -> None:
    """Write ``--sysctl`` values into the new namespaces (IPC, network) of the calling
    process: /proc/sys resolves these per namespace of the writer, so the host's /proc
    serves before ``pivot_root`` (the container's own /proc/sys is read-only). Every ``.``
    becomes ``/``, so no key can climb out of /proc/sys."""
    check_sysctls(sysctls, host_network)
    for key, value in sysctls.items():
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            raise StartFailure(125, f"open {path}: {_why(exc)}", init=True)
        try:
            os.write(fd, value.encode())
        except OSError as exc:
            raise StartFailure(125, f"write {path}: {_why(exc)}", init=True)
        finally:
            os.close(fd)


def find_executable(name: str, env: list[str]) -> str:
    """Where ``name`` is, looked up in the container's PATH as runc does."""
    if "/" in name:
        try:
            st = os.stat(name)
        except FileNotFoundError:
            raise StartFailure(127, f'exec: "{name}": stat {name}: no such file or directory')
        if stat.S_ISDIR(st.st_mode):
            raise StartFailure(126, f'exec: "{name}": permission denied')  # runc's words
        if not os.access(name, os.X_OK):
            raise StartFailure(126, f'exec: "{name}": permission denied')
        return name
    path = next((e[5:] for e in env if e.startswith("PATH=")), DEFAULT_PATH)
    for folder in path.split(":"):
        candidate = os.path.join(folder or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise StartFailure(127, f'exec: "{name}": executable file not found in $PATH')


def _program(security: dict[str, Any]) -> bytes | None:
    program = security.get("Seccomp")
    return bytes.fromhex(program) if isinstance(program, str) else program


def _install(program: bytes) -> None:
    try:
        L.install_seccomp(program)
    except OSError as exc:
        raise StartFailure(125, f"error loading seccomp filter into kernel: {reason(exc)}")


def become(
    user: str, cwd: str, env: list[str], security: dict[str, Any], make_cwd: bool = True
) -> list[str]:
    """Drop to the container's capabilities and ``user``, enter ``cwd`` (made first, unless
    ``make_cwd`` is false: ``docker exec -w`` never creates it); returns the final env.
    ``security`` is :func:`dockerlab.engine.runtime.security.for_container`'s answer."""
    uid, gid, groups, home = resolve_user(user, security.get("GroupAdd"))
    set_rlimits(security.get("Rlimits") or [])
    if cwd and make_cwd:
        try:
            os.makedirs(cwd, exist_ok=True)
        except OSError as exc:
            raise StartFailure(125, f"mkdir {cwd}: {(exc.strerror or str(exc)).lower()}")
    program = _program(security)
    if program and not security.get("NoNewPrivs"):
        # Without no_new_privs only CAP_SYS_ADMIN may load a filter: load it while we still
        # hold it (runc's order); what follows must be allowed by it, as under runc.
        _install(program)
    caps = frozenset(security["Caps"])
    L.drop_bounding(caps)
    try:
        os.setgroups(groups)  # before the capset: CAP_SETUID/SETGID may be among those dropped
    except PermissionError:  # a rootless single-ID user namespace denies it (as runc skips)
        with open("/proc/self/setgroups") as f:
            if f.read().strip() != "deny":
                raise
    os.setgid(gid)
    os.setuid(uid)
    L.set_capabilities(caps)
    try:
        os.chdir(cwd or "/")
    except OSError as exc:
        raise StartFailure(
            126,
            f'chdir to cwd ("{cwd}") set in config.json failed: '
            f"{(exc.strerror or str(exc)).lower()}",
        )
    try:  # a folder outside our root (a leaked descriptor's) has no path: runc's check
        os.getcwd()
    except OSError:
        raise StartFailure(
            126,
            "current working directory is outside of container mount "
            "namespace root -- possible container breakout detected",
        )
    if not any(e.startswith("HOME=") for e in env):
        env = [*env, f"HOME={home or '/'}"]
    return env


def reset_signals() -> None:
    """Every signal back to its default: an ignored one (Python ignores SIGPIPE and SIGXFSZ)
    would stay ignored across execve, and the command would not see it."""
    import signal

    for sig in range(1, signal.NSIG):
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError, RuntimeError):
            pass  # SIGKILL, SIGSTOP and the C library's own
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def execute(argv: list[str], env: list[str], security: dict[str, Any]) -> None:
    """Replace this process with ``argv``; never returns."""
    if not argv:
        raise StartFailure(125, "no command specified")
    exe = find_executable(argv[0], env)
    envd = {k: v for k, _, v in (e.partition("=") for e in env)}
    reset_signals()
    if security.get("NoNewPrivs"):
        L.set_no_new_privs()
        program = _program(security)
        if program:  # the last step: from here to execve only read/write/execve/exit run
            _install(program)
    try:
        os.execve(exe, argv, envd)
    except PermissionError:
        raise StartFailure(126, f'exec: "{argv[0]}": permission denied')
    except OSError as exc:
        raise StartFailure(126, f'exec: "{argv[0]}": {(exc.strerror or str(exc)).lower()}')


def run(
    user: str,
    cwd: str,
    env: list[str],
    argv: list[str],
    security: dict[str, Any] | None,
    make_cwd: bool = True,
) -> None:
    """The last steps of a container's process or an exec: user, capabilities, seccomp and
    no-new-privileges as ``security`` says, then ``argv``. Never returns."""
    if not security or "Caps" not in security:  # never run a command unconfined by mistake
        raise StartFailure(125, "the container's security settings are missing")
    execute(argv, become(user, cwd, env, security, make_cwd), security)
