"""Starting ``exec`` helpers (see :mod:`dockerlab.engine.nsexec`) from any caller, no fork."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from dockerlab.engine.containers import Container
from dockerlab.engine.create import merge_env

_PKG_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_HELPER = os.path.join(_PKG_PARENT, "dockerlab", "engine", "nsexec.py")


def spawn_exec(c: Container, cmd: list[str], env: list[str], workdir: str, user: str,
               tty: bool, detach: bool, stdin: int | None, stdout: int | None,
               stderr: int | None, own_terminal: bool = False, privileged: bool = False
               ) -> subprocess.Popen | None:
    from dockerlab.engine.security import all_caps, for_container

    config = c.config["Config"]
    full_env = merge_env(config.get("Env") or [], env)
    if tty and not any(e.startswith("TERM=") for e in full_env):
        full_env.append("TERM=xterm")
    spec = {"pid": c.state["Pid"], "cgroup": f"dockerlab/{c.id}", "cmd": cmd, "env": full_env,
            "cwd": workdir or config.get("WorkingDir") or "/",
            "user": user or config.get("User") or "", "detach": detach,
            "ctty": bool(tty and own_terminal)}
    # The container's capabilities and seccomp program, as Docker's exec (all capabilities
    # with --privileged); the program travels as hex (the spec is JSON).
    security = for_container(c.paths.root, c.config["HostConfig"])
    if privileged:
        security["Caps"] = all_caps()
    if security["Seccomp"]:
        security["Seccomp"] = security["Seccomp"].hex()
    spec["security"] = security
    argv = [sys.executable, "-I", "-S", _HELPER, _PKG_PARENT, json.dumps(spec)]
    if detach:
        subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, start_new_session=True, check=False)
        return None
    return subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=stderr)
