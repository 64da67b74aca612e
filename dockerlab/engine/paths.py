"""Where dockerlab keeps its state.

    $DOCKERLAB_ROOT (default /var/lib/dockerlab as root, $XDG_DATA_HOME/dockerlab otherwise)
    ├── image/                 OCI image store: blobs/sha256/<hex>, repositories.json, ...
    ├── overlay/<id>/          one per image layer (diff/) and per container (diff/, work/, merged/)
    │   └── l/<short>          short links to layer diff/ folders, so mount options fit a page
    ├── containers/<id>/       config.v2.json, state.json, <id>-json.log, hosts, hostname, ...
    ├── volumes/<name>/_data
    ├── events/events.log      the event journal (engine/events.py), and events.log.1
    └── tmp/                   scratch space on the same filesystem, for atomic renames;
                               each entry names its owner (<kind>-<pid>-<start>-…), so what
                               a killed command left is found and removed (engine/work.py)

Runtime files (monitor sockets, pids) live under /run/dockerlab for the default root and
/run/dockerlab-<hash> for any other, so socket paths stay short and tests never collide.
Rootless (engine/rootless.py): state under $XDG_DATA_HOME/dockerlab, runtime files under
$XDG_RUNTIME_DIR/dockerlab (dl-<hash> for another root; that folder must be ours, and
writable by us alone), else /tmp/dockerlab-<uid>/<hash> (that base 0700 and ours, checked
before a socket goes there); short, for socket paths.
"""

from __future__ import annotations

import os

DEFAULT_ROOT = "/var/lib/dockerlab"
DEFAULT_RUN = "/run/dockerlab"


def default_root() -> str:
    env = os.environ.get("DOCKERLAB_ROOT")
    if env:
        return os.path.abspath(env)
    if os.geteuid() == 0 and os.environ.get("DOCKERLAB_ROOTLESS") != "1":
        return DEFAULT_ROOT
    data = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(data, "dockerlab")


def runtime_dir_for(root: str) -> str:
    if root == DEFAULT_ROOT:
        return DEFAULT_RUN
    from binascii import crc32  # zlib's; a short stable tag (a clash would only share a folder)

    tag = f"{crc32(root.encode()):08x}"
    if os.geteuid() == 0 and os.environ.get("DOCKERLAB_ROOTLESS") != "1":
        return f"{DEFAULT_RUN}-{tag}"
    # Rootless: short names, as <run>/<64-hex id>/attach.sock must fit sun_path (107 bytes)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if not xdg:
        base = f"/tmp/dockerlab-{os.geteuid()}"
        _private_base(base)
        return f"{base}/{tag}"
    _own_runtime_dir(xdg)
    if root == default_root():
        return os.path.join(xdg, "dockerlab")
    return os.path.join(xdg, f"dl-{tag}")


def _private_base(base: str) -> None:
    """Rootless without $XDG_RUNTIME_DIR: the per-user base under /tmp must be ours, 0700
    and no link (another user could have made it first, to watch or replace our sockets)."""
    try:
        os.mkdir(base, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(base)
    if st.st_uid != os.geteuid() or not os.path.isdir(base) or os.path.islink(base):
        from dockerlab.errors import Forbidden

        raise Forbidden(
            f"the runtime folder {base} belongs to another user: set XDG_RUNTIME_DIR "
            "to a folder of your own"
        )
    if st.st_mode & 0o077:
        os.chmod(base, 0o700)


def _own_runtime_dir(xdg: str) -> None:
    """$XDG_RUNTIME_DIR as the XDG spec has it: there, a folder of ours that no one else may
    write in (``sudo -u`` keeps the caller's; ``su`` without a login session names one that
    logind never made). Refused in words, before a socket of ours goes there."""
    why = ""
    try:
        st = os.stat(xdg)
    except FileNotFoundError:
        why = "does not exist"
    except OSError as exc:
        why = f"cannot be read ({os.strerror(exc.errno or 0).lower()})"
    else:
        if st.st_uid != os.geteuid():
            why = "belongs to another user"
        elif not os.path.isdir(xdg):
            why = "is not a folder"
        elif st.st_mode & 0o022:
            why = "is writable by other users"
        elif not os.access(xdg, os.W_OK | os.X_OK):
            why = "is not writable"
    if why:
        from dockerlab.errors import Forbidden

        raise Forbidden(
            f"the runtime folder XDG_RUNTIME_DIR ({xdg}) {why}: unset it (runtime files then "
            f"go to /tmp/dockerlab-{os.geteuid()}) or set it to a folder of your own (mode 0700)"
        )


class Paths:
    """The folders of one state root (no dataclass: this is on every start path)."""

    __slots__ = ("root", "run")

    def __init__(self, root: str, run: str) -> None:
        self.root = root
        self.run = run

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Paths) and (self.root, self.run) == (other.root, other.run)

    def __hash__(self) -> int:
        return hash((self.root, self.run))

    @classmethod
    def of(cls, root: str | None = None) -> Paths:
        root = os.path.abspath(root) if root else default_root()
        return cls(root=root, run=runtime_dir_for(root))

    @property
    def image(self) -> str:
        return os.path.join(self.root, "image")

    @property
    def overlay(self) -> str:
        return os.path.join(self.root, "overlay")

    @property
    def containers(self) -> str:
        return os.path.join(self.root, "containers")

    @property
    def volumes(self) -> str:
        return os.path.join(self.root, "volumes")

    @property
    def tmp(self) -> str:
        return os.path.join(self.root, "tmp")

    def container(self, cid: str) -> str:
        return os.path.join(self.containers, cid)

    def layer(self, layer_id: str) -> str:
        return os.path.join(self.overlay, layer_id)

    def volume(self, name: str) -> str:
        return os.path.join(self.volumes, name)

    def ensure(self) -> None:
        for d in (self.image, self.overlay, self.containers, self.volumes, self.tmp, self.run):
            os.makedirs(d, mode=0o710 if d == self.root else 0o700, exist_ok=True)
