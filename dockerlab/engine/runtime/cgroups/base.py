"""The :class:`Cgroup` contract both versions fulfil, and the file I/O they share.

Every kernel refusal becomes a typed error here, in one place: EINVAL/ERANGE ->
:class:`InvalidParameter`, EACCES/EPERM/missing file -> :class:`Forbidden`, the rest ->
:class:`DockerlabError` naming the file.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from abc import ABC, abstractmethod

from dockerlab.engine.runtime.cgroups.files import parse_meminfo_total, parse_proc_stat
from dockerlab.engine.runtime.cgroups.resources import Resources
from dockerlab.errors import DockerlabError, Forbidden, InvalidParameter

TYPE_CHECKING = False  # typing costs ~5 ms on the monitor's start path
if TYPE_CHECKING:
    from typing import Any

    from dockerlab.engine.runtime.cgroups.devices import Rule

FREEZE_TIMEOUT = 10.0  # seconds a freeze may take before we give up and thaw
RMDIR_TIMEOUT = 1.0  # seconds rmdir is retried while the last tasks exit


def read_text(path: str) -> str | None:
    """The file's text, or ``None`` when it (or its cgroup) does not exist (ENODEV: the
    cgroup is being removed under us)."""
    try:
        with open(path) as f:
            return f.read()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ENODEV:  # the cgroup is being removed
            return None
        raise


def write_text(path: str, value: str) -> None:
    """Write one value to a cgroup file; kernel refusals become typed errors."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        if not os.path.isdir(os.path.dirname(path)):
            raise DockerlabError(f"cgroup {os.path.dirname(path)} does not exist") from None
        raise Forbidden(
            f"cgroup file {os.path.basename(path)} is not available on this host ({path})"
        ) from None
    except PermissionError as exc:
        raise Forbidden(
            f"cannot write {path}: {exc.strerror} (managing cgroups needs root)"
        ) from None
    try:
        os.write(fd, value.encode())
    except OSError as exc:
        name = os.path.basename(path)
        if exc.errno in (errno.EINVAL, errno.ERANGE):
            raise InvalidParameter(
                f"the kernel refused {value!r} for {name}: {exc.strerror}"
            ) from None
        if exc.errno in (errno.EPERM, errno.EACCES):
            raise Forbidden(f"cannot write {value!r} to {path}: {exc.strerror}") from None
        if exc.errno == errno.EBUSY and name.startswith("memory."):
            raise InvalidParameter(
                f"cannot set {name} to {value}: the container already uses more memory than that"
            ) from None
        raise DockerlabError(f"cannot write {value!r} to {path}: {exc.strerror}") from None
    finally:
        os.close(fd)


def make_dir(path: str) -> None:
    try:
        os.makedirs(path, exist_ok=True)
    except PermissionError as exc:
        raise Forbidden(
            f"cannot create cgroup {path}: {exc.strerror} (managing cgroups needs root)"
        ) from None
    except OSError as exc:
        raise DockerlabError(f"cannot create cgroup {path}: {exc.strerror}") from None


def remove_dirs(paths: list[str], timeout: float = RMDIR_TIMEOUT) -> None:
    """rmdir every path, retrying EBUSY while exiting tasks leave; missing is fine."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    pending = list(paths)
    while True:
        busy = []
        for path in pending:
            try:
                os.rmdir(path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                if exc.errno not in (errno.EBUSY, errno.ENOTEMPTY):
                    raise DockerlabError(
                        f"unable to remove cgroup {path}: {exc.strerror}"
                    ) from None
                busy.append(path)
        if not busy:
            return
        if time.monotonic() >= deadline:
            raise DockerlabError(
                f"unable to remove cgroup {busy[0]}: processes are still in "
                "it (Device or resource busy)"
            )
        pending = busy
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def parse_procs(text: str | None) -> list[int]:
    return sorted({int(line) for line in (text or "").split()})


def check_name(name: str) -> str:
    """``dockerlab/<id>``: relative, no empty, ``.`` or ``..`` parts."""
    parts = name.strip("/").split("/")
    if not name.strip("/") or any(p in ("", ".", "..") for p in parts):
        raise InvalidParameter(f"invalid cgroup name {name!r}")
    return "/".join(parts)


def host_figures() -> tuple[int, int, int]:
    """(system CPU ns, online CPUs, machine memory bytes) for stats."""
    system, ncpus = parse_proc_stat(read_text("/proc/stat") or "")
    memory = parse_meminfo_total(read_text("/proc/meminfo") or "")
    return system, ncpus, memory


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except OSError:
        return os.cpu_count() or 1


class Cgroup(ABC):
    """One container's cgroup, by name (``dockerlab/<id>``), in every hierarchy it needs."""

    name: str

    @abstractmethod
    def create(self, res: Resources) -> None:
        """Make the cgroup and write ``res``; refuse bad or unsupported values."""

    @abstractmethod
    def add(self, pid: int) -> None:
        """Move process ``pid`` (all its threads) into the cgroup."""

    @abstractmethod
    def update(self, res: Resources) -> None:
        """Change the limits set in ``res`` (fields left at 0 stay as they are)."""

    @abstractmethod
    def freeze(self) -> None:
        """Freeze every process and return once the kernel reports the cgroup frozen."""

    @abstractmethod
    def thaw(self) -> None: ...

    @abstractmethod
    def frozen(self) -> bool: ...

    @abstractmethod
    def pids(self) -> list[int]:
        """The processes (thread-group ids) in the cgroup, sorted; [] when it is gone."""

    @abstractmethod
    def oom_killed(self) -> bool:
        """Did the kernel's OOM killer kill a process of this cgroup?"""

    @abstractmethod
    def stats(self) -> dict[str, Any]:
        """Docker's ``cpu_stats``, ``memory_stats``, ``pids_stats`` and ``blkio_stats``."""

    @abstractmethod
    def destroy(self) -> None:
        """Remove the cgroup everywhere; a cgroup already gone is fine."""

    @abstractmethod
    def set_devices(self, rules: list[Rule]) -> bool:
        """Enforce the device ``rules`` (see :mod:`.devices`) on every process that will
        join; False when this host has no way to (then nothing was changed)."""

    @abstractmethod
    def ns_mounts(self) -> list[tuple[str, str, str, tuple[str, ...]]]:
        """What to mount at ``/sys/fs/cgroup`` inside the container's cgroup namespace:
        ``(folder under /sys/fs/cgroup or "" for itself, fs type, mount data, names that
        link to the folder)``, only for hierarchies the container has joined."""

    @abstractmethod
    def _can_freeze(self) -> bool: ...

    def kill_all(self, sig: int) -> None:
        """Send ``sig`` to every process in the cgroup.

        The cgroup is frozen meanwhile (when a freezer exists) so nothing forks past the
        signal; after SIGKILL it is thawed even if it was paused, so the processes can die.
        """
        if not self.pids():
            return  # the usual case on cleanup: nothing left, nothing to freeze
        was_frozen = self.frozen()
        froze = False
        if not was_frozen and self._can_freeze():
            try:
                self.freeze()
                froze = True
            except DockerlabError:
                pass
        try:
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        finally:
            if froze or (was_frozen and sig == signal.SIGKILL):
                self.thaw()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
