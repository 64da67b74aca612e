"""The event journal: what happened to containers, images and volumes, as ``docker events``
and the Engine API's ``GET /events`` report it.

    events/events.log     one Docker EventMessage per line (compact JSON), appended
    events/events.log.1   the generation before, kept until the next rotation

Each line is exactly the JSON ``GET /events`` streams (``status``/``id``/``from`` for
containers and images, ``Type``, ``Action``, ``Actor{ID, Attributes}``, ``scope``, ``time``,
``timeNano``), so a reader can pass it through.

**Writers** (any verb of any process: CLI, notebook kernel, monitor, exec helper) append one
line with one ``write`` on an ``O_APPEND`` descriptor, under a shared ``flock`` of the file:
lines of different processes never interleave. Once the file passes :data:`MAX_BYTES` the
writer that noticed takes the lock exclusively (so no append is half way) and renames it to
``events.log.1``; the generation before is dropped. Whoever then holds a descriptor of the old
file sees, under the lock, that the path names another file and reopens it, so nothing lands
in a rotated file after its rotation. The journal is thus at most about twice
:data:`MAX_BYTES`. Emitting never fails a verb: an event that cannot be written (a full disk)
is lost, as Docker's are when nobody listens.

**Readers** never lock. They parse line by line and skip what is not an event (a line cut by
a crash, garbage), recovering an event glued to a cut line. :func:`stream` is what ``GET
/events`` needs: the events already written between ``since`` and ``until``, then (unless
``until`` has passed) the new ones as they are appended, until ``until`` passes — woken by
inotify on the journal's folder, or polling its size where inotify is missing.

The writer half imports only what the monitor already has (``os``, ``time``, ``fcntl`` and
:mod:`~dockerlab.engine.basics`): the monitor (``die``, ``oom``) and the exec helper
(``exec_die``) emit too. Everything for reading is imported by the reader.

To emit from a verb: :func:`container` (``cfg`` is the container's config record: it gives
the image, name and labels), :func:`image`, :func:`volume`, or :func:`append` for any type.
"""

from __future__ import annotations

import fcntl
import os
import time

from dockerlab.engine.basics import dumps

TYPE_CHECKING = False  # typing stays off the monitor's path
if TYPE_CHECKING:
    from collections.abc import Generator, Iterator
    from typing import Any

    from dockerlab.engine.paths import Paths

MAX_BYTES = 2 << 20  # a generation; about 5 000 container events
FOLDER = "events"
JOURNAL = "events.log"


def journal_path(root: str) -> str:
    return os.path.join(root, FOLDER, JOURNAL)


# ---- writing ------------------------------------------------------------------------------


def container_attributes(
    cfg: dict[str, Any], extra: dict[str, str] | None = None
) -> dict[str, str]:
    """Docker's attributes of a container event: ``extra`` (``exitCode``, ``signal`` …), then
    the container's labels over them, then ``image`` (as the user named it) and ``name``."""
    attrs = dict(extra or {})
    config = cfg.get("Config") or {}
    attrs.update(config.get("Labels") or {})
    if config.get("Image"):
        attrs["image"] = config["Image"]
    attrs["name"] = (cfg.get("Name") or "").lstrip("/")
    return attrs


def container(
    paths: Paths, cfg: dict[str, Any], action: str, extra: dict[str, str] | None = None
) -> None:
    """A container event (``create``, ``start``, ``die`` with ``{"exitCode": "0"}`` …);
    ``cfg`` is the container's record (``config.v2.json``, or the monitor's spec)."""
    append(paths.root, "container", action, cfg.get("Id") or "", container_attributes(cfg, extra))


def image(
    paths: Paths,
    image_id: str,
    action: str,
    name: str = "",
    labels: dict[str, str] | None = None,
) -> None:
    """An image event: ``tag`` (``name`` is the new reference), ``untag``/``delete``/``save``/
    ``load``/``import`` (``name`` is the image ID, as Docker's); ``labels``: the image's."""
    attrs = dict(labels or {})
    attrs["name"] = name or image_id
    append(paths.root, "image", action, image_id, attrs)


def volume(paths: Paths, name: str, action: str, extra: dict[str, str] | None = None) -> None:
    """A volume event: ``create``/``destroy`` (``driver``), ``mount``/``unmount``."""
    append(paths.root, "volume", action, name, {"driver": "local", **(extra or {})})


def volume_mounts(paths: Paths, cfg: dict[str, Any], action: str) -> None:
    """``mount`` (as a container starts) or ``unmount`` (as it stops) of each of its volumes,
    with Docker's attributes."""
    for m in cfg.get("MountPoints") or []:
        if m.get("Type") != "volume" or not m.get("Name"):
            continue
        extra = {"container": cfg.get("Id") or ""}
        if action == "mount":
            extra["destination"] = m.get("Destination", "")
            extra["propagation"] = m.get("Propagation", "")
            extra["read/write"] = "true" if m.get("RW", True) else "false"
        volume(paths, m["Name"], action, extra)


def append(root: str, type_: str, action: str, actor_id: str, attributes: dict[str, str]) -> None:
    """Append one event to the journal of the state root ``root``; never raises for I/O."""
    now = time.time_ns()
    msg: dict[str, Any] = {}
    if type_ in ("container", "image"):  # the fields API < 1.22 had; omitted when empty
        if action:
            msg["status"] = action
        if actor_id:
            msg["id"] = actor_id
        if type_ == "container" and attributes.get("image"):
            msg["from"] = attributes["image"]
    msg["Type"] = type_
    msg["Action"] = action
    msg["Actor"] = {"ID": actor_id, "Attributes": {k: attributes[k] for k in sorted(attributes)}}
    msg["scope"] = "local"
    msg["time"] = now // 1_000_000_000
    msg["timeNano"] = now
    line = (dumps(msg) + "\n").encode("utf-8", "replace")
    try:
        _write(journal_path(root), line)
    except OSError:
        pass  # a full or read-only disk loses the event, never the verb


_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC


def _open_current(path: str) -> int:
    """The journal open for appending, with a shared lock, and still the file at ``path``."""
    while True:
        try:
            fd = os.open(path, _FLAGS, 0o600)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            fd = os.open(path, _FLAGS, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass  # rotated away while we waited for the lock: open the new one
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _write(path: str, line: bytes) -> None:
    fd = _open_current(path)
    try:
        written = os.write(fd, line)
        if written < len(line):  # a full disk cut it: end the fragment, readers skip it
            os.write(fd, b"\n")
        if os.lseek(fd, 0, os.SEEK_CUR) > MAX_BYTES:
            _rotate(fd, path)
    finally:
        os.close(fd)


def _rotate(fd: int, path: str) -> None:
    """(shared-locked) Rename the journal away once every append to it has finished."""
    fcntl.flock(fd, fcntl.LOCK_EX)  # waits for the other writers' appends
    try:
        current = os.stat(path)
    except FileNotFoundError:
        return
    mine = os.fstat(fd)
    if current.st_ino == mine.st_ino and mine.st_size > MAX_BYTES:  # nobody rotated it yet
        os.rename(path, path + ".1")


# ---- reading ------------------------------------------------------------------------------

#: the filter keys ``GET /events`` knows (moby's daemon/events/filter.go)
FILTER_KEYS = frozenset(
    {
        "config",
        "container",
        "daemon",
        "event",
        "image",
        "label",
        "network",
        "node",
        "plugin",
        "scope",
        "secret",
        "service",
        "type",
        "volume",
    }
)
# keys matched against the actor's ID or name, for events of every type (as the daemon does)
_BY_NAME: tuple[str, ...] = ("daemon", "container", "plugin", "volume", "network", "service")
_BY_NAME += ("node", "secret", "config")
_FUZZY_EVENTS = frozenset({"health_status", "exec_create", "exec_start"})
_STARTS = (b'{"status":', b'{"Type":')  # how a line of ours starts


def parse_line(raw: bytes) -> dict[str, Any] | None:
    """The event of one journal line, or None for anything else. An event whose line was
    glued to a line cut short (a writer killed mid-write) is recovered."""
    import json

    try:
        ev = json.loads(raw)
    except ValueError:
        starts = [raw.rfind(s) for s in _STARTS]
        start = max(starts)
        if start <= 0:
            return None
        try:
            ev = json.loads(raw[start:])
        except ValueError:
            return None
    if not (
        isinstance(ev, dict)
        and isinstance(ev.get("Type"), str)
        and isinstance(ev.get("Action"), str)
        and isinstance(ev.get("Actor"), dict)
        and isinstance(ev.get("timeNano"), int)
        and isinstance(ev["Actor"].get("Attributes") or {}, dict)
    ):
        return None
    return ev


class Filter:
    """``GET /events``' ``filters`` (``{key: [values]}``): OR within a key, AND across
    keys, with the daemon's matching rules (exact, prefix or ``key=value``)."""

    def __init__(self, filters: dict[str, list[str]] | None) -> None:
        from dockerlab.errors import InvalidParameter

        self.f = {k: set(v) for k, v in (filters or {}).items() if v}
        for key in filters or {}:
            if key not in FILTER_KEYS:
                # Docker 20.10 ignores an unknown key (moby#30735); its other filters refuse
                raise InvalidParameter(f"Invalid filter '{key}'")

    def _exact(self, key: str, value: str) -> bool:
        values = self.f.get(key)
        return not values or value in values

    def _fuzzy(self, key: str, value: str) -> bool:
        values = self.f.get(key)
        return not values or value in values or any(value.startswith(v) for v in values)

    def include(self, ev: dict[str, Any]) -> bool:
        actor = ev.get("Actor") or {}
        attrs = actor.get("Attributes") or {}
        action, kind, actor_id = ev.get("Action", ""), ev.get("Type", ""), actor.get("ID", "")
        events = self.f.get("event") or set()
        event_ok = (
            self._fuzzy("event", action) if events & _FUZZY_EVENTS else self._exact("event", action)
        )
        if not (
            event_ok
            and self._exact("type", kind)
            and self._exact("scope", ev.get("scope", ""))
            and self._labels(attrs)
            and self._image(kind, actor_id, attrs)
        ):
            return False
        name = attrs.get("name", "")
        return all(self._fuzzy(k, actor_id) or self._fuzzy(k, name) for k in _BY_NAME)

    def _labels(self, attrs: dict[str, str]) -> bool:
        wanted = self.f.get("label")
        if not wanted:
            return True
        if not attrs:
            return False
        for spec in wanted:
            key, eq, value = spec.partition("=")
            if key not in attrs or (eq and attrs[key] != value):
                return False
        return True

    def _image(self, kind: str, actor_id: str, attrs: dict[str, str]) -> bool:
        if not self.f.get("image"):
            return True
        name = attrs.get("name" if kind == "image" else "image", "")
        candidates = (actor_id, name, _strip_tag(actor_id), _strip_tag(name))
        return any(self._exact("image", v) for v in candidates)


def _strip_tag(ref: str) -> str:
    """The repository of a reference, familiar (``docker.io/library/busybox:1`` ->
    ``busybox``), as the daemon compares ``image=`` filters."""
    name = ref.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name = name[:colon]
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def parse_time(value: str | float | None, what: str = "since") -> int | None:
    """``since``/``until`` as the API takes them (``"1700000000"``, ``"1700000000.5"``,
    ``"1700000000.000000001"``, or a number of seconds) in nanoseconds; None when absent."""
    from dockerlab.errors import InvalidParameter

    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return int(round(value * 1_000_000_000))
    secs, dot, frac = value.partition(".")
    try:
        seconds = _go_int(secs)
        nanos = 0
        if dot:
            nanos = int(_go_int(frac) * 10 ** (9 - len(frac)))
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None
    return seconds * 1_000_000_000 + nanos


def _go_int(text: str) -> int:
    digits = text[1:] if text[:1] in "+-" else text
    if not digits or not digits.isascii() or not digits.isdigit():
        raise ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    return int(text)


class _Journal:
    """One generation of the journal, open for reading from ``pos``."""

    def __init__(self, fd: int, pos: int = 0) -> None:
        self.fd, self.pos, self.partial = fd, pos, b""

    @property
    def inode(self) -> int:
        return os.fstat(self.fd).st_ino

    def lines(self, end: int | None = None) -> Iterator[bytes]:
        """The whole lines from ``pos`` up to ``end`` (EOF with None); a line not yet ended
        waits in ``partial`` for the rest."""
        while end is None or self.pos < end:
            size = 1 << 20 if end is None else min(1 << 20, end - self.pos)
            chunk = os.pread(self.fd, size, self.pos)
            if not chunk:
                return
            self.pos += len(chunk)
            data = self.partial + chunk
            *complete, self.partial = data.split(b"\n")
            yield from complete


def _open_pair(path: str) -> tuple[_Journal | None, _Journal]:
    """(the previous generation or None, the current one), opened together: a rotation in
    between is seen (the previous one is then the current one) and the pair reopened."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    while True:
        cur = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            old: int | None = os.open(path + ".1", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            old = None
        if old is None or os.fstat(old).st_ino != os.fstat(cur).st_ino:
            return (_Journal(old) if old is not None else None), _Journal(cur)
        os.close(old)
        os.close(cur)


def stream(
    paths: Paths,
    since: str | float | None = None,
    until: str | float | None = None,
    filters: dict[str, list[str]] | None = None,
    follow: bool | None = None,
) -> Iterator[dict[str, Any]]:
    """``GET /events``: the events written between ``since`` and ``until`` (both given:
    either), then, when ``until`` is absent or still to come, the new ones as they happen
    until it passes (or until the consumer closes the iterator). ``follow=False`` gives the
    past events alone. Raises InvalidParameter (Docker's words) for a bad time or filter."""
    from dockerlab.errors import InvalidParameter

    since_ns, until_ns = parse_time(since, "since"), parse_time(until, "until")
    match = Filter(filters)
    if until_ns is not None and since_ns is not None and until_ns < since_ns:
        raise InvalidParameter(f"`since` time ({since}) cannot be after `until` time ({until})")
    if follow is None:
        follow = until_ns is None or until_ns >= time.time_ns()
    from typing import cast

    found = _stream(journal_path(paths.root), since_ns, until_ns, match, follow)
    return cast("Iterator[dict[str, Any]]", found)  # (no ticks: never None)


def subscribe(
    paths: Paths, filters: dict[str, list[str]] | None = None
) -> Generator[Any, None, None]:
    """The events appended from the first ``next()`` on, as they come, with None ("a
    tick") whenever nothing new was found: once when it starts following, then at least
    once a second — so a waiter can look at its container or give up between events."""
    return _stream(journal_path(paths.root), None, None, Filter(filters), True, ticks=True)


def stream_ticking(
    paths: Paths,
    since: str | float | None = None,
    until: str | float | None = None,
    filters: dict[str, list[str]] | None = None,
) -> Generator[Any, None, None]:
    """:func:`stream` for a server (the daemon's ``GET /events``): the same events, with
    None ("a tick") at least once a second while it waits for new ones, so the server can
    notice a client that went away. The journal is opened at the first ``next()``, which
    never blocks (it gives the first past event, or a tick)."""
    from dockerlab.errors import InvalidParameter

    since_ns, until_ns = parse_time(since, "since"), parse_time(until, "until")
    match = Filter(filters)
    if until_ns is not None and since_ns is not None and until_ns < since_ns:
        raise InvalidParameter(f"`since` time ({since}) cannot be after `until` time ({until})")
    follow = until_ns is None or until_ns >= time.time_ns()
    return _stream(journal_path(paths.root), since_ns, until_ns, match, follow, ticks=True)


def _stream(
    path: str,
    since: int | None,
    until: int | None,
    match: Filter,
    follow: bool,
    ticks: bool = False,
) -> Generator[dict[str, Any] | None, None, None]:
    old, cur = _open_pair(path)
    try:
        end = os.fstat(cur.fd).st_size
        if since is not None or until is not None:  # Docker sends past events only if asked
            past = [*(old.lines() if old else ()), *cur.lines(end)]
            for raw in past:
                ev = parse_line(raw)
                if ev is None or (since is not None and ev["timeNano"] < since):
                    continue
                if until is not None and ev["timeNano"] > until:
                    continue
                if match.include(ev):
                    yield ev
        cur.pos, cur.partial = end, b""
        if old is not None:
            os.close(old.fd)
            old = None
        if not follow:
            return
        yield from _follow(path, cur, until, match, ticks)
    finally:
        for j in (old, cur):
            if j is not None:
                try:
                    os.close(j.fd)
                except OSError:
                    pass


def _follow(
    path: str, cur: _Journal, until: int | None, match: Filter, ticks: bool = False
) -> Iterator[dict[str, Any] | None]:
    """(owns nothing) The events appended to ``cur`` and to the generations after it."""
    cur.pos = _line_start(cur.fd, cur.pos)
    watch = _Watch(os.path.dirname(path))

    def new_events() -> Iterator[dict[str, Any]]:
        for raw in cur.lines():
            ev = parse_line(raw)
            if ev is not None and (until is None or ev["timeNano"] <= until) and match.include(ev):
                yield ev

    try:
        while True:
            yield from new_events()
            try:
                rotated = os.stat(path).st_ino != cur.inode
            except FileNotFoundError:
                rotated = False  # renamed away, its successor not written yet
            if rotated:  # the old generation is complete: read its rest, go on with the new
                yield from new_events()
                between, after = _open_pair(path)
                missed: list[dict[str, Any]] = []
                if between is not None and between.inode != cur.inode:
                    # rotated again meanwhile: the generation in between, whole, first
                    os.close(cur.fd)
                    cur.fd, cur.pos, cur.partial = between.fd, 0, b""
                    missed = list(new_events())
                elif between is not None:
                    os.close(between.fd)
                os.close(cur.fd)
                cur.fd, cur.pos, cur.partial = after.fd, 0, b""
                yield from missed
                continue
            wait = 1.0
            if until is not None:
                left = (until - time.time_ns()) / 1e9
                if left < 0:
                    return
                wait = min(wait, left + 0.001)
            if ticks:
                yield None
            watch.wait(wait)
    finally:
        watch.close()


def _line_start(fd: int, pos: int) -> int:
    """``pos`` moved back to just after the last newline before it (a line being written
    when we looked is read whole later)."""
    while pos > 0:
        step = min(pos, 4096)
        i = os.pread(fd, step, pos - step).rfind(b"\n")
        if i >= 0:
            return pos - step + i + 1
        pos -= step
    return 0


class _Watch:
    """Wakes a follower when a file in the journal's folder changes: inotify (through
    ctypes), or a short sleep where it is unavailable (no CPU spent either way)."""

    def __init__(self, folder: str) -> None:
        from dockerlab.engine.runtime import linux as L

        self.fd = -1
        try:
            self.fd = L.inotify_init()
            L.inotify_watch(
                self.fd, folder, L.IN_MODIFY | L.IN_CREATE | L.IN_MOVED_TO | L.IN_MOVED_FROM
            )
        except (OSError, AttributeError):
            if self.fd >= 0:
                os.close(self.fd)
            self.fd = -1

    def wait(self, timeout: float) -> None:
        if self.fd < 0:
            time.sleep(min(timeout, 0.2))
            return
        import select

        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        if poller.poll(timeout * 1000):
            try:
                while os.read(self.fd, 65536):
                    pass
            except BlockingIOError:
                pass

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
