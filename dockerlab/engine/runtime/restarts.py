"""Restart policies (``--restart``), as moby's ``restartmanager`` decides them.

Pure and import-free, so the monitor can ask it when its container exits without loading
anything else. The rules, from moby ``restartmanager.ShouldRestart`` and
``daemon.handleContainerExit``:

- ``no`` never restarts; ``always`` always; ``unless-stopped`` unless the user stopped or
  killed the container (``HasBeenManuallyStopped``); ``on-failure[:N]`` only after a non-zero
  exit, and at most N times (0: no limit).
- a ``stop``/``kill`` by the user cancels the restarts of that run (``ExitOnNext``), whatever
  the policy; the next ``start``/``restart`` by the user resets the count.
- back-off: 100 ms before the first restart, doubled each time up to one minute, back to
  100 ms once a run lasted 10 s or more.

A policy travels as ``"name:count"`` text where a file holds it for the monitor
(``<run dir>/<id>/restart-policy``, written by ``update --restart``).
"""

from __future__ import annotations

FIRST_DELAY = 0.1  # seconds (moby defaultTimeout)
MAX_DELAY = 60.0  # moby maxRestartTimeout
RESET_AFTER = 10.0  # a run this long resets the back-off

POLICY_FILE = "restart-policy"  # <run dir>/<id>/: a policy changed by `update` while it runs
STOP_FILE = "restart-stop"  # <run dir>/<id>/: "cancel" (stop/kill) or "manual" (kill -s …)

POLICIES = ("no", "always", "unless-stopped", "on-failure")


def policy_error(name: str, count: int) -> str | None:
    """The daemon's refusal of a policy (moby ``validateRestartPolicy``), or None."""
    if name in ("always", "unless-stopped", "no"):
        if count != 0:
            return f"maximum retry count cannot be used with restart policy '{name}'"
    elif name == "on-failure":
        if count < 0:
            return "maximum retry count cannot be negative"
    elif name != "":
        return f"invalid restart policy '{name}'"
    return None


def encode(name: str, count: int) -> str:
    return f"{name}:{count}"


def decode(text: str) -> tuple[str, int]:
    name, _, count = text.strip().partition(":")
    try:
        return name, int(count or 0)
    except ValueError:
        return name, 0


def should_restart(
    name: str, count: int, exit_code: int, manually_stopped: bool, restarts: int
) -> bool:
    """Whether a container that exited with ``exit_code`` after ``restarts`` restarts of
    this run comes back (moby ``ShouldRestart``; a cancelled run is the caller's check)."""
    if name == "always":
        return True
    if name == "unless-stopped":
        return not manually_stopped
    if name == "on-failure":
        return exit_code != 0 and (count == 0 or restarts < count)
    return False


def next_delay(previous: float, ran_for: float) -> float:
    """The wait before the next restart, after waiting ``previous`` (0: none yet) and a
    run of ``ran_for`` seconds."""
    if ran_for >= RESET_AFTER or previous <= 0:
        return FIRST_DELAY
    return min(previous * 2, MAX_DELAY)
