"""``dockerlab network ls``'s rows (Docker's formatter.networkContext); the verbs' handlers
are in commands.py. Loaded only when ``network ls`` runs."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


NETWORKS_FORMAT = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
NETWORKS_HEADER = {
    "ID": "NETWORK ID",
    "Name": "NAME",
    "Driver": "DRIVER",
    "Scope": "SCOPE",
    "IPv6": "IPV6",
    "Internal": "INTERNAL",
    "Labels": "LABELS",
    "CreatedAt": "CREATED AT",
}


def go_time(rfc3339: str) -> str:
    """Go's ``time.Time.String()`` of a UTC RFC 3339 time with nanoseconds, as the
    network formatter prints ``CreatedAt``: ``2026-12-03 02:05:42.418574675 +0000 UTC``."""
    date, _, rest = rfc3339.partition("T")
    clock = rest.rstrip("Z")
    whole, dot, frac = clock.partition(".")
    frac = frac.rstrip("0")
    return f"{date} {whole}{'.' + frac if frac else ''} +0000 UTC"


class NetworkRow:
    """The ``docker network ls --format`` context of one network (formatter.networkContext)."""

    go_type = "*formatter.networkContext"

    def __init__(self, n: dict[str, Any], trunc: bool = True) -> None:
        self.n = n
        self.ID = n["Id"][:12] if trunc else n["Id"]
        self.Name = n["Name"]
        self.Driver = n["Driver"]
        self.Scope = n.get("Scope", "local")
        self.IPv6 = "true" if n.get("EnableIPv6") else "false"
        self.Internal = "true" if n.get("Internal") else "false"
        self.Labels = ",".join(f"{k}={v}" for k, v in (n.get("Labels") or {}).items())
        self.CreatedAt = go_time(n.get("Created", ""))

    def Label(self, name: str) -> str:
        return str((self.n.get("Labels") or {}).get(name, ""))
