"""Preconditions that several verbs share: the privileges containers need, Docker's signal
names. Free of the facade, so the verb modules (commit, export, build …) import them
without importing the engine that imports them."""

from __future__ import annotations

import os
import signal as _signal

from dockerlab.errors import Forbidden, InvalidParameter


def require_privileges() -> None:
    """Refuse, saying exactly what is missing, when containers cannot be made here."""
    if os.geteuid() != 0 or os.environ.get("DOCKERLAB_ROOTLESS") == "1":
        from dockerlab.engine import rootless

        rootless.preflight()  # user namespaces instead (engine/rootless.py), or why not
        return
    if os.geteuid() != 0:  # (kept for a mode that may again need root)
        raise Forbidden(
            "dockerlab needs root to run containers: creating mount, PID, UTS, "
            "IPC and network namespaces and mounting overlayfs need "
            "CAP_SYS_ADMIN, and cgroups need write access to /sys/fs/cgroup; "
            "run it with sudo"
        )


def parse_signal(value: str | int) -> int:
    """``KILL``, ``SIGKILL`` or ``9`` → 9, with Docker's error for anything else."""
    text = str(value).strip()
    if text.isdigit():
        num = int(text)
        if 0 < num < _signal.NSIG:
            return num
    else:
        name = text.upper()
        name = name if name.startswith("SIG") else "SIG" + name
        sig = getattr(_signal.Signals, name, None) if hasattr(_signal.Signals, name) else None
        if sig is not None:
            return int(sig)
    raise InvalidParameter(f"Invalid signal: {value}")
