"""Legacy links (``--link name[:alias]``) on the default bridge, as Docker 20.10's.

A link is kept in the parent's config as ``LinkIds`` (``[[child id, alias, child name],
...]``: a rename of either side keeps it) and shown in inspect as ``HostConfig.Links``
(``/child:/parent/alias``, the names of now). As in Docker 20.10, removing the child does
not end the link: the parent then cannot start (nor ``exec``) until it is removed too.
At each start of the parent (and each ``exec``) the child must run on the default bridge;
the parent gets one hosts record per link (``IP<TAB>alias childHostname [childName]``) and
the ``ALIAS_*`` variables of ``daemon/links`` (:func:`link_env`), which its ``-e``
overrides. When a child starts again
its running parents' hosts records get its new address (``etchosts.Update``): the children
know their parents through ``<root>/network/links/<child>/<parent>`` marks, made at the
parent's create and dropped with either side.

A parent on ``--network none`` gets neither records nor variables (Docker keeps the link
and ignores it); ``host`` and ``container:`` parents are refused at create.
"""

from __future__ import annotations

from dockerlab.errors import Conflict, InvalidParameter, NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockerlab.engine.containers.store import Container, ContainerStore

HOST_AND_LINKS = (
    "conflicting options: host type networking can't be used with links. This would result "
    "in undefined behavior"
)
CONTAINER_AND_LINKS = (
    "conflicting options: container type network can't be used with links. This would "
    "result in undefined behavior"
)


# ---- pure ---------------------------------------------------------------------------------
def parse_link(text: str) -> tuple[str, str]:
    """``opts.ParseLink``: ``name[:alias]`` -> (name, alias); ``/name:/parent/alias`` (as
    inspect shows a link) is read too. ValueError with the CLI's words."""
    if text == "":
        raise ValueError("empty string specified for links")
    parts = text.split(":")
    if len(parts) > 2:
        raise ValueError(f"bad format for links: {text}")
    if len(parts) == 1:
        return text, text
    if parts[0].startswith("/"):
        return parts[0][1:], parts[1].rpartition("/")[2]
    return parts[0], parts[1]


def env_prefix(alias: str) -> str:
    return alias.upper().replace("-", "_")


def _sorted_ports(exposed: dict[str, Any] | list[str] | None) -> list[tuple[int, str]]:
    """Exposed ports as (number, proto), 20.10's order: by number, tcp first on a tie."""
    ports = []
    for key in exposed or []:
        number, _, proto = str(key).partition("/")
        try:
            ports.append((int(number), (proto or "tcp").lower()))
        except ValueError:
            continue
    return sorted(ports, key=lambda p: (p[0], p[1] != "tcp", p[1]))


def _next_contiguous(ports: list[tuple[int, str]], value: int, index: int) -> int:
    if index + 1 == len(ports):
        return index
    for i in range(index + 1, len(ports)):
        if ports[i][0] > value + 1:
            return i - 1
        value += 1
    return len(ports) - 1


def link_env(
    name: str, child_ip: str, child_env: list[str] | None, exposed: dict[str, Any] | None
) -> list[str]:
    """``Link.ToEnv`` of daemon/links (20.10): ``name`` is ``/parent/alias``."""
    alias = env_prefix(name.rpartition("/")[2])
    ports = _sorted_ports(exposed)
    env = []
    if ports:
        number, proto = ports[0]
        env.append(f"{alias}_PORT={proto}://{child_ip}:{number}")
    i = 0
    while i < len(ports):
        number, proto = ports[i]
        j = _next_contiguous(ports, number, i)
        if j > i + 1:
            key = f"{alias}_PORT_{number}_{proto.upper()}"
            env += [
                f"{key}_START={proto}://{child_ip}:{number}",
                f"{key}_ADDR={child_ip}",
                f"{key}_PROTO={proto}",
                f"{key}_PORT_START={number}",
            ]
            last, last_proto = ports[j]
            end = f"{alias}_PORT_{number}_{last_proto.upper()}"
            env += [
                f"{end}_END={last_proto}://{child_ip}:{last}",
                f"{end}_PORT_END={last}",
            ]
            i = j + 1
        else:
            i += 1
    for number, proto in ports:
        key = f"{alias}_PORT_{number}_{proto.upper()}"
        env += [
            f"{key}={proto}://{child_ip}:{number}",
            f"{key}_ADDR={child_ip}",
            f"{key}_PORT={number}",
            f"{key}_PROTO={proto}",
        ]
    env.append(f"{alias}_NAME={name}")
    for item in child_env or []:
        key, eq, value = item.partition("=")
        if not eq or key in ("HOME", "PATH"):
            continue
        env.append(f"{alias}_ENV_{key}={value}")
    return env


def host_names(alias: str, child_hostname: str, child_name: str) -> str:
    """The names of a link's hosts record: the child's name only when it is not the alias."""
    names = f"{alias} {child_hostname}"
    return names if alias == child_name else f"{names} {child_name}"


# ---- at create ----------------------------------------------------------------------------
def register(store: ContainerStore, links: list[str], network: str) -> list[list[str]]:
    """The children of ``links`` (HostConfig.Links) as ``[[id, alias, name], ...]``, checked as
    the daemon's ``registerLinks``: each must exist and must not be on the host's network.
    An empty alias is dropped without a word (Docker's name reservation fails quietly)."""
    from dockerlab.errors import NoSuchContainer

    if network == "host" and links:
        raise InvalidParameter(HOST_AND_LINKS)
    if network.startswith("container:") and links:
        raise InvalidParameter(CONTAINER_AND_LINKS)
    out: list[list[str]] = []
    for text in links:
        try:
            name, alias = parse_link(text)
        except ValueError as exc:
            raise InvalidParameter(str(exc)) from None
        if not name:
            raise InvalidParameter('could not get container for : invalid name or ID supplied: ""')
        try:
            child = store.find(name)
        except NoSuchContainer as exc:
            raise NotFound(f"could not get container for {name}: {exc}") from None
        if child.config["HostConfig"].get("NetworkMode") == "host":
            raise InvalidParameter(HOST_AND_LINKS)
        if alias and all(a != alias for _, a, _ in out):
            out.append([child.id, alias, child.config["Name"]])
    return out


# ---- at start and exec --------------------------------------------------------------------
def _bridge_ip(c: Container) -> str:
    return str((c.state.get("Network") or {}).get("IPAddress") or "")


def on_bridge(c: Container) -> bool:
    return c.config["HostConfig"].get("NetworkMode") in ("default", "bridge")


def children(store: ContainerStore, c: Container) -> list[tuple[str, Container | str]]:
    """(alias, child) for each link; the child's last name when it was removed."""
    out: list[tuple[str, Container | str]] = []
    for cid, alias, name in c.config.get("LinkIds") or []:
        child = store.load(cid)
        if child is not None:
            try:
                child.refresh()
            except NotFound:
                child = None
        out.append((alias, child if child is not None else name))
    return out


def gather(store: ContainerStore, c: Container) -> tuple[list[tuple[str, str]], list[str]]:
    """The parent's link hosts records (names, ip) and variables, or Docker's error: a child
    not on the default bridge, then a child not running. Nothing for a parent that is not
    on the default bridge."""
    if not on_bridge(c) or not c.config.get("LinkIds"):
        return [], []
    kids = children(store, c)
    for _, child in kids:
        if not isinstance(child, str) and not on_bridge(child):
            raise InvalidParameter(
                f"Cannot link to {child.config['Name']}, as it does not belong to the "
                "default network"
            )
    records, env = [], []
    for alias, child in kids:
        full = f"{c.config['Name']}/{alias}"
        if isinstance(child, str):  # removed: Docker's link index still holds it, stopped
            raise Conflict(f"Cannot link to a non running container: {child} AS {full}")
        ip = _bridge_ip(child)
        if not child.running or not ip:
            raise Conflict(
                f"Cannot link to a non running container: {child.config['Name']} AS {full}"
            )
        cfg = child.config["Config"]
        records.append((host_names(alias, cfg.get("Hostname") or "", child.name), ip))
        env += link_env(full, ip, cfg.get("Env"), cfg.get("ExposedPorts"))
    return records, env


def exec_env(c: Container) -> list[str]:
    """The link variables as ``exec`` computes them again (the children's addresses now)."""
    if not c.config.get("LinkIds"):
        return []
    from dockerlab.engine.containers.store import ContainerStore

    return gather(ContainerStore(c.paths), c)[1]


def inspect_links(c: Container) -> list[str] | None:
    """HostConfig.Links as inspect shows it: ``/child:/parent/alias``, current names."""
    from dockerlab.engine.containers.store import Container as _Container

    out = []
    for cid, alias, last in c.config.get("LinkIds") or []:
        try:
            name = _Container(c.paths, cid).config["Name"]
        except (FileNotFoundError, NotADirectoryError, KeyError, TypeError):
            name = last  # removed: Docker still shows it
        out.append(f"{name}:{c.config['Name']}/{alias}")
    return out or None


def update_parents(store: ContainerStore, child: Container) -> None:
    """The child got a (new) address: rewrite its records in its parents' hosts files
    (see :func:`.runfiles.update_parents`; no parent's lock is taken: a start of the parent
    takes them in the reverse order)."""
    from dockerlab.engine.network.runfiles import update_parents as update

    ip = _bridge_ip(child)
    if ip:
        update(store.paths, child.id, ip)
