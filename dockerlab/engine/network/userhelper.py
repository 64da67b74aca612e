"""The helper of :func:`dockerlab.engine.network.usermode.delegate`: a network verb on a
running rootless container (``connect``, ``disconnect``) or a network's bridge
(``drop_bridge``), done inside the user's namespaces: it joins the holder's user and mount
namespaces (we own them) and runs root mode's code in a thread in the user's network
namespace, where it is root. Its answer is one JSON object on stdout. Run as a script, never
imported (it imports the container store, which imports the network).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _helper(argv: list[str]) -> None:
    """``python -I -S userhelper.py PKGDIR ROOT RUN VERB ARGS-JSON``."""
    import json
    import sys

    sys.path.insert(0, argv[0])
    root, run, verb, args = argv[1], argv[2], argv[3], json.loads(argv[4])
    answer: dict[str, Any] = {"ok": True}
    try:
        from dockerlab.engine.network.usermode import _join, holder, in_user_netns
        from dockerlab.engine.runtime import linux as L

        L.load()
        pid = holder(run)
        if not pid or not _join(L, pid):
            raise RuntimeError("rootless mode: this user's network namespace is gone")
        from dockerlab.engine.containers.store import ContainerStore
        from dockerlab.engine.network import networks
        from dockerlab.engine.paths import Paths

        store = ContainerStore(Paths(root, run))  # as the namespace's root: root mode's path
        in_user_netns(run, getattr(networks, verb), store, *args)
    except Exception as exc:  # noqa: BLE001 - told to the caller in its words
        message = str(exc)
        if isinstance(exc, OSError):
            from dockerlab.errors import describe

            message = describe(exc)
        answer = {"kind": type(exc).__name__, "message": message}
    os.write(1, json.dumps(answer).encode())


if __name__ == "__main__":
    import sys

    _helper(sys.argv[1:])
