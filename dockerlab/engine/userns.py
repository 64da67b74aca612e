"""Rootless mode: work on a user's container files inside their user namespace.

Image and container files of a rootless user belong to the namespace's IDs: container uid 0
is the user, 1..N their subordinate range (engine/rootless.py). Outside the namespace the
user can neither give a file to a subordinate uid (``chown`` needs CAP_CHOWN) nor read one
that is private to it, sees host IDs (165535, not 1000), and cannot reach a running
container's ``merged/``, mounted in the namespace holder's own mount namespace. So layer
extraction, packing, ``cp``, ``export``, ``diff`` and build's COPY run in a helper
(``python -I -S userns.py PKGDIR``) that is root of the user's namespace:

- for a running container, the helper joins its monitor's user and mount namespaces (the
  user owns them, as ``exec`` joins its container's), where ``merged/`` is mounted;
- for anything else, it makes a fresh user namespace of the same mapping (newuidmap, as
  the removal helper does): the same IDs on disk, and a private mount namespace in which
  an overlay for a stopped container may be mounted and vanishes with the helper.

Root mode never comes here (:func:`needed` is False), nor does a verb that does not read or
write layer files. The helper runs only the tasks named in :data:`TASKS`, with paths
checked to be below the state root it is given; its answer (a value, or an error of
:mod:`dockerlab.errors` or ``OSError``) is raised again in the caller. Data streams (a tar
in or out) go through one pipe, pumped by the caller from or to its file object.

Imports only ``os`` at module level: the engine's verbs ask :func:`needed` on every call.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

# task -> (module, function): what the helper may run (each takes the state root first)
TASKS = {
    "unpack": ("dockerlab.engine.images.layers", "unpack_inside"),
    "pack": ("dockerlab.engine.images.archive", "pack_inside"),
    "size": ("dockerlab.engine.images.layers", "size_inside"),
    "cp_stat": ("dockerlab.engine.containers.copy", "stat_inside"),
    "cp_from": ("dockerlab.engine.containers.copy", "copy_from_inside"),
    "cp_to": ("dockerlab.engine.containers.copy", "copy_to_inside"),
    "export": ("dockerlab.engine.images.export", "export_inside"),
    "diff": ("dockerlab.engine.images.changes", "diff_inside"),
    "layers": ("dockerlab.engine.images.changes", "layers_inside"),
    "build_fs": ("dockerlab.engine.build.copy", "step_inside"),
}
_CHUNK = 1 << 20
_REQ, _ANS, _DATA = 3, 4, 5  # the helper's descriptors
_NEEDED: bool | None = None


def needed() -> bool:
    """Rootless mode, and this process outside the user's namespace."""
    global _NEEDED
    if _NEEDED is None:
        from dockerlab.engine import rootless

        _NEEDED = rootless.enabled() and not rootless.in_userns()
    return _NEEDED


def monitor_of(c: Any) -> tuple[int, int] | None:
    """(pid, start time) of a running container's monitor, whose namespaces hold its
    ``merged/``; None when it has none."""
    pid, start = c.state.get("MonitorPid") or 0, c.state.get("MonitorStart")
    if c.running and pid > 0 and start is not None:
        return int(pid), int(start)
    return None


def below(root: str, path: str) -> str:
    """``path`` made absolute and real, refused unless it is ``root`` or below it."""
    real, top = os.path.realpath(path), os.path.realpath(root)
    if real != top and not real.startswith(top.rstrip("/") + "/"):
        from dockerlab.errors import Forbidden

        raise Forbidden(f"rootless helper: {path} is outside the state root {root}")
    return real


def call(
    task: str,
    root: str,
    args: list[Any],
    *,
    join: tuple[int, int] | None = None,
    data_in: IO[bytes] | None = None,
    data_out: IO[bytes] | None = None,
) -> Any:
    """Run ``TASKS[task](root, *args[, data])`` in the helper; returns its value or raises
    its error. ``join``: a monitor's (pid, start) whose namespaces to enter."""
    import marshal

    req_r, req_w = os.pipe()
    ans_r, ans_w = os.pipe()
    data_r = data_w = -1
    if data_in is not None or data_out is not None:
        data_r, data_w = os.pipe()
    theirs = {_REQ: req_r, _ANS: ans_w}
    if data_in is not None:
        theirs[_DATA] = data_r
    elif data_out is not None:
        theirs[_DATA] = data_w
    actions: list[tuple[Any, ...]] = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDWR, 0)]
    actions += [(os.POSIX_SPAWN_DUP2, 0, 1), (os.POSIX_SPAWN_DUP2, 0, 2)]
    actions += [(os.POSIX_SPAWN_DUP2, fd, n) for n, fd in theirs.items()]
    pkg = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    here = os.path.abspath(__file__)
    ours = data_w if data_in is not None else data_r  # (the other end goes to the helper)
    try:
        pid = os.posix_spawn(
            sys.executable, [sys.executable, "-I", "-S", here, pkg], {}, file_actions=actions
        )
    except BaseException:
        for fd in (req_w, ans_r, ours):
            if fd != -1:
                os.close(fd)
        raise
    finally:
        for fd in theirs.values():
            os.close(fd)
    raised: BaseException | None = None
    try:
        way = "in" if data_in is not None else "out" if data_out is not None else ""
        request = {"task": task, "root": root, "args": args, "join": join, "data": way}
        try:
            with os.fdopen(req_w, "wb") as f:
                f.write(marshal.dumps(request))
        except BrokenPipeError:  # it failed before reading: its answer says why
            pass
        if data_in is not None:
            raised = _pump_in(data_in, ours)
        elif data_out is not None:
            raised = _pump_out(ours, data_out)
        ours = -1  # (closed by the pump)
        raw = b""
        while chunk := os.read(ans_r, 65536):
            raw += chunk
    finally:
        os.close(ans_r)
        if ours != -1:
            os.close(ours)
        os.waitpid(pid, 0)
    if raised is not None:  # the caller's source failed (a registry's stream): its error
        raise raised
    if not raw:
        from dockerlab.errors import DockerlabError

        raise DockerlabError(f"rootless helper ({task}) ended without an answer")
    answer = marshal.loads(raw)
    if "error" in answer:
        raise _error(answer["error"])
    return answer.get("value")


def _pump_in(src: IO[bytes], fd: int) -> BaseException | None:
    """Copy ``src`` into the pipe until its end or until the helper stops reading."""
    try:
        while True:
            try:
                chunk = src.read(_CHUNK)
            except Exception as exc:  # noqa: BLE001 - the helper sees a cut tar; told after
                return exc
            if not chunk:
                return None
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]
    except BrokenPipeError:  # it is done (or failed): its answer says which
        return None
    finally:
        os.close(fd)


def _pump_out(fd: int, out: IO[bytes]) -> BaseException | None:
    try:
        while chunk := os.read(fd, _CHUNK):
            out.write(chunk)
    except Exception as exc:  # noqa: BLE001 - our reader went (a client hung up)
        return exc
    finally:
        os.close(fd)
    return None


def _error(told: dict[str, Any]) -> BaseException:
    """The helper's error as the class it was (ours or an OSError), else DockerlabError."""
    import importlib

    from dockerlab import errors

    kind, args = told.get("class", ""), told.get("args") or []
    module, _, name = kind.rpartition(":")
    if module == "builtins" and name in ("OSError", "PermissionError", "FileNotFoundError"):
        import builtins

        exc: BaseException = getattr(builtins, name)(*args)
        if told.get("filename"):
            exc.filename = told["filename"]  # type: ignore[attr-defined]
        return exc
    if module.startswith("dockerlab."):
        try:
            cls = getattr(importlib.import_module(module), name)
            if isinstance(cls, type) and issubclass(cls, errors.DockerlabError):
                return cls(*args)
        except (ImportError, AttributeError, TypeError):
            pass
    return errors.DockerlabError(told.get("message") or kind)


# ---- the helper -----------------------------------------------------------------------------


def _enter(join: tuple[int, int] | None) -> None:
    """Become root of the user's namespace: a monitor's (and its mount namespace), or a
    fresh one of the same mapping."""
    from dockerlab.engine import rootless
    from dockerlab.engine.runtime import linux as L

    L.load()
    if join is None:  # (a non-dumpable process may not write its own uid_map: after)
        rootless.enter(L)
        L.prctl(L.PR_SET_DUMPABLE, 0)
        return
    L.prctl(L.PR_SET_DUMPABLE, 0)  # before: nothing in a container's namespace may ptrace us
    pid, start = join
    user = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    mnt = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    if not L.pid_alive(pid, start):  # gone (or its pid reused) before we held its namespaces
        from dockerlab.errors import Conflict

        raise Conflict("the container stopped meanwhile; try again")
    L.setns(user)  # refused by the kernel unless the user owns it
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    try:
        os.setgroups([])
    except PermissionError:  # a single-ID namespace denies setgroups
        pass
    L.setns(mnt)
    os.close(user)
    os.close(mnt)
    os.chdir("/")


def _serve() -> None:
    import importlib
    import marshal

    from dockerlab.engine.runtime import linux as L

    L.load()
    answer: dict[str, Any]
    data: Any = None
    try:
        raw = b""
        while chunk := os.read(_REQ, 65536):
            raw += chunk
        req = marshal.loads(raw)
        module, func = TASKS[req["task"]]
        _enter(req["join"])
        os.environ["DOCKERLAB_ROOTLESS"] = "1"  # the engine's rootless paths (we are uid 0)
        if req["data"]:
            data = os.fdopen(_DATA, "rb" if req["data"] == "in" else "wb")
        fn = getattr(importlib.import_module(module), func)
        args = [req["root"], *req["args"]]
        answer = {"value": fn(*args, data) if data is not None else fn(*args)}
    except BaseException as exc:  # noqa: BLE001 - told to the caller, never a traceback
        answer = {"error": _told(exc)}
    try:  # the data's end first: the caller reads the answer once it has seen it
        if data is not None:
            data.close()
        else:
            os.close(_DATA)
    except OSError:
        pass
    view = memoryview(marshal.dumps(answer))
    while view:
        view = view[os.write(_ANS, view) :]


def _told(exc: BaseException) -> dict[str, Any]:
    import marshal

    cls = type(exc)
    if isinstance(exc, OSError) and not cls.__module__.startswith("dockerlab"):
        args: list[Any] = [exc.errno, exc.strerror] if exc.errno else [str(exc)]
        name = cls.__name__
        if name not in ("PermissionError", "FileNotFoundError"):
            name = "OSError"
        return {"class": f"builtins:{name}", "args": args, "filename": str(exc.filename or "")}
    try:
        args = list(exc.args)
        marshal.dumps(args)
    except (ValueError, TypeError):
        args = [str(exc)]
    return {"class": f"{cls.__module__}:{cls.__name__}", "args": args, "message": str(exc)}


if __name__ == "__main__":  # python -I -S userns.py PKGDIR: the helper
    sys.path.insert(0, sys.argv[1])
    _serve()
