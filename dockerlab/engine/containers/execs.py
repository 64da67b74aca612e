"""Starting ``exec`` helpers (see :mod:`dockerlab.engine.runtime.nsexec`) from any caller, no fork.

The helper gets nothing of the caller's but what it must copy: an empty environment, ``/`` as
its folder, no descriptor but the caller's stdio (which it copies to and from the command's
own pipes or terminal, never hands over) and the spec's pipe, and the spec (a dict, whole, so
every key the caller adds reaches the helper) through that pipe rather than argv, which any
process in the container may read in ``/proc/PID/cmdline``.
"""

from __future__ import annotations

import marshal
import os
import subprocess
import sys

from dockerlab.engine.basics import daemon_env
from dockerlab.engine.containers.create import merge_env, wire_strings
from dockerlab.engine.containers.store import Container
from dockerlab.errors import DockerlabError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_HELPER = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "runtime", "nsexec.py"
)
_PKG_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(_HELPER))))


def _rootless() -> bool:
    return os.geteuid() != 0 or os.environ.get("DOCKERLAB_ROOTLESS") == "1"


def spawn_exec(
    c: Container,
    cmd: list[str],
    env: list[str],
    workdir: str,
    user: str,
    tty: bool,
    detach: bool,
    stdin: int | None,
    stdout: int | None,
    stderr: int | None,
    own_terminal: bool = False,
    privileged: bool = False,
    journal: dict[str, Any] | None = None,
) -> subprocess.Popen[bytes] | None:
    """``journal``: where and how the helper tells ``exec_die`` (root, container ID, event
    attributes), when the command ends."""
    from dockerlab.engine.runtime.security import all_caps, for_container

    config = c.config["Config"]
    cmd, env, workdir, user = wire_strings([cmd, env, workdir, user])
    linked: list[str] = []
    if c.config.get("LinkIds"):  # computed again, with the children's addresses of now
        from dockerlab.engine.network.links import exec_env

        linked = exec_env(c)
    full_env = merge_env(
        daemon_env(config.get("Hostname") or "", [*linked, *(config.get("Env") or [])], tty),
        env,
    )  # Docker's: PATH, HOSTNAME, TERM, the links' variables
    spec = {
        "pid": c.state["Pid"],
        "cgroup": "" if _rootless() else f"dockerlab/{c.id}",
        "cmd": cmd,
        "env": full_env,
        "cwd": workdir or config.get("WorkingDir") or "/",
        "user": user or config.get("User") or "",
        "detach": detach,
        "tty": tty,
        "ctty": bool(tty and own_terminal),
    }
    # The container's capabilities and seccomp program, as Docker's exec (all capabilities
    # with --privileged).
    security = for_container(c.paths.root, c.config["HostConfig"])
    if privileged:
        security["Caps"] = all_caps()
    spec["security"] = security
    if journal:
        spec["journal"] = journal
    return start_helper(spec, stdin, stdout, stderr)


def start_helper(
    spec: dict[str, Any], stdin: int | None, stdout: int | None, stderr: int | None
) -> subprocess.Popen[bytes] | None:
    """Start the helper on ``spec``; with ``spec["detach"]`` wait for its first half (which
    returns once the command runs) and return None, or raise Docker's error if it did not."""
    detach = bool(spec.get("detach"))
    if detach:
        stdin = stdout = subprocess.DEVNULL
        stderr = subprocess.PIPE
    spec_r, spec_w = os.pipe()  # both close-on-exec; pass_fds opens spec_r to the helper only
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", _HELPER, _PKG_PARENT, str(spec_r)],
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            env={},
            cwd="/",
            pass_fds=(spec_r,),
            start_new_session=detach,
        )
    except BaseException:
        os.close(spec_w)
        raise
    finally:
        os.close(spec_r)
    try:
        with open(spec_w, "wb") as pipe:  # larger than a pipe holds: written as it reads
            pipe.write(marshal.dumps(spec))
    except BrokenPipeError:
        pass  # the helper died first: its exit code says so
    if detach:
        _, err = proc.communicate()
        if proc.returncode:  # docker exec -d: the daemon's error, exit code 1
            raise DockerlabError(err.decode("utf-8", "replace").strip() or "exec failed")
        return None
    return proc
