"""Files the network keeps beside the containers (no container module imported here: the
store and the monitor call these).

- Link marks: ``<root>/network/links/<child>/<parent>``, one file per linked pair holding
  the parent's aliases of the child (a line each), made at the parent's create, so a child
  that starts again finds the hosts records that name it (see :mod:`.links`; its monitor
  after a restart by its policy, :func:`update_parents`); dropped with either side.
- Sandbox keys: ``<run dir>/netns/<12 hex>`` (``NetworkSettings.SandboxKey``), a bind mount
  of a running container's network namespace, as Docker's ``/var/run/docker/netns/<12>``;
  its monitor makes it after the first process has its namespace and removes it when that
  process ends (the engine does, after a crash).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockerlab.engine.paths import Paths


# ---- link marks ---------------------------------------------------------------------------
def links_folder(paths: Paths) -> str:
    return os.path.join(paths.root, "network", "links")


def mark(paths: Paths, parent: str, children: list[list[str]]) -> None:
    """Let each child know its parent and the aliases it has there."""
    aliases: dict[str, list[str]] = {}
    for child, alias, *_ in children:
        aliases.setdefault(child, []).append(alias)
    for child, names in aliases.items():
        folder = os.path.join(links_folder(paths), child)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        with open(os.path.join(folder, parent), "w") as f:
            f.write("".join(f"{name}\n" for name in names))


def update_parents(paths: Paths, child: str, ip: str) -> None:
    """The child has address ``ip`` now: its records in its parents' hosts files get it
    (libnetwork's ``etchosts.Update``, in place). A stopped parent's file is rewritten at its
    next start anyway; a removed one's mark is dropped."""
    folder = os.path.join(links_folder(paths), child)
    try:
        parents = os.listdir(folder)
    except FileNotFoundError:
        return
    from dockerlab.engine.network.etcfiles import update_hosts

    for parent in parents:
        hosts = os.path.join(paths.container(parent), "hosts")
        if not os.path.isdir(paths.container(parent)):
            try:
                os.unlink(os.path.join(folder, parent))
            except FileNotFoundError:
                pass
            continue
        try:
            with open(os.path.join(folder, parent)) as f:
                aliases = f.read().split()
        except FileNotFoundError:
            continue
        for alias in aliases:
            update_hosts(hosts, ip, alias)


def forget(paths: Paths, cid: str) -> None:
    """``cid`` is removed: no parent of it is updated any more, and it is no one's parent."""
    folder = links_folder(paths)
    try:
        children = os.listdir(folder)
    except FileNotFoundError:
        return
    if cid in children:
        import shutil

        shutil.rmtree(os.path.join(folder, cid), ignore_errors=True)
    for child in children:
        try:
            os.unlink(os.path.join(folder, child, cid))
        except (FileNotFoundError, NotADirectoryError):
            pass


# ---- sandbox keys -------------------------------------------------------------------------
def key_path(run: str, sandbox_id: str) -> str:
    return os.path.join(run, "netns", sandbox_id[:12])


def new_sandbox(run: str, mode: str) -> dict[str, str]:
    """A start's SandboxID and SandboxKey: none for ``container:`` (Docker's), the host's
    ``netns/default`` for ``host`` (named, never made: it is the host's namespace)."""
    if mode.startswith("container:"):
        return {"SandboxID": "", "SandboxKey": ""}
    sid = os.urandom(32).hex()
    key = os.path.join(run, "netns", "default") if mode == "host" else key_path(run, sid)
    return {"SandboxID": sid, "SandboxKey": key}


def owns_key(key: str) -> bool:
    return bool(key) and not key.endswith("/default")


def release_key(key: str) -> None:
    """Unmount and remove a sandbox key (the monitor at the end, the engine after a crash)."""
    if not owns_key(key):
        return
    from dockerlab.engine.runtime import linux as L

    try:
        L.umount(key, L.MNT_DETACH)
    except OSError:
        pass
    try:
        os.unlink(key)
    except OSError:
        pass
    try:
        os.rmdir(os.path.dirname(key))  # the last one: the run dir keeps no empty folder
    except OSError:
        pass


def make_key(key: str, source: str) -> bool:
    """Bind-mount ``source`` (a namespace) on ``key``; False when it is gone already. The
    folder may be removed by another container's :func:`release_key` meanwhile: again."""
    for _ in range(5):
        try:
            os.makedirs(os.path.dirname(key), mode=0o700, exist_ok=True)
            os.close(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o444))
            break
        except FileNotFoundError:
            continue
    from dockerlab.engine.runtime import linux as L

    try:
        L.mount(source, key, None, L.MS_BIND)
    except OSError:  # it has ended already (or the folder went): nothing to keep
        try:
            os.unlink(key)
        except OSError:
            pass
        return False
    return True
