"""cgroup v2: one directory, ``/sys/fs/cgroup/<name>``, in the unified hierarchy.

    /sys/fs/cgroup/                  cgroup.controllers: what the host has
      dockerlab/                     cgroup.subtree_control: +cpu +memory +pids +io
        <id>/                        memory.max, memory.swap.max, cpu.max, cpu.weight,
                                     pids.max, cgroup.freeze, cgroup.kill, *.stat, *.events

Each ancestor below the root must delegate the controllers to its children
(``cgroup.subtree_control``) and, by the "no internal processes" rule, hold no process.
There is no devices controller: device rules are an eBPF program attached to the
container's folder (:mod:`.bpf`).
"""

from __future__ import annotations

import errno
import os
import signal
import time

from dockerlab.engine.runtime.cgroups import files as F
from dockerlab.engine.runtime.cgroups.base import (
    FREEZE_TIMEOUT,
    Cgroup,
    check_name,
    host_figures,
    make_dir,
    parse_procs,
    read_text,
    remove_dirs,
    usable_cpus,
    write_text,
)
from dockerlab.engine.runtime.cgroups.devices import ALLOW_ALL
from dockerlab.engine.runtime.cgroups.mounts import CGROUP_ROOT
from dockerlab.engine.runtime.cgroups.resources import Resources, validate
from dockerlab.errors import DockerlabError, Forbidden

TYPE_CHECKING = False  # typing costs ~5 ms on the monitor's start path
if TYPE_CHECKING:
    from typing import Any

    from dockerlab.engine.runtime.cgroups.devices import Rule

CONTROLLERS = ("cpu", "memory", "pids", "io")
ON_REQUEST = ("cpuset",)  # delegated only for a container that asks (--cpuset-cpus/-mems)

_STAT_FILES = (
    "cpu.stat",
    "memory.current",
    "memory.max",
    "memory.stat",
    "memory.events",
    "pids.current",
    "pids.max",
    "io.stat",
)


class CgroupV2(Cgroup):
    def __init__(self, name: str, root: str = CGROUP_ROOT) -> None:
        self.name = check_name(name)
        self.root = root
        self.path = os.path.join(root, self.name)

    def _file(self, filename: str) -> str:
        return os.path.join(self.path, filename)

    def available(self) -> set[str]:
        """Controllers the host offers (the root's ``cgroup.controllers``)."""
        return set((read_text(os.path.join(self.root, "cgroup.controllers")) or "").split())

    # ---- limits -----------------------------------------------------------------------
    def create(self, res: Resources) -> None:
        validate(res, usable_cpus())
        limits = F.v2_limit_files(res)
        available = self.available()
        for controller in sorted(res.needs()):
            if controller not in available:
                raise Forbidden(f"cgroup controller '{controller}' is not available on this host")
        wanted = [c for c in CONTROLLERS if c in available]
        wanted += [c for c in ON_REQUEST if c in res.needs()]
        parent = self.root
        for part in self.name.split("/"):
            self._delegate(parent, wanted)
            parent = os.path.join(parent, part)
            make_dir(parent)
        try:
            self._write_limits(limits)
        except BaseException:
            try:
                self.destroy()
            except DockerlabError:
                pass
            raise

    def _delegate(self, parent: str, wanted: list[str]) -> None:
        """Enable ``wanted`` controllers for the children of ``parent``."""
        control = os.path.join(parent, "cgroup.subtree_control")
        enabled = set((read_text(control) or "").split())
        missing = [c for c in wanted if c not in enabled]
        if not missing:
            return
        try:
            fd = os.open(control, os.O_WRONLY | os.O_CLOEXEC)
            try:
                for c in missing:
                    os.write(fd, f"+{c}".encode())
            finally:
                os.close(fd)
        except OSError as exc:
            reason = exc.strerror
            if exc.errno == errno.EBUSY:
                reason = (
                    "it holds processes of its own, and a cgroup v2 parent may not "
                    "(no internal processes rule)"
                )
            err = (
                Forbidden
                if exc.errno in (errno.EACCES, errno.EPERM, errno.EBUSY)
                else DockerlabError
            )
            raise err(
                f"cannot enable cgroup controllers {', '.join(missing)} in {parent}: {reason}"
            ) from None

    def update(self, res: Resources) -> None:
        validate(res, usable_cpus(), update=True)
        available = self.available()
        for controller in sorted(res.needs()):
            if controller not in available:
                raise Forbidden(f"cgroup controller '{controller}' is not available on this host")
        asked = [c for c in ON_REQUEST if c in res.needs()]
        if asked:  # not delegated when the container was made without it
            parent = self.root
            for part in self.name.split("/"):
                self._delegate(parent, asked)
                parent = os.path.join(parent, part)
        self._write_limits(F.v2_limit_files(res))

    def _write_limits(self, limits: dict[str, str]) -> None:
        for filename, value in limits.items():
            path = self._file(filename)
            if filename == "memory.swap.max" and not os.path.exists(path):
                continue  # no swap accounting: Docker drops the swap limit too
            write_text(path, value)

    def add(self, pid: int) -> None:
        write_text(self._file("cgroup.procs"), str(pid))

    # ---- freezer ------------------------------------------------------------------------
    def _can_freeze(self) -> bool:
        return os.path.exists(self._file("cgroup.freeze"))

    def _set_freeze(self, value: str) -> None:
        if not self._can_freeze():
            if not os.path.isdir(self.path):
                raise DockerlabError(f"cgroup {self.name} does not exist")
            raise Forbidden("the cgroup v2 freezer (cgroup.freeze) needs Linux 5.2 or later")
        write_text(self._file("cgroup.freeze"), value)

    def freeze(self) -> None:
        self._set_freeze("1")
        deadline = time.monotonic() + FREEZE_TIMEOUT
        delay = 0.0005
        while not self.frozen():
            if time.monotonic() >= deadline:
                self.thaw()
                raise DockerlabError(
                    f"unable to freeze cgroup {self.name}: not frozen after {FREEZE_TIMEOUT:g}s"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def thaw(self) -> None:
        self._set_freeze("0")

    def frozen(self) -> bool:
        return F.is_v2_frozen(read_text(self._file("cgroup.events")))

    def kill_all(self, sig: int) -> None:
        """SIGKILL goes through ``cgroup.kill`` (Linux 5.14+), which no fork escapes."""
        if sig == signal.SIGKILL and os.path.exists(self._file("cgroup.kill")):
            write_text(self._file("cgroup.kill"), "1")
            return
        super().kill_all(sig)

    # ---- reading ------------------------------------------------------------------------
    def pids(self) -> list[int]:
        return parse_procs(read_text(self._file("cgroup.procs")))

    def oom_killed(self) -> bool:
        return F.v2_oom_kills(read_text(self._file("memory.events"))) > 0

    def stats(self) -> dict[str, Any]:
        files: F.Files = {name: read_text(self._file(name)) for name in _STAT_FILES}
        system, ncpus, memory = host_figures()
        return F.v2_stats(files, system_cpu_usage=system, online_cpus=ncpus, machine_memory=memory)

    def destroy(self) -> None:
        remove_dirs([self.path])

    def set_devices(self, rules: list[Rule]) -> bool:
        if rules == ALLOW_ALL:
            return True  # no program is the same; the ancestors' programs still apply
        from dockerlab.engine.runtime.cgroups import bpf

        try:
            bpf.apply(rules, self.path)
        except OSError as exc:
            if exc.errno in (errno.EPERM, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                return False  # no cgroup BPF in this kernel, or not ours to use
            raise DockerlabError(
                f"cannot attach the device filter to cgroup {self.name}: {exc.strerror}"
            ) from None
        return True

    def ns_mounts(self) -> list[tuple[str, str, str, tuple[str, ...]]]:
        return [("", "cgroup2", "", ())]
