"""An attached container as the streaming verbs follow it (shared by the port and the verbs)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing stays off the `run` path
if TYPE_CHECKING:
    from typing import Any


class Session:
    """An attached container, as a verb follows it or hands it to a terminal's console."""

    def __init__(
        self,
        engine: Any,
        cid: str,
        att: Any,
        *,
        stdin: bool,
        tty: bool,
        label: str = "",
        sig_proxy: bool = True,
        detach_keys: str = "ctrl-p,ctrl-q",
    ) -> None:
        self.engine = engine
        self.cid = cid
        self.att = att
        self.stdin = stdin
        self.tty = tty
        self.label = label
        self.sig_proxy = sig_proxy
        self.detach_keys = detach_keys
