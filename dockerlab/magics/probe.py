"""What this host lets dockerlab do, told truthfully: the first cell's capability probe.

As root (root mode) it reads what root mode needs (overlayfs, cgroups). As any other user
(or root with ``DOCKERLAB_ROOTLESS=1``) it checks what rootless mode needs, first in words
(:func:`dockerlab.engine.rootless.preflight`: user namespaces allowed by sysctl,
``newuidmap``/``newgidmap`` installed and setuid, subordinate ranges or the single-ID
warning; a runtime folder of the user's own), then for real in a child process that does
what the forkserver does (``rootless.enter``: a user namespace with the user's mapping),
mounts an overlay with ``userxattr`` on the state root's filesystem and a fresh ``/proc`` in
a new PID namespace, and makes a root with ``pivot_root`` as a container's start does. A
seccomp profile that forbids ``unshare`` (Docker's and containerd's default, without
CAP_SYS_ADMIN) or ``pivot_root`` (the same profile, whatever the capabilities), a masked
``/proc`` (a Kubernetes pod without ``procMount: Unmasked``), ``no_new_privs``
(``allowPrivilegeEscalation: false``, which disarms the setuid ``newuidmap``), a bounding
set without what ``newuidmap`` needs, or an upper layer on overlayfs are found only that way.

The child is a new interpreter (``python -I -S`` this file), not a fork of the caller: a
Jupyter kernel has threads, and the kernel refuses ``unshare(CLONE_NEWUSER)`` to a
multi-threaded process. It costs one interpreter start and, with ranges, the two setuid
helpers; the answer is kept per user, mode and state root for the process's lifetime.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass

__all__ = ["Capability", "probe"]

_ROOTLESS_PREFIX = "WARNING: Running in rootless mode: "


@dataclass(frozen=True)
class Capability:
    """``mode``: "root" or "rootless"; ``problem``: why containers cannot run (one sentence),
    or None; ``notes``: what rootless mode lacks here and its warnings (empty as root)."""

    mode: str
    problem: str | None
    notes: tuple[str, ...] = ()

    def note(self) -> str | None:
        """One sentence for a working rootless mode: that it works, and without what."""
        if self.problem is not None or self.mode != "rootless":
            return None
        return "containers run rootless (in a user namespace of this user); " + "; ".join(
            self.notes
        )


_CACHE: dict[tuple[int, str, str], Capability] = {}


def probe(root: str | None = None, fresh: bool = False) -> Capability:
    """What this host lets dockerlab do for this user on state root ``root`` (default: the
    one the CLI would use)."""
    from dockerlab.engine import paths

    root = os.path.abspath(root) if root else paths.default_root()
    key = (os.geteuid(), os.environ.get("DOCKERLAB_ROOTLESS", ""), root)
    if fresh or key not in _CACHE:
        _CACHE[key] = _probe(root)
    return _CACHE[key]


def _probe(root: str) -> Capability:
    if not sys.platform.startswith("linux"):
        import platform

        return Capability(
            "root",
            f"dockerlab's engine needs Linux (namespaces, cgroups, overlayfs); this host "
            f"runs {platform.system() or sys.platform}",
        )
    from dockerlab.engine import rootless

    if not rootless.enabled():
        return Capability("root", _root_problem())
    return _rootless(root)


def _root_problem() -> str | None:
    missing = []
    try:
        with open("/proc/filesystems") as f:
            if "overlay" not in f.read():
                missing.append("overlayfs in the kernel (modprobe overlay)")
    except OSError:
        missing.append("/proc (is it mounted?)")
    if not os.path.isdir("/sys/fs/cgroup"):
        missing.append("cgroups at /sys/fs/cgroup")
    if not missing:
        return None
    return "containers cannot run on this host; it lacks " + "; ".join(missing)


def _has_overlay() -> bool:
    try:
        with open("/proc/filesystems") as f:
            return "overlay" in f.read()
    except OSError:
        return False


def _no_new_privs() -> bool:
    try:
        with open("/proc/self/status") as f:
            return any(line.split() == ["NoNewPrivs:", "1"] for line in f)
    except OSError:
        return False


def _rootless(root: str) -> Capability:
    from dockerlab.engine import paths, rootless
    from dockerlab.errors import DockerlabError

    def refused(why: str) -> Capability:
        return Capability("rootless", f"containers cannot run here rootless: {why}")

    if not _has_overlay():
        return refused("the kernel has no overlayfs (an administrator can modprobe overlay)")
    try:
        warnings = rootless.preflight()
        paths.runtime_dir_for(root)
    except DockerlabError as exc:
        return refused(str(exc))
    single = bool(warnings)
    if not single and _no_new_privs():
        return refused(
            "this process has no_new_privs set (Kubernetes: allowPrivilegeEscalation: false), "
            "so the setuid newuidmap/newgidmap cannot map the user's subordinate IDs; allow "
            "privilege escalation, or remove the user's /etc/subuid and /etc/subgid ranges "
            "for a single-ID mapping"
        )
    scratch_parent = _existing(root)
    try:
        answer = _run_child(scratch_parent)
    except OSError as exc:
        return refused(f"the probe could not run ({exc.strerror or exc})")
    if not answer.get("ok"):
        return refused(_explain(answer, scratch_parent))
    limits = [w.removeprefix(_ROOTLESS_PREFIX) for w in rootless.INFO_WARNINGS]
    return Capability("rootless", None, (*limits, *warnings))


def _existing(path: str) -> str:
    """The state root, or its nearest existing ancestor: the filesystem the layers go on."""
    while not os.path.isdir(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return path


def _run_child(folder: str) -> dict[str, str | bool]:
    pkg = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    r, w = os.pipe()
    try:
        pid = os.posix_spawn(
            sys.executable,
            [sys.executable, "-I", "-S", os.path.abspath(__file__), pkg, folder],
            dict(os.environ),
            file_actions=[(os.POSIX_SPAWN_DUP2, w, 1)],
        )
    finally:
        os.close(w)
    with os.fdopen(r, "rb") as f:
        said = f.read()
    _, status = os.waitpid(pid, 0)
    try:
        answer = json.loads(said.decode("utf-8", "replace").strip().splitlines()[-1])
    except (ValueError, IndexError):
        answer = {"ok": False, "step": "child", "error": f"exit status {status}"}
    return answer if isinstance(answer, dict) else {"ok": False, "step": "child", "error": ""}


def _explain(answer: dict[str, str | bool], folder: str) -> str:
    step, err = answer.get("step"), str(answer.get("error") or "no reason given")
    if step == "userns":
        if "No space left" in err:
            return (
                f"the user namespace limit is reached (unshare(CLONE_NEWUSER): {err}); "
                "an administrator can raise sysctl user.max_user_namespaces"
            )
        return (
            f"the kernel refused a user namespace (unshare(CLONE_NEWUSER): {err}): inside a "
            "container this is its seccomp profile (Docker's and containerd's default allow "
            "unshare only with CAP_SYS_ADMIN) or AppArmor; on Ubuntu 23.10+, sysctl "
            "kernel.apparmor_restrict_unprivileged_userns=1"
        )
    if step == "map":
        hint = ""
        if _no_new_privs():
            hint = " (no_new_privs is set: the setuid helpers cannot work)"
        return f"{err}{hint}"
    if step == "overlay":
        return (
            f"overlayfs in a user namespace was refused on {folder} ({err}): it needs Linux "
            "5.11+ (userxattr), and an upper layer that is not itself on overlayfs or NFS "
            "(in a container, put the state root on a volume, e.g. a Kubernetes emptyDir)"
        )
    if step == "proc":
        return (
            f"a container's /proc cannot be mounted in a user namespace ({err}): this "
            "process's /proc is masked or read-only (Kubernetes: securityContext.procMount: "
            "Unmasked, with hostUsers: false)"
        )
    if step == "pivot_root":
        return (
            f"a container's root cannot be made (pivot_root: {err}): a seccomp profile "
            "forbids it; Docker's and containerd's default (Kubernetes: RuntimeDefault) "
            "never allows pivot_root, whatever the capabilities (Kubernetes: "
            "seccompProfile: Unconfined, or a Localhost profile that allows it)"
        )
    return f"the probe failed ({step}: {err})"


def _why(exc: OSError) -> str:
    return os.strerror(exc.errno) if exc.errno else str(exc)


def _child(folder: str) -> dict[str, str | bool]:
    """In a fresh interpreter: what the forkserver and a container's start would do."""
    import shutil
    import tempfile

    from dockerlab.engine import rootless
    from dockerlab.engine.runtime import linux as L

    L.load()
    try:
        scratch = tempfile.mkdtemp(prefix=".dockerlab-probe-", dir=folder)
    except OSError as exc:
        return {"ok": False, "step": "scratch", "error": f"{folder}: {exc.strerror}"}
    try:
        try:
            rootless.enter(L)
        except rootless.Refused as exc:
            return {"ok": False, "step": "map", "error": str(exc)}
        except OSError as exc:
            step = "userns" if "unshare" in str(exc) else "map"
            return {"ok": False, "step": step, "error": _why(exc)}
        for part in ("lower", "upper", "work", "merged", "proc", "root"):
            os.mkdir(os.path.join(scratch, part))
        s = scratch
        opts = f"lowerdir={s}/lower,upperdir={s}/upper,workdir={s}/work,userxattr"
        try:
            L.mount("overlay", f"{s}/merged", "overlay", 0, opts)
            with open(f"{s}/merged/probe", "w"):
                pass
            L.umount(f"{s}/merged")
        except OSError as exc:
            return {"ok": False, "step": "overlay", "error": _why(exc)}
        try:
            L.unshare(L.CLONE_NEWPID)
        except OSError as exc:
            return {"ok": False, "step": "proc", "error": _why(exc)}
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # PID 1 of the new namespace: may mount its /proc
            os.close(r)
            step, code = "proc", 0
            try:
                L.mount("proc", f"{s}/proc", "proc", L.MS_NOSUID | L.MS_NODEV | L.MS_NOEXEC)
                L.umount(f"{s}/proc")
                # a container's root, as the monitor makes it (in a mount namespace that
                # ends with this process: nobody else's root moves)
                step = "pivot_root"
                L.unshare(L.CLONE_NEWNS)
                L.mount(None, "/", None, L.MS_REC | L.MS_PRIVATE)
                L.mount(f"{s}/root", f"{s}/root", None, L.MS_BIND)
                os.chdir(f"{s}/root")
                L.pivot_root(".", ".")
                L.umount(".", L.MNT_DETACH)
            except OSError as exc:
                code = exc.errno or 1
            os.write(w, step.encode())
            os._exit(code)
        os.close(w)
        with os.fdopen(r, "rb") as f:
            step = f.read().decode() or "proc"
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        if code:
            return {"ok": False, "step": step, "error": os.strerror(code)}
        return {"ok": True}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # as the namespace's root: work/ too


if __name__ == "__main__":  # python -I -S probe.py PKGDIR FOLDER: the probe's child
    sys.path.insert(0, sys.argv[1])
    try:
        result = _child(sys.argv[2])
    except Exception as exc:  # noqa: BLE001 - told to the parent, in one line
        result = {"ok": False, "step": "child", "error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(result) + "\n")
