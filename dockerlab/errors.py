"""dockerlab's one exception tree.

Every error the engine raises is a :class:`DockerlabError`. Faces never branch on message
text: they branch on the category, and map it in exactly one place each —
:func:`exit_code` for the CLI and magics, ``DockerlabError.http_status`` for the API.

    DockerlabError                       500  engine failed
    ├── InvalidParameter                 400  bad flag value, bad name, bad reference
    │   └── UsageError                   400  bad command line (unknown flag, missing arg)
    ├── NotFound                         404
    │   ├── NoSuchContainer
    │   ├── NoSuchImage
    │   └── NoSuchVolume
    ├── Conflict                         409  name in use, container running, image in use
    ├── NotModified                      304  already started / already stopped
    ├── Forbidden                        403  missing privilege or kernel feature
    └── ContainerStartError              500  the container's process could not start
        ├── CommandNotFound              127
        └── CommandNotInvokable          126
"""

from __future__ import annotations


class DockerlabError(Exception):
    """Base of every error the engine raises; ``str(err)`` is Docker's message."""

    http_status = 500
    exit_code = 1


class InvalidParameter(DockerlabError):
    http_status = 400


class UsageError(InvalidParameter):
    """The command line itself is wrong; ``command`` names the verb for the help hint."""

    exit_code = 125

    def __init__(self, message: str, command: str = "") -> None:
        super().__init__(message)
        self.command = command


class NotFound(DockerlabError):
    http_status = 404


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
    http_status = 409


class NotModified(DockerlabError):
    http_status = 304


class Forbidden(DockerlabError):
    http_status = 403


class ContainerStartError(DockerlabError):
    """The container was created but its process did not start (Docker exits 125/126/127)."""

    exit_code = 125


class CommandNotFound(ContainerStartError):
    exit_code = 127


class CommandNotInvokable(ContainerStartError):
    exit_code = 126


# Verbs whose engine failures Docker's CLI reports with 125 rather than 1.
_RUN_VERBS = frozenset({"run", "create"})


def exit_code(err: DockerlabError, verb: str = "") -> int:
    """The CLI exit code for ``err`` raised while running ``verb`` (Docker's rules)."""
    if isinstance(err, (ContainerStartError, UsageError)):
        return err.exit_code
    if verb in _RUN_VERBS:
        return 125
    return err.exit_code
