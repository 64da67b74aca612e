"""dockerlab's one exception tree, and the one boundary where foreign errors join it.

Every error the engine raises is a :class:`DockerlabError`; ``str(err)`` is Docker's message.
Faces never branch on message text: they branch on the category, mapped in exactly one place
each — :func:`exit_code` for the CLI and the magics, :func:`http_status` for the API.

    class                                     HTTP  what                                exit
    DockerlabError                            500   the engine failed                      1
    ├── InvalidParameter                      400   bad flag value, name, reference        1
    │   ├── ClientError                       400   refused by the client, printed as is   1
    │   │   ├── UsageError                    400   bad command line (flags)             125
    │   │   │   └── ArgCountError             400   wrong number of arguments (cobra)      1
    │   │   ├── format.gotemplate.TemplateError     a --format that does not parse or run
    │   │   └── daemon.server.DaemonError           ``dockerlab daemon`` cannot listen
    │   ├── engine.images.saveload.LoadError        an archive ``load`` refuses
    │   ├── engine.images.inflate.ExpansionError    an archive expanding past its bounds
    │   ├── engine.images.inflate.ZstdMissing       zstd data without the zstandard module
    │   ├── engine.images.archive.Breakout          an entry landing outside its folder
    │   ├── engine.build.parser.DockerfileParseError
    │   └── engine.runtime.security.seccomp.ProfileError
    ├── NotFound                              404
    │   ├── NoSuchContainer
    │   ├── NoSuchImage
    │   └── NoSuchVolume
    ├── Conflict                              409   name in use, container running, …
    ├── NotModified                           304   already started / already stopped
    ├── Forbidden                             403   missing privilege or kernel feature
    ├── SystemFailure                         500   the host refused: disk full, read-only
    ├── engine.images.ImageCorrupt            500   an image whose config cannot be read
    ├── engine.registry.client.RegistryError  500   a registry refused or cannot be reached
    │   ├── Unauthorized                            401/403 from a registry or its token server
    │   └── NotFoundError                           manifest unknown, blob unknown
    ├── engine.registry.credentials.CredentialsError   config.json or a credential helper
    ├── engine.build.BuildFailed              500   a build step failed           the step's
    │   └── engine.build.copy.CopyFailed            COPY failed: …
    └── ContainerStartError                   500   the container's process did not start 125
        ├── CommandNotFound                   400                                        127
        └── CommandNotInvokable               400                                        126

``run`` and ``create`` exit 125 where other verbs exit 1 (the client errors aside).

The boundary (as httpx's): :func:`boundary` wraps the public methods of the engine's objects
(and the iterators they return), so an ``OSError``, a tar, JSON, compression or Unicode error
raised inside becomes one of the classes above, naming the verb and chained with ``from``:
``commit: /var/lib/dockerlab/tmp/layer-…: no space left on device``. Only the outermost verb
converts (``run`` calling ``create`` names ``run``; the code of ``run`` sees ``create``'s raw
errors, as it was written to), and nothing past it prints ``[Errno 28]``.

(No imports beyond ``os``, ``sys`` and ``_thread``: the monitor's start path loads this module.)
"""

from __future__ import annotations

import _thread
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any, TypeVar

    T = TypeVar("T")


class DockerlabError(Exception):
    """Base of every error the engine raises; ``str(err)`` is Docker's message."""

    #: An exit status the failure carries from a process (a failed build step's command),
    #: which the CLI exits with; None for the rest, whose code :func:`exit_code` maps.
    exit_status: int | None = None

    @property
    def exit_code(self) -> int:
        """:func:`exit_code` of this error (outside ``run``/``create``)."""
        return exit_code(self)

    @property
    def http_status(self) -> int:
        return http_status(self)


class InvalidParameter(DockerlabError):
    pass


class ClientError(InvalidParameter):
    """Refused by the client before (or instead of) asking the engine: Docker's CLI prints
    these as they are, without "Error response from daemon"; ``command`` names the verb
    for a help hint."""

    def __init__(self, message: str, command: str = "") -> None:
        super().__init__(message)
        self.command = command


class UsageError(ClientError):
    """The command line itself is wrong (unknown flag, bad flag value, missing value)."""


class ArgCountError(UsageError):
    """Wrong number of positionals: Docker's cobra ``Args`` checks, which exit 1, not 125."""


class NotFound(DockerlabError):
    pass


class NoSuchContainer(NotFound):
    def __init__(self, ref: str) -> None:
        super().__init__(f"No such container: {ref}")
        self.ref = ref


class NoSuchImage(NotFound):
    def __init__(self, ref: str, message: str | None = None) -> None:
        super().__init__(message or f"No such image: {ref}")
        self.ref = ref


class NoSuchVolume(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"get {name}: no such volume")
        self.name = name


class Conflict(DockerlabError):
    pass


class NotModified(DockerlabError):
    pass


class Forbidden(DockerlabError):
    pass


class SystemFailure(DockerlabError):
    """The host refused what a verb needed (an ``OSError``): ``errno`` says which."""

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno


class ContainerStartError(DockerlabError):
    """The container was created but its process did not start (Docker exits 125/126/127)."""


class CommandNotFound(ContainerStartError):
    pass


class CommandNotInvokable(ContainerStartError):
    pass


# ---- the faces' mappings: one table each ----------------------------------------------------

# The first class ``err`` is an instance of gives the code (so subclasses come first).
_EXIT_CODES: tuple[tuple[type[DockerlabError], int], ...] = (
    (CommandNotFound, 127),
    (CommandNotInvokable, 126),
    (ContainerStartError, 125),
    (ArgCountError, 1),
    (UsageError, 125),
    (ClientError, 1),
)

# Verbs whose engine failures Docker's CLI reports with 125 rather than 1.
_RUN_VERBS = frozenset({"run", "create"})

# moby's errdefs → status (api/server/httpstatus); everything else is a 500.
_HTTP_STATUSES: tuple[tuple[type[DockerlabError], int], ...] = (
    (CommandNotFound, 400),  # moby's startInvalidConfigError (exit codes 127, 126)
    (CommandNotInvokable, 400),
    (NotModified, 304),
    (InvalidParameter, 400),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
)


def exit_code(err: DockerlabError, verb: str = "") -> int:
    """The CLI exit code for ``err`` raised while running ``verb`` (Docker's rules)."""
    if err.exit_status is not None:
        return err.exit_status
    for cls, code in _EXIT_CODES:
        if isinstance(err, cls):
            return code
    return 125 if verb in _RUN_VERBS else 1


def http_status(err: DockerlabError) -> int:
    """The HTTP status the API answers ``err`` with (moby's ``FromError``)."""
    for cls, status in _HTTP_STATUSES:
        if isinstance(err, cls):
            return status
    return 500


# ---- the boundary -------------------------------------------------------------------------

# Not failures but answers the caller expects: the reader of its own stream went away, or a
# timeout it set passed. They cross the boundary unchanged (the CLI ends quietly on EPIPE).
_SIGNALS = (BrokenPipeError, ConnectionResetError, TimeoutError, BlockingIOError, InterruptedError)


def describe(exc: OSError) -> str:
    """An ``OSError`` as Go's ``PathError`` words it, without the operation Python does not
    keep: ``/var/lib/dockerlab/image/lock: read-only file system`` (never ``[Errno 30]``)."""
    reason = exc.strerror
    if reason is None:
        reason = str(exc) or type(exc).__name__
    elif exc.errno and reason == os.strerror(exc.errno):
        reason = reason.lower()  # Go's syscall messages are lower-case
    names = [os.fsdecode(n) for n in (exc.filename, exc.filename2) if n is not None]
    return f"{' '.join(names)}: {reason}" if names else reason


def reason(exc: BaseException) -> str:
    """Any exception's message in Docker's words (an ``OSError`` as :func:`describe`)."""
    return describe(exc) if isinstance(exc, OSError) else str(exc)


def translate(exc: BaseException, verb: str) -> DockerlabError | None:
    """``exc`` as a :class:`DockerlabError` naming ``verb``; None for what is not foreign
    (our own errors, bugs, interrupts, :data:`_SIGNALS`), which goes on unchanged."""
    if isinstance(exc, DockerlabError) or not isinstance(exc, Exception):
        return None
    if isinstance(exc, _SIGNALS):
        return None
    if isinstance(exc, OSError):
        if exc.errno is None:  # a library's complaint about data (gzip, bz2), not the host's
            return InvalidParameter(f"{verb}: {exc}")
        return SystemFailure(f"{verb}: {describe(exc)}", exc.errno)
    if isinstance(exc, UnicodeError):
        return InvalidParameter(f"{verb}: {exc}")
    modules = sys.modules  # only what was imported can have raised: import nothing here
    tarfile = modules.get("tarfile")
    if tarfile is not None and isinstance(exc, tarfile.TarError):
        return InvalidParameter(f"{verb}: invalid tar archive: {exc or type(exc).__name__}")
    json = modules.get("json")
    if json is not None and isinstance(exc, json.JSONDecodeError):
        return DockerlabError(f"{verb}: invalid JSON: {exc}")
    for name, kind_name in (("zlib", "error"), ("lzma", "LZMAError")):
        kind = getattr(modules.get(name), kind_name, None)
        if kind is not None and isinstance(exc, kind):
            return InvalidParameter(f"{verb}: invalid {name} data: {exc}")
    if isinstance(exc, EOFError):  # a compressed stream cut short
        return InvalidParameter(f"{verb}: unexpected end of data: {exc}")
    return None


# How deep this thread is in guarded calls: a verb that calls another (``run`` → ``create``,
# a build's steps → ``start``) sees that verb's foreign errors raw, as its own code expects,
# and only the outermost converts them, naming what the caller asked for.
_calls = _thread._local()


def _guard(fn: Callable[..., Any], verb: str) -> Callable[..., Any]:
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if getattr(_calls, "depth", 0):
            return fn(*args, **kwargs)
        _calls.depth = 1
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            typed = translate(exc, verb)
            if typed is None:
                raise
            raise typed from exc
        finally:
            _calls.depth = 0
        if hasattr(type(result), "__next__"):  # a stream: failures come while iterating
            return guard_iter(result, verb)
        return result

    # functools.wraps, without importing functools on the monitor's path
    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(guarded, attr, getattr(fn, attr, None))
    guarded.__wrapped__ = fn  # type: ignore[attr-defined]
    return guarded


def guard_iter(it: Iterator[T], verb: str) -> Iterator[T]:
    """``it``, with what it raises while iterating translated as :func:`boundary` does."""
    try:
        while True:
            outer = getattr(_calls, "depth", 0)
            _calls.depth = 1
            try:
                item = next(it)
            except StopIteration:
                return
            except Exception as exc:
                if outer:
                    raise
                typed = translate(exc, verb)
                if typed is None:
                    raise
                raise typed from exc
            finally:
                _calls.depth = outer
            yield item
    finally:
        close = getattr(it, "close", None)
        if close is not None:  # the caller stopped early: let the stream clean up now
            close()


_FUNCTION = type(_guard)


def boundary(verb: str | None = None, init: str | None = None) -> Callable[[type[T]], type[T]]:
    """Class decorator: every public method of the class converts foreign errors (see
    :func:`translate`) as it returns, naming ``verb`` or else the method (``image_tag`` →
    "image tag"); iterators it returns convert what they raise too. With ``init``, the
    constructor does as well, naming ``init``."""

    def decorate(cls: type[T]) -> type[T]:
        for name, member in list(vars(cls).items()):
            if type(member) is not _FUNCTION:
                continue  # properties, static methods and class attributes are not verbs
            if name == "__init__" and init:
                setattr(cls, name, _guard(member, init))
            elif not name.startswith("_"):
                setattr(cls, name, _guard(member, verb or name.replace("_", " ")))
        return cls

    return decorate
