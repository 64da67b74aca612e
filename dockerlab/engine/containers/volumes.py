"""Named volumes: ``volumes/<name>/_data`` plus a small metadata file, Docker's local driver."""

from __future__ import annotations

import os
import re

from dockerlab.engine import events
from dockerlab.engine.atomic import locked, read_json, write_json
from dockerlab.engine.paths import Paths
from dockerlab.errors import Conflict, InvalidParameter, NoSuchVolume

TYPE_CHECKING = False
if TYPE_CHECKING:
    import builtins
    from typing import Any

_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


class VolumeStore:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths

    def _meta(self, name: str) -> str:
        return os.path.join(self.paths.volume(name), "meta.json")

    def create(
        self,
        name: str | None = None,
        labels: dict[str, str] | None = None,
        anonymous: bool = False,
        options: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        if name is None:
            name = os.urandom(32).hex()
            anonymous = True
        if not _NAME_RE.match(name):
            raise InvalidParameter(
                f'create {name}: "{name}" includes invalid characters for a local volume name, '
                'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
                "directory, use absolute path"
            )
        if options:
            from dockerlab.engine.runtime.volmount import check_options

            problem = check_options(options)
            if problem:
                raise InvalidParameter(f"create {name}: {problem}")
        os.makedirs(self.paths.volumes, exist_ok=True)
        with locked(os.path.join(self.paths.volumes, ".lock")):
            if os.path.exists(self._meta(name)):
                return self.inspect(name)
            from dockerlab.engine.basics import time_now

            os.makedirs(os.path.join(self.paths.volume(name), "_data"), exist_ok=True)
            meta = {"CreatedAt": time_now(), "Labels": labels or {}, "Anonymous": anonymous}
            if options:  # mounted from these while containers use it (runtime/volmount.py)
                meta["Options"] = dict(sorted(options.items()))  # a Go map: sorted keys
            write_json(self._meta(name), meta)
            events.volume(self.paths, name, "create")
        return self.inspect(name)

    def inspect(self, name: str) -> dict[str, Any]:
        try:
            meta = read_json(self._meta(name))
        except FileNotFoundError:
            raise NoSuchVolume(name) from None
        labels = dict(meta.get("Labels") or {})
        if meta.get("Anonymous"):
            labels.setdefault("com.docker.volume.anonymous", "")
        return {
            "CreatedAt": meta["CreatedAt"],
            "Driver": "local",
            "Labels": labels,
            "Mountpoint": os.path.join(self.paths.volume(name), "_data"),
            "Name": name,
            "Options": meta.get("Options") or None,
            "Scope": "local",
        }

    def list(self) -> list[dict[str, Any]]:
        if not os.path.isdir(self.paths.volumes):
            return []
        out = []
        for name in sorted(os.listdir(self.paths.volumes)):
            if not name.startswith("."):
                try:
                    out.append(self.inspect(name))
                except NoSuchVolume:
                    pass
        return out

    def remove(self, name: str, users: builtins.list[str], force: bool = False) -> None:
        self.inspect(name)
        if users:
            raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
        import shutil

        from dockerlab.engine.runtime.volmount import release_all

        release_all(self.paths.volume(name))  # never rmtree through a mounted file system
        shutil.rmtree(self.paths.volume(name), ignore_errors=True)
        events.volume(self.paths, name, "destroy")

    def remove_quietly(self, name: str) -> None:
        import shutil

        existed = os.path.isdir(self.paths.volume(name))
        from dockerlab.engine.runtime.volmount import release_all

        release_all(self.paths.volume(name))

        shutil.rmtree(self.paths.volume(name), ignore_errors=True)
        if existed:
            events.volume(self.paths, name, "destroy")
