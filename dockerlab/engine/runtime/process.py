"""The last steps of a container's (or an exec's) process: user, capabilities, command.

Runs inside the container after ``pivot_root``. Failures raise :class:`StartFailure`, whose
``code`` is the exit code Docker gives (126 cannot invoke, 127 not found) and whose message is
Docker's, so the monitor can report it to whoever started the container.
"""

from __future__ import annotations

import os
import stat

from dockerlab.engine.runtime import linux as L
from dockerlab.errors import reason

L.load()  # ctypes before the process leaves the host's filesystem (pivot_root, setns)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class StartFailure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


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


def resolve_user(spec: str) -> tuple[int, int, list[int], str]:
    """``user[:group]`` (names or numbers) → uid, gid, supplementary gids, home folder."""
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
    name = next((e[0] for e in passwd if len(e) >= 3 and int(e[2] or -1) == uid), None)
    extra = sorted(
        {
            int(e[2])
            for e in groups
            if len(e) >= 4 and name and name in e[3].split(",") and e[2].isdigit()
        }
    )
    return uid, gid if gid is not None else 0, extra, home


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
    uid, gid, groups, home = resolve_user(user)
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
    os.setgroups(groups)  # before the capset: CAP_SETUID/SETGID may be among those dropped
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
