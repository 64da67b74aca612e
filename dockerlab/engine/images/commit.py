"""``commit`` and ``import``: new images from a container's writable layer or from a tar.

Both take Dockerfile lines as changes (``-c 'CMD ["sh"]'``), as Docker's ``commit --change``
and ``import --change`` do: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME,
WORKDIR, STOPSIGNAL. :func:`apply_changes` is pure (moby ``BuildFromConfig``), and
:func:`merge` fills what the changes left unset from the container's config (moby
``daemon/commit.go``), so a committed image keeps the container's command and environment.

A commit pauses the container (cgroup freezer) while its layer is packed, unless told not to;
the container keeps running. An empty writable layer adds no layer: the history gets an
``empty_layer`` entry, as Docker's does.
"""

from __future__ import annotations

import copy
import json
import os
import shlex
import tempfile
from typing import IO, Any

from dockerlab.engine import work
from dockerlab.engine.build.parser import exec_form
from dockerlab.errors import InvalidParameter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockerlab.engine.containers.store import ContainerStore
    from dockerlab.engine.images.store import ImageStore

ALLOWED = (
    "cmd",
    "entrypoint",
    "env",
    "expose",
    "label",
    "onbuild",
    "user",
    "volume",
    "workdir",
    "stopsignal",
)


# ---- changes (pure) --------------------------------------------------------------------------


def parse_change(line: str) -> tuple[str, str]:
    """``'ENV A=1'`` → ``("env", "A=1")`` with Docker's refusals."""
    text = line.strip()
    if not text:
        raise InvalidParameter("dockerfile parse error: file with no instructions")
    word, _, rest = text.partition(" ")
    if "\t" in word:
        word, _, more = word.partition("\t")
        rest = more + " " + rest
    name = word.lower()
    if name not in ALLOWED:
        raise InvalidParameter(f"{name} is not a valid change command")
    return name, rest.strip()


def _json_or_shell(value: str) -> list[str]:
    """``["a", "b"]`` (exec form) or ``a b`` (shell form → ``/bin/sh -c``)."""
    args, is_json = exec_form(value)
    return args if is_json else ["/bin/sh", "-c", value]


def _json_or_words(value: str) -> list[str]:
    args, is_json = exec_form(value)
    return args if is_json else value.split()


def _pairs(value: str, what: str) -> list[tuple[str, str]]:
    """``A=1 B="x y"`` or the legacy ``A 1 2`` form of ENV and LABEL."""
    words = shlex.split(value)
    if not words:
        raise InvalidParameter(f"{what} requires at least one argument")
    if "=" not in words[0]:
        key, _, rest = value.strip().partition(" ")
        if not rest.strip():
            raise InvalidParameter(f"{what} must have two arguments")
        return [(key, rest.strip())]
    out = []
    for w in words:
        key, eq, val = w.partition("=")
        if not eq or not key:
            raise InvalidParameter(
                f'Syntax error - can\'t find = in "{w}". Must be of the form: name=value'
            )
        out.append((key, val))
    return out


def apply_changes(changes: list[str], config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Apply Dockerfile lines to ``config`` (a container/image ``Config`` dict, not changed);
    returns the new one. ENTRYPOINT clears a CMD not set by an earlier change, as Docker."""
    cfg: dict[str, Any] = json.loads(json.dumps(config or {}))
    cmd_set = False
    for line in changes:
        name, value = parse_change(line)
        if name == "cmd":
            cfg["Cmd"] = _json_or_shell(value)
            cmd_set = True
        elif name == "entrypoint":
            cfg["Entrypoint"] = _json_or_shell(value) if value else None
            if not cmd_set:
                cfg["Cmd"] = None
        elif name == "env":
            env = list(cfg.get("Env") or [])
            for key, val in _pairs(value, "ENV"):
                env = [e for e in env if e.split("=", 1)[0] != key] + [f"{key}={val}"]
            cfg["Env"] = env
        elif name == "label":
            labels = dict(cfg.get("Labels") or {})
            for key, val in _pairs(value, "LABEL"):
                labels[key] = val
            cfg["Labels"] = labels
        elif name == "expose":
            ports = dict(cfg.get("ExposedPorts") or {})
            for p in value.split():
                port, _, proto = p.partition("/")
                if not port or not all(x.isdigit() for x in port.split("-")):
                    raise InvalidParameter(f"Invalid containerPort: {port}")
                ports[f"{port}/{(proto or 'tcp').lower()}"] = {}
            cfg["ExposedPorts"] = ports
        elif name == "user":
            if not value:
                raise InvalidParameter("USER requires exactly one argument")
            cfg["User"] = value
        elif name == "volume":
            vols = dict(cfg.get("Volumes") or {})
            for v in _json_or_words(value):
                if not v.strip():
                    raise InvalidParameter("VOLUME specified can not be an empty string")
                vols[v] = {}
            cfg["Volumes"] = vols
        elif name == "workdir":
            if not value:
                raise InvalidParameter("WORKDIR requires exactly one argument")
            cfg["WorkingDir"] = os.path.normpath(os.path.join(cfg.get("WorkingDir") or "/", value))
        elif name == "stopsignal":
            from dockerlab.engine.checks import parse_signal

            parse_signal(value)
            cfg["StopSignal"] = value
        elif name == "onbuild":
            cfg["OnBuild"] = [*(cfg.get("OnBuild") or []), value]
    return cfg


def merge(user: dict[str, Any], container: dict[str, Any]) -> dict[str, Any]:
    """moby's ``merge``: what the changes left unset comes from the container's config."""
    out = dict(user)
    if not out.get("User"):
        out["User"] = container.get("User") or ""
    ports = dict(out.get("ExposedPorts") or {})
    for p in container.get("ExposedPorts") or {}:
        ports.setdefault(p, {})
    out["ExposedPorts"] = ports or None
    env = list(out.get("Env") or [])
    keys = {e.split("=", 1)[0] for e in env}
    for e in container.get("Env") or []:
        if e.split("=", 1)[0] not in keys:
            env.append(e)
    out["Env"] = env or None
    labels = dict(container.get("Labels") or {})
    labels.update(out.get("Labels") or {})
    out["Labels"] = labels
    if not out.get("Entrypoint"):
        if not out.get("Cmd"):
            out["Cmd"] = container.get("Cmd")
        if "Entrypoint" not in user:
            out["Entrypoint"] = container.get("Entrypoint")
    if not out.get("WorkingDir"):
        out["WorkingDir"] = container.get("WorkingDir") or ""
    volumes = dict(out.get("Volumes") or {})
    volumes.update(container.get("Volumes") or {})
    out["Volumes"] = volumes or None
    if not out.get("StopSignal") and container.get("StopSignal"):
        out["StopSignal"] = container["StopSignal"]
    return {k: v for k, v in out.items() if v not in (None, "", {}, [])}


def _container_env(c: Any, image_env: list[str]) -> list[str]:
    """The container's Env without what the engine added (HOSTNAME, TERM for a TTY)."""
    cfg = c.config["Config"]
    out = []
    for e in cfg.get("Env") or []:
        if e == f"HOSTNAME={cfg.get('Hostname')}" and e not in image_env:
            continue
        if e == "TERM=xterm" and cfg.get("Tty") and e not in image_env:
            continue
        out.append(e)
    return out


# ---- commit ----------------------------------------------------------------------------------


def commit(
    containers: ContainerStore,
    images: ImageStore,
    ref: str,
    repo_tag: str | None = None,
    message: str = "",
    author: str = "",
    changes: list[str] | None = None,
    pause: bool = True,
    config: dict[str, Any] | None = None,
) -> str:
    from dockerlab.engine.images import reference as refs
    from dockerlab.engine.images.archive import pack_dir
    from dockerlab.engine.images.store import now_rfc3339

    tags = []
    if repo_tag:
        named = refs.parse_tagged(repo_tag)
        if named.digest is not None:
            raise InvalidParameter("refusing to create a tag with a digest reference")
        tags = [named.familiar()]
    user_cfg = apply_changes(list(changes or []), config)
    c = containers.find(ref)
    store = images
    folder = work.begin(containers.paths, "commit")  # removed (and the container thawed) if
    tar_path = os.path.join(folder, "layer.tar")  # this process dies before the end
    try:
        # Lock-then-act, as every verb: no pause, unpause, stop or removal (an --rm monitor's
        # too) between the check and the pack, so the thaw below never undoes a user's pause
        # and the layer is not removed under the packer. The image store's own lock is taken
        # after this one is released (store.create), never inside it.
        with c.lock():
            c.refresh(locked=True)
            c.ensure_state("commit")
            parent_id = c.config["Image"]
            parent = store.config(parent_id)
            container_cfg = dict(c.config["Config"])
            env = (parent.get("config") or {}).get("Env") or []
            container_cfg["Env"] = _container_env(c, env)
            config = merge(user_cfg, container_cfg)
            upper = os.path.join(c.layer_dir, "diff")
            frozen = False
            if pause and c.running and c.state["Status"] != "paused":
                with open(os.path.join(folder, "frozen"), "w") as f:
                    f.write(c.id)
                c.cgroup().freeze()
                frozen = True
            try:
                if (c.config.get("Runtime") or {}).get("Driver") == "vfs":  # a full copy
                    from dockerlab.engine.storage import vfs

                    upper = vfs.changes_folder(c, os.path.join(folder, "upper"))
                empty = not os.listdir(upper)
                with open(tar_path, "wb") as f:
                    if not empty:
                        pack_dir(upper, f)
            finally:
                if frozen:
                    c.cgroup().thaw()
        created = now_rfc3339()
        entry: dict[str, Any] = {
            "created": created,
            "created_by": " ".join(c.config["Config"].get("Cmd") or []),
        }
        if author:
            entry["author"] = author
        if message:
            entry["comment"] = message
        if empty:
            entry["empty_layer"] = True
        image: dict[str, Any] = {
            "architecture": parent.get("architecture", ""),
            "os": parent.get("os", "linux"),
            "created": created,
            "config": config,
            "container": c.id,
            # Docker 20.10's commit keeps the container's own config next to the new one
            "container_config": copy.deepcopy(c.config["Config"]),
            "history": [*(parent.get("history") or []), entry],
        }
        if parent.get("variant"):
            image["variant"] = parent["variant"]
        if author:
            image["author"] = author
        if message:
            image["comment"] = message
        diff_ids = list((parent.get("rootfs") or {}).get("diff_ids", []))
        tars = [store.blob_path(d) for d in diff_ids]
        if not empty:
            tars.append(tar_path)
        # lazy: the new layer is unpacked when first used, not while the user waits
        return store.create(tars, image, tags=tags, parent=parent_id, lazy=True)
    finally:
        work.discard(folder)


# ---- import ----------------------------------------------------------------------------------


def _decompressed(fileobj: IO[bytes], dest: IO[bytes], folder: str) -> None:
    """Copy ``fileobj`` to ``dest``, decompressing gzip, bzip2, xz or zstd, within the bounds of
    :class:`~dockerlab.engine.images.inflate.Budget` (ratio and free disk under ``folder``)."""
    from dockerlab.engine.images.inflate import Budget, decompressed

    budget = Budget(folder)
    src, _ = decompressed(budget.reader(fileobj))
    while chunk := src.read(1 << 20):
        budget.wrote(len(chunk))
        dest.write(chunk)


def import_image(
    images: ImageStore,
    fileobj: IO[bytes],
    repo_tag: str | None = None,
    changes: list[str] | None = None,
    message: str = "",
    source: str = "-",
) -> str:
    """``docker import``: a one-layer image from a tar (plain, gzip, bzip2, xz or zstd)."""
    import tarfile

    from dockerlab.engine.images import reference as refs
    from dockerlab.engine.images.bootstrap import host_platform
    from dockerlab.engine.images.store import now_rfc3339

    tags = []
    if repo_tag:
        named = refs.parse_tagged(repo_tag)
        if named.digest is not None:
            raise InvalidParameter("refusing to create a tag with a digest reference")
        tags = [named.familiar()]
    config = apply_changes(list(changes or []))
    comment = message or f"Imported from {source}"
    store, paths = images, images.paths
    os.makedirs(paths.tmp, mode=0o700, exist_ok=True)
    fd, tar_path = tempfile.mkstemp(prefix=work.prefix("import"), suffix=".tar", dir=paths.tmp)
    try:
        with os.fdopen(fd, "wb") as f:
            try:
                _decompressed(fileobj, f, paths.tmp)
            except Exception as exc:
                from dockerlab.engine.images.inflate import corrupt

                if not corrupt(exc):
                    raise
                raise InvalidParameter(f"invalid archive: {exc}") from None
        try:
            from dockerlab.engine.images.inflate import BoundedTarInfo, FieldTooLong

            with tarfile.open(tar_path, "r:", tarinfo=BoundedTarInfo) as tf:
                tf.next()
        except FieldTooLong as exc:
            raise InvalidParameter(str(exc)) from None
        except tarfile.TarError as exc:
            raise InvalidParameter(f"archive/tar: invalid tar header ({exc})") from None
        created = now_rfc3339()
        arch, variant = host_platform()
        image: dict[str, Any] = {
            "architecture": arch,
            "os": "linux",
            "created": created,
            "comment": comment,
            "config": config,
            "history": [{"created": created, "comment": comment}],
        }
        if variant:
            image["variant"] = variant
        return store.create([tar_path], image, tags=tags)
    finally:
        try:
            os.unlink(tar_path)
        except FileNotFoundError:
            pass
