"""Which storage driver a state root uses, chosen once and kept.

    $DOCKERLAB_ROOT/storage.json   {"Driver": "overlay2" | "fuse-overlayfs" | "vfs",
                                    "Why": how it was chosen}
    $DOCKERLAB_ROOT/storage.lock   held while it is chosen

The first verb that needs it (``create``, ``info``) chooses: the driver asked for with the
global ``--storage-driver`` (Docker's daemon flag; it sets ``$DOCKERLAB_STORAGE_DRIVER``),
checked to work here, or else the first of these that works, tried for real once on the
state root's own filesystem (in rootless mode inside a user namespace of the user's mapping,
as containers will be): a kernel overlay mount (with ``userxattr`` in rootless mode), then
``fuse-overlayfs``, then ``vfs``, which works anywhere. A state root with containers made
before this record existed keeps ``overlay2``. Asking for another driver than the recorded one
is refused while the store has containers (their layers are in the recorded driver's form);
images are kept either way, as every driver reads the same image layers.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # the rootless probe (below): make the package importable
    sys.path.insert(0, sys.argv[1])

from dockerlab.engine.atomic import locked, read_json, write_json
from dockerlab.engine.paths import Paths

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

NAMES = ("overlay2", "fuse-overlayfs", "vfs")
DEFAULT = "overlay2"
ENV = "DOCKERLAB_STORAGE_DRIVER"
RECORD = "storage.json"


def of(config: dict[str, Any]) -> str:
    """The driver a container was made with (containers made before drivers: overlay2)."""
    driver: str = (config.get("Runtime") or {}).get("Driver") or DEFAULT
    return driver


def recorded(paths: Paths) -> str:
    """The driver this state root recorded, without choosing one (overlay2 until then)."""
    record = _read(os.path.join(paths.root, RECORD))
    return record["Driver"] if record is not None else DEFAULT


def status(paths: Paths, record: dict[str, Any], backing: str) -> list[list[str]]:
    """``info``'s DriverStatus lines for the driver in ``record`` (Docker's, then why)."""
    name = record["Driver"]
    if name == "overlay2":
        lines = [
            ["Backing Filesystem", backing],
            ["Supports d_type", "true"],
            ["Using metacopy", "false"],
            ["Native Overlay Diff", "true"],
            ["userxattr", "true" if _rootless() else "false"],
        ]
    elif name == "fuse-overlayfs":
        lines = [["Backing Filesystem", backing]]
    else:
        lines = []
    return [*lines, ["Chosen", record.get("Why") or "recorded"]]


def _rootless() -> bool:
    return os.geteuid() != 0 or os.environ.get("DOCKERLAB_ROOTLESS") == "1"


def _has_containers(paths: Paths) -> bool:
    try:
        return any(len(n) == 64 for n in os.listdir(paths.containers))
    except FileNotFoundError:
        return False


def current(paths: Paths) -> dict[str, Any]:
    """The state root's driver record ``{"Driver", "Why"}``, chosen now if it has none."""
    from dockerlab.errors import Conflict, InvalidParameter

    wanted = os.environ.get(ENV, "")
    if wanted and wanted not in NAMES:
        raise InvalidParameter(
            f"error initializing graphdriver: driver not supported: {wanted} "
            f"(dockerlab has {', '.join(NAMES)})"
        )
    path = os.path.join(paths.root, RECORD)
    record = _read(path)
    if record is not None and wanted in ("", record["Driver"]):
        return record
    os.makedirs(paths.root, exist_ok=True)
    with locked(os.path.join(paths.root, "storage.lock")):
        record = _read(path)
        if record is not None and wanted in ("", record["Driver"]):
            return record
        if record is not None and _has_containers(paths):
            raise Conflict(
                f'the state root {paths.root} uses the storage driver "{record["Driver"]}" '
                f'and has containers: it cannot use "{wanted}" (one store never mixes '
                f"drivers); remove its containers first, or choose another state root "
                f"(--root or DOCKERLAB_ROOT)"
            )
        if record is None and not wanted and _has_containers(paths):
            record = {"Driver": DEFAULT, "Why": "kept: this store's containers were made with it"}
        else:
            record = choose(paths, wanted)
        write_json(path, record)
        return record


def _read(path: str) -> dict[str, Any] | None:
    try:
        record = read_json(path)
    except (FileNotFoundError, ValueError):
        return None  # a cut record is chosen again (under the lock)
    if isinstance(record, dict) and record.get("Driver") in NAMES:
        return record
    return None


def choose(paths: Paths, wanted: str = "") -> dict[str, Any]:
    """The driver asked for (Forbidden when it cannot work here), else the first that works."""
    from dockerlab.errors import Forbidden

    if wanted:
        problem = check(paths, wanted)
        if problem:
            raise Forbidden(problem)
        return {"Driver": wanted, "Why": f"asked for ({ENV} or --storage-driver)"}
    refused: list[str] = []
    for name in ("overlay2", "fuse-overlayfs"):
        problem = check(paths, name)
        if not problem:
            why = "probed: the kernel's overlay mount works" if name == "overlay2" else ""
            return {"Driver": name, "Why": why or "probed: " + "; ".join(refused)}
        refused.append(problem)
    return {"Driver": "vfs", "Why": "probed: " + "; ".join(refused)}


def check(paths: Paths, name: str) -> str:
    """Why driver ``name`` cannot work on this state root ('' when it can): a real mount of
    two layers and an upper one, written to and unmounted, on the root's own filesystem."""
    if name == "vfs":
        return ""
    if name == "fuse-overlayfs":
        from dockerlab.engine.storage import fuse

        if fuse.program() is None:
            return fuse.MISSING
        problem = fuse.device_problem()
        if problem:
            return problem
    return _probe(paths, name)


def _probe(paths: Paths, name: str) -> str:
    from dockerlab.engine import rootless, work

    folder = work.begin(paths, "probe")
    try:
        if not _rootless() or rootless.in_userns():
            said = try_mount(folder, name, _rootless())
        else:  # as the containers will: root of a user namespace of the user's mapping
            said = _probe_inside(folder, name)
    finally:
        work.discard(folder)
        rootless.rmtree(folder)  # overlay's work folder, made by the namespace's root
    if not said:
        return ""
    if name == "overlay2":
        where = "in a user namespace " if _rootless() else ""
        return f"overlay2: the kernel refused an overlay mount {where}on {paths.root}: {said}"
    return f"fuse-overlayfs: the mount failed on {paths.root}: {said}"


def _probe_inside(folder: str, name: str) -> str:
    here = os.path.abspath(__file__)  # dockerlab/engine/storage/drivers.py
    pkg = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(here))))
    err_r, err_w = os.pipe()
    try:
        pid = os.posix_spawn(
            sys.executable,
            [sys.executable, "-I", "-S", os.path.abspath(__file__), pkg, folder, name],
            dict(os.environ),
            file_actions=[(os.POSIX_SPAWN_DUP2, err_w, 2)],
        )
    finally:
        os.close(err_w)
    said = b""
    with os.fdopen(err_r, "rb") as f:
        said = f.read(8192)
    status = os.waitpid(pid, 0)[1]
    lines = said.decode("utf-8", "replace").strip().splitlines()
    if status == 0:
        return ""
    if os.waitstatus_to_exitcode(status) == _REFUSED:
        return lines[-1] if lines else "refused"
    from dockerlab.errors import SystemFailure  # the user namespace itself failed

    raise SystemFailure(
        "rootless mode: the storage driver probe could not enter a user namespace: "
        + (lines[-1] if lines else "no reason given")
    )


_REFUSED = 3  # the probe helper's exit code for a mount the kernel (or FUSE) refused


def try_mount(folder: str, name: str, userxattr: bool) -> str:
    """Mount an overlay of two lower folders in ``folder``, write, delete (a whiteout),
    unmount; '' when all worked, else what failed."""
    from dockerlab.engine.runtime import linux as L
    from dockerlab.errors import describe

    for d in ("l1", "l2", "u", "w", "m"):
        os.mkdir(os.path.join(folder, d), 0o755)
    with open(os.path.join(folder, "l1", "f"), "w") as f:
        f.write("x")
    merged = os.path.join(folder, "m")
    data = f"lowerdir={folder}/l2:{folder}/l1,upperdir={folder}/u,workdir={folder}/w" + (
        ",userxattr" if userxattr and name == "overlay2" else ""
    )
    mounted = False
    try:
        if name == "overlay2":
            L.mount("overlay", merged, "overlay", 0, data)
        else:
            from dockerlab.engine.storage import fuse

            fuse.mount(data, merged)
        mounted = True
        with open(os.path.join(merged, "g"), "w") as f:
            f.write("y")
        os.unlink(os.path.join(merged, "f"))
        return ""
    except OSError as exc:
        return exc.strerror if exc.errno == 5 and exc.strerror else describe(exc)
    finally:
        if mounted:
            try:
                L.umount(merged)
            except OSError:
                L.umount(merged, L.MNT_DETACH)


if __name__ == "__main__":  # python -I -S drivers.py PKGDIR FOLDER NAME: the rootless probe
    from dockerlab.engine import rootless as _rl
    from dockerlab.engine.runtime import linux as _L

    _L.load()
    _rl.enter(_L)
    _said = try_mount(sys.argv[2], sys.argv[3], True)
    if _said:
        sys.stderr.write(_said + "\n")
        sys.exit(_REFUSED)
