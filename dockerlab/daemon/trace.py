"""What the daemon tells about each request: one log line, and with ``--trace`` the request
made visible (method, path, query, a summary of the body, status, time) — to the log and to
anyone following the trace feed (``GET /_dockerlab/trace``, read by the ``ApiTrace`` widget).
"""

from __future__ import annotations

import collections
import json
import queue
import threading
import time
from typing import Any, TextIO

MAX_SUMMARY = 200  # characters of a body summary
KEEP = 500  # recent records kept for a follower that joins late


# keys whose values never reach the log or the feed (moby's debug middleware masks the first
# five; a login's tokens and an AuthConfig's "auth" are credentials too)
SECRET_KEYS = frozenset({"password", "secret", "jointoken", "unlockkey", "signingcakey"})
SECRET_KEYS |= {"identitytoken", "registrytoken", "auth"}


def mask_secrets(value: Any) -> Any:
    """``value`` with every secret key's value (at any depth) replaced by ``*****``."""
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    if isinstance(value, dict):
        return {
            k: "*****" if str(k).lower() in SECRET_KEYS else mask_secrets(v)
            for k, v in value.items()
        }
    return value


def summarize(content_type: str, head: bytes, size: int) -> str:
    """A short, readable account of a request body from its first bytes (credentials
    masked; JSON that cannot be read and names one is not shown)."""
    if not size:
        return ""
    if "json" in content_type or head[:1] in (b"{", b"["):
        try:
            value = mask_secrets(json.loads(head))
        except ValueError:
            text = head[:MAX_SUMMARY].decode("utf-8", "replace")
            lowered = head.decode("utf-8", "replace").lower()
            if any(f'"{k}"' in lowered for k in SECRET_KEYS):
                return f"{size} bytes of JSON (not shown: it names a credential)"
            return text + ("…" if size > MAX_SUMMARY else "")
        if isinstance(value, dict):
            shown = {k: v for k, v in value.items() if v not in (None, "", [], {}, False)}
            text = json.dumps(shown, ensure_ascii=False, separators=(",", ":"))
        else:
            text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"
    kind = content_type or "application/octet-stream"
    return f"{size} bytes of {kind}"


class Tracer:
    """Collects one record per request; writes the log line; feeds the followers."""

    def __init__(self, log: TextIO, detailed: bool) -> None:
        self.log = log
        self.detailed = detailed
        self.recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=KEEP)
        self._followers: list[queue.Queue[dict[str, Any]]] = []
        self._lock = threading.Lock()

    def record(self, rec: dict[str, Any]) -> None:
        """``rec``: time, method, path, query, body, status, ms, peer, error (and
        ``untraced``: the trace feed's own request, which is not shown)."""
        if rec.pop("untraced", False):
            return
        stamp = time.strftime("%H:%M:%S", time.localtime(rec["time"]))
        line = f"{stamp} {rec['method']} {rec['path']}"
        if self.detailed and rec.get("query"):
            line += "?" + rec["query"]
        line += f" {rec['status']} {rec['ms']:.2f} ms"
        if rec.get("error"):
            line += f" ({rec['error']})"
        if self.detailed and rec.get("body"):
            line += f"\n    body: {rec['body']}"
        with self._lock:
            try:
                self.log.write(line + "\n")
                self.log.flush()
            except (OSError, ValueError):
                pass
            self.recent.append(rec)
            for q in self._followers:
                try:
                    q.put_nowait(rec)
                except queue.Full:  # a follower that does not read loses records, not us
                    pass

    def follow(self) -> queue.Queue[dict[str, Any]]:
        q: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=1000)
        with self._lock:
            self._followers.append(q)
        return q

    def unfollow(self, q: queue.Queue[dict[str, Any]]) -> None:
        with self._lock:
            if q in self._followers:
                self._followers.remove(q)
