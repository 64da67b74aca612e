"""The classic builder (``DOCKER_BUILDKIT=0``): one image per step, Docker's output.

    parse ──> stages ──> for each step:  probe the cache ─hit─> " ---> Using cache"
                                           └─miss─> act (RUN: a real container; COPY: an
                                                overlay of the parent; others: config only)
                                                ──> commit (a layer only if files changed)

Every step's image is kept, untagged, with the previous image as its parent (``images -a``
shows them, and they are the cache). Intermediate containers are real (their IDs are
printed) and removed after a successful step (``rm``) or always (``force_rm``).
"""

from __future__ import annotations

import copy
import json
import os
import posixpath
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from dockerlab.engine import userns
from dockerlab.engine.build import shell as sh
from dockerlab.engine.build.cache import Prober
from dockerlab.engine.build.events import BuildEvent, BuildFailed
from dockerlab.engine.build.parser import DockerfileParseError, Instruction, parse, parse_line
from dockerlab.engine.work import prefix as work_prefix
from dockerlab.errors import DockerlabError, InvalidParameter, NoSuchImage

if TYPE_CHECKING:
    from collections.abc import Callable

    from dockerlab.engine.build.context import BuildContext
    from dockerlab.engine.build.copy import ExcludedBelow, Source
    from dockerlab.engine.images.store import ImageStore
    from dockerlab.engine.paths import Paths
    from dockerlab.engine.runtime.streams import Attachment

    # a Dockerfile instruction's edit of the image config, and its text in the history
    ConfigEdit = Callable[[dict[str, Any]], None]
    Change = tuple[str, ConfigEdit | None]


class Engine(Protocol):
    """What a build needs of the engine (:class:`~dockerlab.engine.facade.Engine` is one):
    its paths, its image store and four container verbs for the RUN steps."""

    paths: Paths

    @property
    def image_store(self) -> ImageStore: ...

    def create(
        self, body: dict[str, Any], name: str | None = None, owner: str = ""
    ) -> dict[str, Any]: ...

    def start(self, ref: str, attach: str = "") -> Attachment | None: ...

    def wait(self, ref: str, condition: str = "not-running") -> dict[str, Any]: ...

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None: ...

    def pull(self, name: str, result: Any = None) -> Iterator[dict[str, Any]]: ...


BUILTIN_ARGS = frozenset(
    {
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "FTP_PROXY",
        "ftp_proxy",
        "NO_PROXY",
        "no_proxy",
        "ALL_PROXY",
        "all_proxy",
    }
)
DEFAULT_SHELL = ["/bin/sh", "-c"]
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _short(image_id: str) -> str:
    return image_id.split(":", 1)[-1][:12]


def go_quote_list(items: list[str]) -> str:
    """Go's ``%q`` of a ``[]string``: ``["/bin/sh" "-c" "echo hi"]``."""
    return "[" + " ".join(json.dumps(i, ensure_ascii=False) for i in items) + "]"


def go_duration(ns: int) -> str:
    """Go's ``time.Duration.String`` for whole values (``5s``, ``1m30s``, ``100ms``)."""
    if ns == 0:
        return "0s"
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return f"{ns / size:g}{unit}"
    secs = ns / 1e9
    h, rem = divmod(secs, 3600)
    m, s = divmod(rem, 60)
    out = f"{int(h)}h" if h else ""
    out += f"{int(m)}m" if h or m else ""
    return out + f"{s:g}s"


def parse_duration(text: str, flag: str) -> int:
    import re

    if text in ("0", ""):
        return 0
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise InvalidParameter(f'time: invalid duration "{text}"')
    scale = {"ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}
    value = int(sum(float(a) * scale[b] for a, b in parts))
    if 0 < value < 1_000_000:
        raise InvalidParameter(f"Interval {flag} cannot be less than 1ms")
    return value


class Stage:
    """The state of one ``FROM`` section while it is built."""

    def __init__(self, name: str, index: int) -> None:
        self.name, self.index = name, index
        self.image_id: str | None = None
        self.image: dict[str, Any] = {}
        self.args: dict[str, str | None] = {}
        self.cmd_set = False

    @property
    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = self.image.setdefault("config", {})
        return config

    @property
    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    def arg_env(self) -> dict[str, str]:
        return {k: v for k, v in self.args.items() if v is not None}

    def env(self) -> dict[str, str]:
        """What ``$VAR`` sees: build args, overridden by ENV."""
        out = self.arg_env()
        for item in self.config.get("Env") or []:
            k, _, v = item.partition("=")
            out[k] = v
        return out

    def run_args(self) -> list[str]:
        env_keys = {e.partition("=")[0] for e in self.config.get("Env") or []}
        return sorted(f"{k}={v}" for k, v in self.arg_env().items() if k not in env_keys)


class Builder:
    def __init__(
        self,
        engine: Engine,
        ctx: BuildContext,
        tags: list[str],
        build_args: dict[str, str | None],
        no_cache: bool,
        target: str | None,
        labels: dict[str, str],
        rm: bool,
        force_rm: bool,
        owner: str = "",
    ) -> None:
        self.engine = engine
        self.owner = owner  # this build's work folder: its containers die with it
        self.store = engine.image_store
        self.ctx = ctx
        self.tags = tags
        self.build_args = dict(build_args)
        self.target = target.lower() if target else None
        self.labels = labels
        self.rm, self.force_rm = rm or force_rm, force_rm
        self.prober = Prober(self.store, not no_cache)
        self.stages: list[Stage] = []
        self.meta_args: dict[str, str | None] = {}
        self.consumed: set[str] = set()
        self.escape = "\\"
        self.pull = False  # --pull
        self.host_config: dict[str, Any] = {}  # resources of RUN containers (memory, cpu…)

    # ---- the whole build -------------------------------------------------------------------
    def run(self) -> Iterator[BuildEvent]:
        if not self.ctx.dockerfile.strip():
            raise InvalidParameter(f"the Dockerfile ({self.ctx.dockerfile_name}) cannot be empty")
        df = parse(self.ctx.dockerfile)
        self.escape = df.escape
        meta, sections = self._split(df.instructions)
        if self.target is not None:
            names = [s[0].args[2].lower() if len(s[0].args) == 3 else "" for s in sections]
            if self.target not in names:
                raise InvalidParameter(f"failed to reach build target {self.target} in Dockerfile")
            sections = sections[: names.index(self.target) + 1]
        label_step = None
        if self.labels:
            text = "LABEL " + " ".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
            label_step = Instruction("label", [], text, 0)
        total = len(meta) + sum(len(s) for s in sections) + (1 if label_step else 0)
        n = 0
        for ins in meta:
            n += 1
            yield BuildEvent("stream", f"Step {n}/{total} : {ins.original}\n")
            for word in ins.args:
                name, eq, default = word.partition("=")
                value = sh.process_word(default, {}, self.escape) if eq else None
                if name in self.build_args:
                    value = self.build_args[name]
                self.meta_args[name] = value
                self.consumed.add(name)
        stage = None
        for index, section in enumerate(sections):
            self.prober.reset()
            stage = Stage("", index)
            self.stages.append(stage)
            for ins in section:
                n += 1
                yield BuildEvent("stream", f"Step {n}/{total} : {ins.original}\n")
                yield from self._dispatch(stage, ins)
            if label_step is not None and index == len(sections) - 1:
                n += 1
                yield BuildEvent("stream", f"Step {n}/{total} : {label_step.original}\n")
                yield from self._metadata(
                    stage,
                    label_step.original,
                    lambda c: c.setdefault("Labels", {}).update(self.labels),
                )
        assert stage is not None
        if stage.image_id is None:
            raise InvalidParameter("No image was generated. Is your Dockerfile empty?")
        unused = sorted(
            k for k in self.build_args if k not in self.consumed and k not in BUILTIN_ARGS
        )
        if unused:
            yield BuildEvent(
                "warning",
                f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed\n",
            )
        image_id = stage.image_id
        yield BuildEvent("aux", image_id=image_id)
        yield BuildEvent("stream", f"Successfully built {_short(image_id)}\n")
        from dockerlab.engine.images import reference as refs

        for tag in self.tags:
            self.store.tag(image_id, tag)
            yield BuildEvent("stream", f"Successfully tagged {refs.parse_tagged(tag).familiar()}\n")

    def _split(self, items: list[Instruction]) -> tuple[list[Instruction], list[list[Instruction]]]:
        meta: list[Instruction] = []
        sections: list[list[Instruction]] = []
        for ins in items:
            if ins.cmd == "from":
                sections.append([ins])
            elif sections:
                sections[-1].append(ins)
            elif ins.cmd == "arg":
                meta.append(ins)
            else:
                raise DockerfileParseError(ins.line, "no build stage in current context")
        if not sections:
            raise InvalidParameter("No image was generated. Is your Dockerfile empty?")
        seen: set[str] = set()
        for s in sections:
            if len(s[0].args) == 3:
                name = s[0].args[2].lower()
                import re

                if not re.fullmatch(r"[a-z][a-z0-9-_.]*", name):
                    raise DockerfileParseError(
                        s[0].line,
                        f"invalid name for build stage: "
                        f'"{s[0].args[2]}", name can\'t start with a '
                        "number or contain symbols",
                    )
                if name in seen:
                    raise DockerfileParseError(s[0].line, f"duplicate name {name}")
                seen.add(name)
        return meta, sections

    # ---- instructions ----------------------------------------------------------------------
    def _word(self, stage: Stage, word: str) -> str:
        try:
            return sh.process_word(word, stage.env(), self.escape)
        except sh.SubstitutionError as exc:
            raise BuildFailed(str(exc)) from exc

    def _dispatch(self, stage: Stage, ins: Instruction) -> Iterator[BuildEvent]:
        cmd = ins.cmd
        if cmd == "from":
            yield from self._from(stage, ins)
            return
        if cmd == "run":
            yield from self._run(stage, ins)
            return
        if cmd in ("copy", "add"):
            yield from self._copy(stage, ins)
            return
        if cmd == "workdir":
            yield from self._workdir(stage, ins)
            return
        comment, change = self._config_change(stage, ins)
        yield from self._metadata(stage, comment, change)

    def _config_change(self, stage: Stage, ins: Instruction) -> Change:  # noqa: C901 - one per kind
        cmd, args = ins.cmd, ins.args
        if cmd in ("env", "label"):
            pairs = []
            for word in args:
                k, _, v = word.partition("=")
                pairs.append((self._word(stage, k), self._word(stage, v)))
            text = f"{cmd.upper()} " + " ".join(f"{k}={v}" for k, v in pairs)
            if cmd == "env":

                def change(c: dict[str, Any]) -> None:
                    env = list(c.get("Env") or [])
                    for k, v in pairs:
                        env = [e for e in env if e.partition("=")[0] != k] + [f"{k}={v}"]
                    c["Env"] = env
            else:

                def change(c: dict[str, Any]) -> None:
                    labels = dict(c.get("Labels") or {})
                    labels.update(pairs)
                    c["Labels"] = labels

            return text, change
        if cmd == "arg":
            shown = []
            for word in args:
                name, eq, default = word.partition("=")
                value: str | None = self._word(stage, default) if eq else None
                shown.append(f"{name}={value}" if eq else name)
                if value is None and name in self.meta_args:
                    value = self.meta_args[name]
                if name in self.build_args:
                    value = self.build_args[name]
                stage.args[name] = value
                self.consumed.add(name)
            return "ARG " + " ".join(shown), None
        if cmd in ("cmd", "entrypoint"):
            argv = list(args) if ins.json else stage.shell + args
            text = f"{cmd.upper()} {go_quote_list(argv)}"
            key = "Cmd" if cmd == "cmd" else "Entrypoint"
            cmd_set = stage.cmd_set
            if cmd == "cmd":
                stage.cmd_set = True

            def change(c: dict[str, Any]) -> None:
                c[key] = argv
                if key == "Entrypoint" and not cmd_set:
                    c["Cmd"] = None

            return text, change
        if cmd == "expose":
            ports = sorted(self._word(stage, p) for p in args)

            def change(c: dict[str, Any]) -> None:
                exposed = dict(c.get("ExposedPorts") or {})
                for p in ports:
                    exposed[p if "/" in p else f"{p}/tcp"] = {}
                c["ExposedPorts"] = exposed

            return "EXPOSE " + " ".join(ports), change
        if cmd == "volume":
            vols = [self._word(stage, v) for v in args]
            if any(not v.strip() for v in vols):
                raise BuildFailed("VOLUME specified can not be an empty string")

            def change(c: dict[str, Any]) -> None:
                volumes = dict(c.get("Volumes") or {})
                for v in vols:
                    volumes[v] = {}
                c["Volumes"] = volumes

            return "VOLUME [" + " ".join(vols) + "]", change
        if cmd in ("user", "stopsignal"):
            value = self._word(stage, args[0])
            if cmd == "stopsignal":
                from dockerlab.engine.checks import parse_signal

                parse_signal(value)
            key = "User" if cmd == "user" else "StopSignal"
            return f"{cmd.upper()} {value}", lambda c: c.__setitem__(key, value)
        if cmd == "shell":
            return f"SHELL [{' '.join(args)}]", lambda c: c.__setitem__("Shell", list(args))
        if cmd == "maintainer":
            stage.image["author"] = args[0]
            return f"MAINTAINER {args[0]}", None
        if cmd == "onbuild":
            trigger = ins.args[0]
            word, _, rest = trigger.partition(" ")
            trigger = f"{word.upper()} {rest}".strip()

            def change(c: dict[str, Any]) -> None:
                c["OnBuild"] = [*(c.get("OnBuild") or []), trigger]

            return f"ONBUILD {trigger}", change
        if cmd == "healthcheck":
            return self._healthcheck(ins)
        raise DockerfileParseError(ins.line, f"unknown instruction: {cmd.upper()}")

    def _healthcheck(self, ins: Instruction) -> Change:
        if ins.args[0] == "NONE":
            hc: dict[str, Any] = {"Test": ["NONE"]}
            return 'HEALTHCHECK &{["NONE"] "0s" "0s" "0s" \'\\x00\'}', lambda c: c.__setitem__(
                "Healthcheck", hc
            )
        test = ["CMD", *ins.args[1:]] if ins.json else ["CMD-SHELL", *ins.args[1:]]
        durations = {}
        for flag, key in (
            ("interval", "Interval"),
            ("timeout", "Timeout"),
            ("start-period", "StartPeriod"),
        ):
            durations[key] = parse_duration(ins.flags.get(flag, ""), flag)
        retries_text = ins.flags.get("retries", "0")
        if not retries_text.isdigit():
            raise BuildFailed(f'strconv.ParseInt: parsing "{retries_text}": invalid syntax')
        retries = int(retries_text)
        hc = {"Test": test, **{k: v for k, v in durations.items() if v}}
        if retries:
            hc["Retries"] = retries
        text = (
            "HEALTHCHECK &{"
            + go_quote_list(test)
            + " "
            + " ".join(
                f'"{go_duration(durations[k])}"' for k in ("Interval", "Timeout", "StartPeriod")
            )
            + f" '\\x{retries:02x}'"
            + "}"
        )
        return text, lambda c: c.__setitem__("Healthcheck", hc)

    # ---- FROM ------------------------------------------------------------------------------
    def _pull(self, name: str) -> Iterator[BuildEvent]:
        """The classic builder pulls a FROM image it lacks (or every one with --pull),
        its progress in the build's output."""
        from dockerlab.engine.images import reference as refs
        from dockerlab.engine.registry.client import RegistryError

        if refs.is_full_id(name):
            return
        try:
            for msg in self.engine.pull(name):
                if msg.get("progressDetail"):
                    continue
                ident = msg.get("id")
                text = f"{ident}: {msg['status']}" if ident else str(msg["status"])
                yield BuildEvent("stream", text + "\n")
        except RegistryError as exc:  # docker's builder prints the daemon's message
            raise BuildFailed(str(exc)) from exc

    def _from(self, stage: Stage, ins: Instruction) -> Iterator[BuildEvent]:
        meta_env = {k: v for k, v in self.meta_args.items() if v is not None}
        try:
            name = sh.process_word(ins.args[0], meta_env, self.escape)
        except sh.SubstitutionError as exc:
            raise BuildFailed(str(exc)) from exc
        if len(ins.args) == 3:
            stage.name = ins.args[2].lower()
        base = next((s for s in self.stages[:-1] if s.name and s.name == name.lower()), None)
        if base is not None:
            stage.image_id = base.image_id
            stage.image = copy.deepcopy(base.image)
        elif name.lower() == "scratch":
            stage.image_id = None
            stage.image = {
                "architecture": _arch(),
                "os": "linux",
                "config": {"Env": [DEFAULT_PATH]},
                "history": [],
            }
        else:
            if self.pull or not self.store.exists(name):
                yield from self._pull(name)
            try:
                stage.image_id = self.store.resolve(name)
            except NoSuchImage as exc:
                raise BuildFailed(
                    f"pull access denied for {name}, repository does not exist "
                    "or may require 'docker login': dockerlab builds offline "
                    f"and has no image {name}"
                ) from exc
            stage.image = copy.deepcopy(self.store.config(stage.image_id))
            stage.image.pop("container_config", None)
        # Docker prints the line for every FROM; after ``FROM scratch`` it is " ---> " alone
        shown = _short(stage.image_id) if stage.image_id else ""
        yield BuildEvent("stream", f" ---> {shown}\n")
        triggers = list(stage.config.get("OnBuild") or [])
        if triggers:
            yield BuildEvent(
                "stream",
                f"# Executing {len(triggers)} build trigger{'s' if len(triggers) > 1 else ''}\n",
            )
            stage.config["OnBuild"] = None
            for text in triggers:
                trig = parse_line(text, ins.line, self.escape)
                if trig.cmd in ("onbuild", "from", "maintainer"):
                    raise BuildFailed(f"{trig.cmd.upper()} isn't allowed as an ONBUILD trigger")
                yield from self._dispatch(stage, trig)

    # ---- steps that commit -----------------------------------------------------------------
    def _key(
        self, stage: Stage, cmd: list[str], config: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        key = copy.deepcopy(config if config is not None else stage.config)
        key["Cmd"] = cmd
        return key

    def _hit(self, stage: Stage, key: dict[str, Any]) -> Iterator[BuildEvent]:
        """Yields the cache-hit lines and moves the stage on when ``key`` is cached."""
        found = self.prober.probe(stage.image_id, key)
        if found is None:
            return
        stage.image_id = found
        stage.image = copy.deepcopy(self.store.config(found))
        stage.image.pop("container_config", None)
        stage.image.pop("rootfs", None)
        yield BuildEvent("stream", f" ---> Using cache\n ---> {_short(found)}\n")

    def _metadata(
        self, stage: Stage, comment: str, change: ConfigEdit | None
    ) -> Iterator[BuildEvent]:
        new_config = copy.deepcopy(stage.config)
        if change is not None:
            change(new_config)
        cmd = [*stage.shell, "#(nop) ", comment]
        key = self._key(stage, cmd, new_config)
        hit = list(self._hit(stage, key))
        if hit:
            yield from hit
            return
        cid = ""
        if stage.image_id:
            cid = self._container(stage, cmd, new_config)
            yield BuildEvent("stream", f" ---> Running in {cid[:12]}\n")
        stage.image["config"] = new_config
        yield from self._commit(stage, key, cid, None)

    def _container(
        self, stage: Stage, cmd: list[str], config: dict[str, Any], env: list[str] | None = None
    ) -> str:
        body = {
            "Image": stage.image_id,
            "Cmd": cmd,
            "Entrypoint": [""],
            "Env": env if env is not None else list(config.get("Env") or []),
            "WorkingDir": config.get("WorkingDir") or "",
            "User": config.get("User") or "",
            "Labels": {},
            "Healthcheck": {"Test": ["NONE"]},  # a build step is never probed (Docker's too)
            "HostConfig": {"NetworkMode": "default", **self.host_config},
        }
        cid: str = self.engine.create(body, owner=self.owner)["Id"]
        return cid

    def _commit(
        self,
        stage: Stage,
        key: dict[str, Any],
        cid: str,
        upper: str | None,
        tar: str | None = None,
    ) -> Iterator[BuildEvent]:
        """Record the step as a new image (a layer only when ``upper`` holds changes)."""
        from dockerlab.engine.images.store import now_rfc3339

        if cid and self.rm:
            yield BuildEvent("stream", f"Removing intermediate container {cid[:12]}\n")
        image = stage.image
        parent = stage.image_id
        diff_ids: list[str] = []
        if parent:
            rootfs: dict[str, Any] = self.store.config(parent).get("rootfs") or {}
            diff_ids = list(rootfs.get("diff_ids") or [])
        tars = [self.store.blob_path(d) for d in diff_ids]
        tmp_tar = None
        created = now_rfc3339()
        entry: dict[str, Any] = {"created": created, "created_by": " ".join(key["Cmd"])}
        try:
            if tar:  # packed already (a rootless step, in the user's namespace): ours to remove
                tmp_tar = tar
                tars.append(tar)
            elif upper is not None and os.listdir(upper):
                from dockerlab.engine.images.archive import pack_dir

                os.makedirs(self.engine.paths.tmp, exist_ok=True)
                fd, tmp_tar = tempfile.mkstemp(
                    prefix=work_prefix("layer"), suffix=".tar", dir=self.engine.paths.tmp
                )
                with os.fdopen(fd, "wb") as f:
                    pack_dir(upper, f)
                tars.append(tmp_tar)
            else:
                entry["empty_layer"] = True
            config = {
                k: v
                for k, v in image.items()
                if k not in ("rootfs", "container_config", "container")
            }
            config.setdefault("architecture", _arch())
            config.setdefault("os", "linux")
            config["created"] = created
            config["container"] = cid
            config["container_config"] = key
            config["docker_version"] = "dockerlab"
            config["history"] = [*(image.get("history") or []), entry]
            image_id = self.store.create(tars, config, parent=parent)
        finally:
            if tmp_tar:
                os.unlink(tmp_tar)
            if cid and self.rm:
                self._remove(cid)
        stage.image_id = image_id
        stage.image = copy.deepcopy(config)
        stage.image.pop("container_config", None)
        yield BuildEvent("stream", f" ---> {_short(image_id)}\n")

    def _remove(self, cid: str) -> None:
        try:
            self.engine.remove(cid, force=True, volumes=True)
        except DockerlabError:
            pass

    # ---- RUN -------------------------------------------------------------------------------
    def _run(self, stage: Stage, ins: Instruction) -> Iterator[BuildEvent]:
        if stage.image_id is None:
            raise BuildFailed(
                "failed to create the build container: no command can run in "
                "an empty (scratch) image"
            )
        run_cmd = list(ins.args) if ins.json else [*stage.shell, ins.args[0]]
        args = stage.run_args()
        for a in args:
            self.consumed.add(a.partition("=")[0])
        save_cmd = [f"|{len(args)}", *args, *run_cmd] if args else run_cmd
        key = self._key(stage, save_cmd)
        hit = list(self._hit(stage, key))
        if hit:
            yield from hit
            return
        env = list(stage.config.get("Env") or []) + args
        cid = self._container(stage, run_cmd, stage.config, env)
        yield BuildEvent("stream", f" ---> Running in {cid[:12]}\n")
        ok = False
        try:
            att = self.engine.start(cid, attach="oe")
            assert att is not None
            try:
                from dockerlab.engine.runtime.streams import STDOUT

                while (item := att.read()) is not None:
                    kind = "stdout" if item[0] == STDOUT else "stderr"
                    yield BuildEvent(kind, item[1].decode("utf-8", "replace"))
                code = int((att.exit or {}).get("ExitCode", -1))
            finally:
                att.close()
            self.engine.wait(cid)
            if code != 0:
                raise BuildFailed(
                    f"The command '{' '.join(run_cmd)}' returned a non-zero code: {code}", code
                )
            ok = True
        finally:
            if not ok and self.force_rm:
                self._remove(cid)
        upper = os.path.join(self.engine.paths.layer(cid), "diff")
        from dockerlab.engine.containers.store import Container

        container = Container(self.engine.paths, cid)
        if (container.config.get("Runtime") or {}).get("Driver") == "vfs":  # a full copy
            from dockerlab.engine.storage import vfs

            upper = vfs.changes_folder(container, upper + ".vfs")  # (goes with the container)
        yield from self._commit(stage, key, cid, upper)

    # ---- WORKDIR ---------------------------------------------------------------------------
    def _workdir(self, stage: Stage, ins: Instruction) -> Iterator[BuildEvent]:
        path = self._word(stage, ins.args[0])
        current = stage.config.get("WorkingDir") or "/"
        path = posixpath.normpath(posixpath.join(current, path))
        new_config = copy.deepcopy(stage.config)
        new_config["WorkingDir"] = path
        cmd = [*stage.shell, f"#(nop) WORKDIR {path}"]
        key = self._key(stage, cmd, new_config)
        hit = list(self._hit(stage, key))
        if hit:
            yield from hit
            return
        cid = ""
        if stage.image_id:
            cid = self._container(stage, cmd, new_config)
            yield BuildEvent("stream", f" ---> Running in {cid[:12]}\n")
        from dockerlab.engine.build.copy import _make_dirs, writable_root

        stage.image["config"] = new_config
        if userns.needed():
            tar = self._fs_inside("workdir", stage, {"path": path})
            yield from self._commit(stage, key, cid, None, tar=tar or None)
            return
        with writable_root(self._lowers(stage.image_id), self.engine.paths.tmp) as (root, up):
            _make_dirs(root, path, (0, 0))
            yield from self._commit(stage, key, cid, up)

    def _lowers(self, image_id: str | None) -> list[str]:
        return self.store.lowerdirs(image_id) if image_id else []

    def _fs_inside(self, op: str, stage: Stage | None, spec: dict[str, Any]) -> str:
        """A step's files in the rootless user's namespace (build/copy.step_inside)."""
        lowers = self._lowers(stage.image_id) if stage is not None else []
        os.makedirs(self.engine.paths.tmp, mode=0o700, exist_ok=True)
        fd, out = tempfile.mkstemp(
            prefix=work_prefix("layer"), suffix=".tar", dir=self.engine.paths.tmp
        )
        os.close(fd)
        full = {"tmp": self.engine.paths.tmp, "lowers": lowers, "out": out, **spec}
        got = ""
        try:
            got = userns.call("build_fs", self.engine.paths.root, [op, full])
        finally:
            if got != out:
                os.unlink(out)
        return str(got)

    # ---- COPY / ADD ------------------------------------------------------------------------
    def _copy(self, stage: Stage, ins: Instruction) -> Iterator[BuildEvent]:
        from dockerlab.engine.build import copy as cp

        what = ins.cmd.upper()
        words = [self._word(stage, w) for w in ins.args]
        srcs, dest = words[:-1], words[-1]
        if ins.cmd == "add":
            for s in srcs:
                if s.startswith(("http://", "https://")):
                    raise BuildFailed(
                        f"ADD failed: cannot download {s}: dockerlab builds "
                        "offline, so ADD of a URL is not supported; download "
                        "it into the build context and ADD or COPY it from "
                        "there"
                    )
        if dest.strip() == "":
            raise BuildFailed(f"{what} failed: destination can not be empty")
        workdir = stage.config.get("WorkingDir") or "/"
        full_dest = (
            dest
            if dest.startswith("/")
            else posixpath.join(workdir, dest)
            + (
                "/"
                if dest.endswith("/") and not posixpath.join(workdir, dest).endswith("/")
                else ""
            )
        )
        source_from = ins.flags.get("from")
        chown = ins.flags.get("chown", "")
        if source_from:
            yield from self._copy_from_image(stage, ins, source_from, srcs, dest, full_dest, chown)
            return
        ctx = self.ctx

        def excluded_below(src_path: str, rel: str) -> bool:
            full = os.path.relpath(os.path.join(src_path, rel), ctx.root)
            return ctx.excluded(full)

        sources = cp.find_sources(ctx.root, srcs, ctx.walk, ctx.excluded, what)
        digest = cp.content_hash(sources, excluded_below)
        yield from self._copy_step(
            stage, ins, sources, digest, dest, full_dest, chown, excluded_below
        )

    def _copy_from_image(
        self,
        stage: Stage,
        ins: Instruction,
        source_from: str,
        srcs: list[str],
        dest: str,
        full_dest: str,
        chown: str,
    ) -> Iterator[BuildEvent]:
        from dockerlab.engine.build import copy as cp

        src_stage = next(
            (
                s
                for s in self.stages[:-1]
                if s.name == source_from.lower() or str(s.index) == source_from
            ),
            None,
        )
        if src_stage is not None:
            image_id = src_stage.image_id
        else:
            try:
                image_id = self.store.resolve(source_from)
            except (NoSuchImage, InvalidParameter) as exc:
                raise BuildFailed(f"invalid from flag value {source_from}: {exc}") from exc
        lowers = self._lowers(image_id)
        if userns.needed():
            what = ins.cmd.upper()
            spec = {"from": lowers, "srcs": srcs, "what": what}
            digest = self._fs_inside("hash", None, spec)
            yield from self._copy_step(
                stage, ins, [], digest, dest, full_dest, chown, lambda _p, _r: False, spec
            )
            return
        with (
            cp.readable_root(lowers, self.engine.paths.tmp)
            if lowers
            else _empty_dir(self.engine.paths.tmp) as root
        ):
            sources = cp.find_sources(
                root, srcs, lambda: cp.walk_names(root), lambda _rel: False, ins.cmd.upper()
            )
            digest = cp.content_hash(sources, lambda _p, _r: False)
            yield from self._copy_step(
                stage, ins, sources, digest, dest, full_dest, chown, lambda _p, _r: False
            )

    def _copy_step(
        self,
        stage: Stage,
        ins: Instruction,
        sources: list[Source],
        digest: str,
        dest: str,
        full_dest: str,
        chown: str,
        excluded_below: ExcludedBelow,
        from_spec: dict[str, Any] | None = None,
    ) -> Iterator[BuildEvent]:
        from dockerlab.engine.build import copy as cp

        what = ins.cmd.upper()
        prefix = f"--chown={chown}" if chown else ""
        if ins.flags.get("from"):
            prefix = f"--from={ins.flags['from']} " + prefix
        cmd = [*stage.shell, f"#(nop) {what} {prefix}{digest} in {dest} "]
        key = self._key(stage, cmd)
        hit = list(self._hit(stage, key))
        if hit:
            yield from hit
            return
        if userns.needed():  # in the user's namespace: owners as the container sees them
            spec: dict[str, Any] = {
                "dest": full_dest,
                "chown": chown,
                "what": what,
                "shown": dest,
                "unpack": ins.cmd == "add",
            }
            if from_spec is not None:
                spec.update(from_spec)
            else:
                matcher = self.ctx.matcher
                spec.update(
                    sources=[(s.path, s.name) for s in sources],
                    context=self.ctx.root,
                    patterns=matcher.raw if matcher is not None else [],
                )
            tar = self._fs_inside("copy", stage, spec)
            yield from self._commit(stage, key, "", None, tar=tar or None)
            return
        with cp.writable_root(self._lowers(stage.image_id), self.engine.paths.tmp) as (root, up):
            owner = cp.lookup_owner(root, chown) if chown else (0, 0)
            try:
                cp.copy_sources(
                    sources, root, full_dest, owner, excluded_below, what, unpack=ins.cmd == "add"
                )
            except OSError as exc:
                raise BuildFailed(
                    f"{what} failed: {exc.strerror or exc}: {exc.filename or dest}"
                ) from exc
            yield from self._commit(stage, key, "", up)


class _empty_dir:
    def __init__(self, tmp: str) -> None:
        self.tmp = tmp

    def __enter__(self) -> str:
        os.makedirs(self.tmp, exist_ok=True)
        self.path = tempfile.mkdtemp(prefix=work_prefix("empty"), dir=self.tmp)
        return self.path

    def __exit__(self, *exc: object) -> None:
        os.rmdir(self.path)


def _arch() -> str:
    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
