"""A container's network sandbox: its mode's rules, its name resolution files, its key.

- :func:`check_mode` is the daemon's ``validateNetMode`` (run at create, before anything
  else): ``container:<name|id>`` joins another container's namespace and takes none of the
  options that would set it up (hostname, links, DNS, hosts, MAC, ports), ``host`` takes no
  links and no MAC; then ``ExtraHosts`` are checked (``opts.ValidateExtraHost``).
- :func:`etc_files` makes, in the starter, the hosts file (all but the own line, which the
  monitor adds for the address it gets) and the resolv.conf of a start.
- The sandbox key (``NetworkSettings.SandboxKey``) is ``<run dir>/netns/<12 hex>``, a bind
  mount of the container's network namespace made by its monitor while it runs (as
  Docker's ``/var/run/docker/netns/<12>``), unmounted and removed when it stops.
"""

from __future__ import annotations

from dockerlab.errors import Conflict, InvalidParameter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockerlab.engine.containers.store import Container, ContainerStore

BAD_CONTAINER_MODE = "Invalid network mode: invalid container format container:<name|id>"


def joined(mode: str) -> str:
    """The container whose namespace ``container:<ref>`` joins ('' for other modes)."""
    return mode.partition(":")[2] if mode.startswith("container:") else ""


def check_mode(cfg: dict[str, Any], host: dict[str, Any]) -> None:
    """``validateNetMode`` and ``validateNetContainerMode``, in the daemon's order."""
    mode = host.get("NetworkMode") or ""
    if mode.startswith("container:") and not joined(mode):
        raise InvalidParameter(BAD_CONTAINER_MODE)
    container = mode.startswith("container:")
    if container:
        for present, what in (
            (cfg.get("Hostname"), "hostname and the network mode"),
            (host.get("Links"), ""),
            (host.get("Dns"), "dns and the network mode"),
            (host.get("ExtraHosts"), "custom host-to-IP mapping and the network mode"),
            (cfg.get("MacAddress"), "mac-address and the network mode"),
            (
                host.get("PortBindings") or host.get("PublishAllPorts"),
                "port publishing and the container type network mode",
            ),
            (cfg.get("ExposedPorts"), "port exposing and the container type network mode"),
        ):
            if present:
                if not what:
                    from dockerlab.engine.network.links import CONTAINER_AND_LINKS

                    raise InvalidParameter(CONTAINER_AND_LINKS)
                raise InvalidParameter(f"conflicting options: {what}")
    if mode == "host" and cfg.get("MacAddress"):
        raise InvalidParameter("conflicting options: mac-address and the network mode")
    if mode == "host" and host.get("Links"):
        from dockerlab.engine.network.links import HOST_AND_LINKS

        raise InvalidParameter(HOST_AND_LINKS)
    for spec in host.get("ExtraHosts") or []:
        problem = extra_host_problem(spec, daemon=True)
        if problem:
            raise InvalidParameter(problem)


def _go_quote(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)


def valid_ip(text: str) -> bool:
    """Go's ``net.ParseIP`` of ``text`` with its spaces trimmed (``ValidateIPAddress``)."""
    import ipaddress

    text = text.strip()
    if "%" in text:
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def extra_host_problem(spec: str, daemon: bool = False) -> str:
    """Why ``spec`` is no ``host:ip`` ('' when it is one): the daemon's 20.10 check
    (``daemon``, for API bodies) or the CLI's (:func:`normalize_extra_host`)."""
    if daemon:
        name, colon, ip = spec.partition(":")
        if not colon:
            return f"bad format for add-host: {_go_quote(spec)}"
        if ip != "host-gateway" and not valid_ip(ip):
            return f"invalid IP address in add-host: {_go_quote(ip)}"
        return ""
    try:
        normalize_extra_host(spec)
    except ValueError as exc:
        return str(exc)
    return ""


def normalize_extra_host(spec: str) -> str:
    """The CLI's ``ValidateExtraHost``: ``host:ip`` or ``host=ip``, an IPv6 address maybe in
    brackets, ``host-gateway``; sent as ``host:ip`` (ValueError with its words)."""
    name, eq, ip = spec.partition("=")
    if not eq:
        name, eq, ip = spec.partition(":")
    if not eq or not name or ":" in name:
        raise ValueError(f"bad format for add-host: {_go_quote(spec)}")
    if ip != "host-gateway":
        if len(ip) > 2 and ip[0] == "[" and ip[-1] == "]":
            ip = ip[1:-1]
        if not valid_ip(ip):
            raise ValueError(f"invalid IP address in add-host: {_go_quote(ip)}")
    return f"{name}:{ip}"


# ---- container:<ref> ----------------------------------------------------------------------
def resolve_joined(store: ContainerStore, host: dict[str, Any]) -> None:
    """At create: ``container:<ref>`` names the container by its full ID from now on."""
    ref = joined(host.get("NetworkMode") or "")
    if ref:
        host["NetworkMode"] = "container:" + store.find(ref).id


def joined_container(store: ContainerStore, c: Container) -> Container | None:
    """At start: the running container whose namespace ``c`` joins (None for other modes);
    Docker's error when it does not run. Its files and names become ``c``'s, as Docker's
    ``initializeNetworkingPaths`` (saved: inspect shows them afterwards)."""
    ref = joined(c.config["HostConfig"].get("NetworkMode") or "")
    if not ref:
        return None
    other = store.find(ref)
    if other.id == c.id:
        raise InvalidParameter("cannot join own network")
    if not other.running or not other.state.get("Pid"):
        raise Conflict(f"cannot join network of a non running container: {ref}")
    for key in ("HostsPath", "HostnamePath", "ResolvConfPath"):
        c.config[key] = other.config.get(key, "")
    c.config["Config"]["Hostname"] = other.config["Config"].get("Hostname", "")
    c.config["Config"]["Domainname"] = other.config["Config"].get("Domainname", "")
    c.save_config()
    return other


# ---- files --------------------------------------------------------------------------------
def etc_files(store: ContainerStore, c: Container) -> dict[str, Any]:
    """What the starter puts in the monitor's spec for the files of this start:
    ``EtcHosts`` (without the own line), ``EtcResolv`` and ``LinkEnv``; none for
    ``container:`` (the other's files are used)."""
    from dockerlab.engine.network import etcfiles, links

    host = c.config["HostConfig"]
    mode = host.get("NetworkMode") or "default"
    if mode.startswith("container:"):
        return {}
    kind = "bridge" if mode in ("default", "bridge") else mode
    gateway = (c.config.get("BridgeNetwork") or {}).get("Gateway", "")
    extra = etcfiles.extra_hosts(list(host.get("ExtraHosts") or []), gateway)
    link_records, link_env = links.gather(store, c)
    if kind == "host" and not extra:
        try:
            with open("/etc/hosts", "rb") as f:
                hosts = f.read()
        except OSError:
            hosts = b""
    else:
        hosts = etcfiles.HOSTS_HEAD + etcfiles.records(extra + link_records)
    resolv = etcfiles.container_resolv(
        etcfiles.read_host_resolv(),
        kind,
        list(host.get("Dns") or []),
        list(host.get("DnsSearch") or []),
        list(host.get("DnsOptions") or []),
    )
    return {"EtcHosts": hosts, "EtcResolv": resolv, "LinkEnv": link_env}
