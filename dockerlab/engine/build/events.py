"""What a build reports while it runs, and how it fails."""

from __future__ import annotations

from typing import Any

from dockerlab.errors import DockerlabError


class BuildEvent:
    """One piece of build output.

    ``kind`` is ``"context"`` (``Sending build context to Docker daemon  2.048kB``: Docker's
    client prints it), ``"stream"`` (a builder line such as ``Step 2/6 : RUN …``, ending
    with a newline), ``"stdout"``/``"stderr"`` (a RUN's output as it comes), ``"warning"``,
    or ``"aux"`` (``image_id`` holds the built image's ID, ``sha256:…``).
    """

    __slots__ = ("image_id", "kind", "text")

    def __init__(self, kind: str, text: str = "", image_id: str = "") -> None:
        self.kind, self.text, self.image_id = kind, text, image_id

    def __repr__(self) -> str:
        extra = f", {self.image_id}" if self.image_id else ""
        return f"BuildEvent({self.kind!r}, {self.text!r}{extra})"

    def to_api(self) -> dict[str, Any]:
        """The JSON message Docker's ``POST /build`` streams for this event."""
        if self.kind == "aux":
            return {"aux": {"ID": self.image_id}}
        if self.kind == "stderr":
            return {"stream": f"\x1b[91m{self.text}\x1b[0m"}
        return {"stream": self.text}


class BuildFailed(DockerlabError):
    """A step failed after the build started (``The command '…' returned a non-zero code:
    1``, ``COPY failed: …``); Docker's CLI exits with the step's status (``exit_code``)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_status = exit_code
