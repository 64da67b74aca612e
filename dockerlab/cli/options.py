"""``run``/``create`` flags -> a Docker ``POST /containers/create`` body. Pure: no engine.

What Docker's CLI checks while parsing (sizes, CPUs, env files) fails as a usage error with
the CLI's text; what Docker's daemon checks (minimum memory, conflicting CPU options, volume
specifications, networks) fails as the engine's error category with the daemon's text, so
the CLI prints it after ``Error response from daemon:`` exactly as docker does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping

from dockerlab.cli.mounts import parse_mount, tmpfs_map
from dockerlab.engine.runtime.cgroups.devices import parse_device
from dockerlab.errors import ClientError, InvalidParameter, NotFound, UsageError
from dockerlab.format import parse_cpus, parse_ram

TYPE_CHECKING = False  # typing costs the CLI's start milliseconds
if TYPE_CHECKING:
    from typing import IO, Any

    from dockerlab.cli.parser import Namespace

MIN_MEMORY = 6 * 1024 * 1024
_WHITESPACE = " \t"
_VOLUME_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+\Z")
_MODES = frozenset(
    {
        "ro",
        "rw",
        "z",
        "Z",
        "nocopy",
        "consistent",
        "cached",
        "delegated",
        "shared",
        "rshared",
        "slave",
        "rslave",
        "private",
        "rprivate",
    }
)
_NETWORKS = frozenset({"default", "bridge", "host", "none"})
_MAC = re.compile(r"[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}\Z")  # 6 bytes


def refusal(message: str, command: str = "run") -> UsageError:
    """A run/create option the CLI itself rejects: ``dockerlab: <msg>.`` + the help hint."""
    if not message.endswith("."):
        message += "."
    return UsageError(f"dockerlab: {message}\nSee 'dockerlab {command} --help'.", command)


def cli_error(message: str, command: str = "run") -> UsageError:
    """An error of docker's own client (CLI 28 words it so): ``dockerlab: <msg>``, a blank
    line, then the help hint; exit 125."""
    return UsageError(
        f"dockerlab: {message}\n\nRun 'dockerlab {command} --help' for more information", command
    )


_RETRY_COUNT = re.compile(r"[+-]?[0-9]+\Z")


def parse_restart_policy(text: str) -> dict[str, Any]:
    """``--restart NAME[:COUNT]`` -> HostConfig.RestartPolicy (the CLI's
    ``opts.ParseRestartPolicy``; ValueError with its words); the name is checked by the
    engine, as the daemon does."""
    name, colon, count = text.partition(":")
    if colon and not name:
        raise ValueError("invalid restart policy format: no policy provided before colon")
    retries = 0
    if count:
        if not _RETRY_COUNT.match(count):
            raise ValueError(
                "invalid restart policy format: maximum retry count must be an integer"
            )
        retries = int(count)
    return {"Name": name, "MaximumRetryCount": retries}


def update_body(ns: Namespace) -> dict[str, Any]:
    """``update`` flags -> a ``POST /containers/{id}/update`` body (Docker's UpdateConfig)."""
    command = getattr(ns, "path", None) or "update"
    body: dict[str, Any] = {
        "CpusetCpus": ns.cpuset_cpus or "",
        "CpusetMems": ns.cpuset_mems or "",
        "CpuShares": ns.cpu_shares or 0,
        "Memory": _memory(ns.memory, "-m, --memory", command),
        "MemoryReservation": _memory(ns.memory_reservation, "--memory-reservation", command),
        "MemorySwap": _memory(ns.memory_swap, "--memory-swap", command),
        "CpuPeriod": ns.cpu_period or 0,
        "CpuQuota": ns.cpu_quota or 0,
        "NanoCpus": 0,
        "RestartPolicy": {"Name": "", "MaximumRetryCount": 0},
    }
    if ns.cpus is not None:
        try:
            body["NanoCpus"] = parse_cpus(ns.cpus, "--cpus")
        except ValueError as exc:
            raise UsageError(f"{exc}\nSee 'dockerlab {command} --help'.", command) from None
    if ns.pids_limit:
        body["PidsLimit"] = ns.pids_limit
    if ns.restart:
        try:
            body["RestartPolicy"] = parse_restart_policy(ns.restart)
        except ValueError as exc:
            raise ClientError(str(exc)) from None
    return body


def _flag_error(value: str, flag: str, reason: str, command: str) -> UsageError:
    return UsageError(
        f'invalid argument "{value}" for "{flag}" flag: {reason}\n'
        f"See 'dockerlab {command} --help'.",
        command,
    )


# Go's bufio.Scanner (Docker reads env files with one) stops at a line of 64 KiB: so does
# `--env-file /dev/zero`, which would otherwise be read until memory runs out.
_MAX_LINE = 64 * 1024


def _scan_lines(f: IO[bytes]) -> Iterator[bytes]:
    """bufio.ScanLines: lines without their "\n" (and a "\r" before it)."""
    while line := f.readline(_MAX_LINE + 1):
        body = line[:-1] if line.endswith(b"\n") else line
        if len(body) >= _MAX_LINE:
            raise ValueError("bufio.Scanner: token too long")
        yield body[:-1] if body.endswith(b"\r") else body


def parse_env_file(path: str, environ: Mapping[str, str]) -> list[str]:
    """opts.ParseEnvFile: ``KEY=VALUE`` as is, ``KEY`` alone takes the host's value if set."""
    lines: list[str] = []
    with open(path, "rb") as f:
        numbered = list(enumerate(_scan_lines(f), 1))
    for number, line_bytes in numbered:
        try:
            line = line_bytes.decode()
        except UnicodeDecodeError:
            raise ValueError(f"invalid utf8 bytes at line {number}: {line_bytes!r}") from None
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        name, eq, value = line.partition("=")
        name = name.lstrip(_WHITESPACE)
        if any(c in name for c in _WHITESPACE):
            raise ValueError(
                f"poorly formatted environment: variable '{name}' contains whitespaces"
            )
        if not name:
            raise ValueError(f"poorly formatted environment: no variable name on line '{line}'")
        if eq:
            lines.append(f"{name}={value}")
        elif name.strip() in environ:
            lines.append(f"{name.strip()}={environ[name.strip()]}")
    return lines


def environment(
    env_files: list[str], env: list[str], environ: Mapping[str, str], command: str = "run"
) -> list[str]:
    """Env files first, then ``-e``; ``-e NAME`` takes the host's value or is left out."""
    out: list[str] = []
    for path in env_files:
        try:
            out.extend(parse_env_file(path, environ))
        except OSError as exc:
            raise refusal(f"open {path}: {(exc.strerror or str(exc)).lower()}", command) from None
        except ValueError as exc:
            raise refusal(str(exc), command) from None
    for item in env:
        name, eq, _ = item.partition("=")
        if not name:
            raise _flag_error(item, "-e, --env", f"invalid environment variable: {item}", command)
        if eq:
            out.append(item)
        elif name in environ:
            out.append(f"{name}={environ[name]}")
    return out


def label_files(files: list[str], items: list[str], command: str = "run") -> list[str]:
    """``--label-file`` lines (read as env files are, but a bare ``KEY`` is dropped: no
    host value for labels), then ``-l``: Docker's ``ReadKVStrings``."""
    out: list[str] = []
    for path in files:
        try:
            out.extend(parse_env_file(path, {}))
        except OSError as exc:
            raise refusal(f"open {path}: {(exc.strerror or str(exc)).lower()}", command) from None
        except ValueError as exc:
            raise refusal(str(exc), command) from None
    return [*out, *items]


# go-units' ulimit names
_ULIMITS = frozenset(
    "core cpu data fsize locks memlock msgqueue nice nofile nproc rss rtprio rttime "
    "sigpending stack".split()
)


def _go_int64(text: str) -> int:
    """strconv.ParseInt(text, 10, 64), with its error text."""
    body = text[1:] if text[:1] in "+-" else text
    if not body.isdigit() or not body.isascii():
        raise ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise ValueError(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value


def parse_ulimit(value: str) -> dict[str, Any]:
    """go-units ``ParseUlimit``: ``name=soft[:hard]`` -> ``{Name, Soft, Hard}``."""
    name, eq, limits = value.partition("=")
    if not eq:
        raise ValueError(f"invalid ulimit argument: {value}")
    if name not in _ULIMITS:
        raise ValueError(f"invalid ulimit type: {name}")
    parts = limits.split(":")
    if len(parts) > 2:
        raise ValueError(
            f"too many limit value arguments - {limits}, can only have up to two, `soft[:hard]`"
        )
    hard = _go_int64(parts[1]) if len(parts) == 2 else None
    soft = _go_int64(parts[0])
    hard = soft if hard is None else hard
    if hard != -1 and soft > hard:
        raise ValueError(
            f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )
    return {"Name": name, "Hard": hard, "Soft": soft}  # go-units' field order


def ulimits(values: list[str], command: str = "run") -> list[dict[str, Any]]:
    """``--ulimit`` values, one per name (a later one replaces an earlier one)."""
    out: dict[str, dict[str, Any]] = {}
    for value in values:
        try:
            limit = parse_ulimit(value)
        except ValueError as exc:
            raise _flag_error(value, "--ulimit", str(exc), command) from None
        out[limit["Name"]] = limit
    return list(out.values())


_SYSCTLS = frozenset(
    "kernel.msgmax kernel.msgmnb kernel.msgmni kernel.sem kernel.shmall kernel.shmmax "
    "kernel.shmmni kernel.shm_rmid_forced".split()
)


def sysctls(values: list[str], command: str = "run") -> dict[str, str]:
    """``--sysctl`` (the CLI's ``ValidateSysctl``, Docker 20.10's words): only sysctls of a
    namespace the container has of its own."""
    out: dict[str, str] = {}
    for value in values:
        parts = value.split("=")
        if len(parts) < 2 or not (
            parts[0] in _SYSCTLS or parts[0].startswith(("net.", "fs.mqueue."))
        ):
            raise _flag_error(value, "--sysctl", f"sysctl '{value}' is not whitelisted", command)
        key, _, val = value.partition("=")
        out[key] = val
    return out


# containerd's platforms.Parse, for --platform
_OSES = frozenset(
    "aix android darwin dragonfly freebsd hurd illumos ios js linux nacl netbsd openbsd "
    "plan9 solaris windows zos".split()
)
_ARCHES = frozenset(
    "386 amd64 amd64p32 arm armbe arm64 arm64be ppc64 ppc64le loong64 mips mipsle mips64 "
    "mips64le mips64p32 mips64p32le ppc riscv riscv64 s390 s390x sparc sparc64 wasm".split()
)
_ARCH_ALIASES = {
    "i386": ("386", ""),
    "x86_64": ("amd64", ""),
    "x86-64": ("amd64", ""),
    "aarch64": ("arm64", ""),
    "armhf": ("arm", "v7"),
    "armel": ("arm", "v6"),
}
_COMPONENT = re.compile(r"[A-Za-z0-9_-]+\Z")


def _normalize_arch(arch: str, variant: str) -> tuple[str, str]:
    arch, variant = arch.lower(), variant.lower()
    arch, implied = _ARCH_ALIASES.get(arch, (arch, ""))
    variant = variant or implied
    if arch == "arm64" and variant in ("8", "v8"):
        variant = ""
    elif arch == "arm" and variant in ("", "7"):
        variant = "v7"
    elif arch == "arm" and variant in ("5", "6", "8"):
        variant = "v" + variant
    return arch, variant


def parse_platform(spec: str, host_arch: str, command: str = "run") -> dict[str, str]:
    """``linux/arm64``, ``linux``, ``amd64`` -> ``{os, architecture, variant}``, with the
    CLI's message for what containerd cannot parse."""

    def bad(why: str) -> UsageError:
        return refusal(f"error parsing specified platform: {why}: invalid argument", command)

    parts = spec.split("/")
    for part in parts:
        if not _COMPONENT.match(part):
            raise bad(
                f'"{part}" is an invalid component of "{spec}": platform specifier component '
                'must match "^[A-Za-z0-9_-]+$"'
            )
    os_name = parts[0].lower().replace("macos", "darwin")
    if len(parts) == 1:
        if os_name in _OSES:
            return {"os": os_name, "architecture": host_arch, "variant": ""}
        arch, variant = _normalize_arch(parts[0], "")
        if arch == "arm" and variant == "v7":
            variant = ""
        if arch in _ARCHES:
            return {"os": "linux", "architecture": arch, "variant": variant}
        raise bad(f'"{spec}": unknown operating system or architecture')
    if len(parts) > 3:
        raise bad(f'"{spec}": cannot parse platform specifier')
    arch, variant = _normalize_arch(parts[1], parts[2] if len(parts) == 3 else "")
    return {"os": os_name, "architecture": arch, "variant": variant}


def format_platform(p: Mapping[str, str]) -> str:
    return "/".join(x for x in (p.get("os"), p.get("architecture"), p.get("variant")) if x)


def check_platform(ref: str, wanted: Mapping[str, str], image: Mapping[str, Any]) -> None:
    """The daemon's answer when the image found for ``ref`` is for another platform."""
    actual = {
        "os": image.get("Os") or "linux",
        "architecture": image.get("Architecture") or "",
        "variant": image.get("Variant") or "",
    }
    same = wanted["os"] == actual["os"] and wanted["architecture"] == actual["architecture"]
    if same and wanted["variant"] and actual["variant"]:
        same = wanted["variant"] == actual["variant"]
    if not same:
        raise NotFound(
            f"image with reference {ref} was found but does not match the specified platform: "
            f"wanted {format_platform(wanted)}, actual: {format_platform(actual)}"
        )


def host_platform() -> dict[str, str]:
    arch, variant = _normalize_arch(os.uname().machine, "")
    return {"os": "linux", "architecture": arch, "variant": variant}


class CidFile:
    """``--cidfile``: made before the container (refused if it exists), written with its
    ID once created, removed again if no ID was written (the CLI's ``cidFile``)."""

    def __init__(self, path: str | None, command: str = "run") -> None:
        self.path, self.fd, self.written = path or "", -1, False
        if not self.path:
            return
        if os.path.lexists(self.path):
            raise refusal(
                "Container ID file found, make sure the other container isn't running or "
                f"delete {self.path}",
                command,
            )
        try:
            self.fd = os.open(
                self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644
            )
        except OSError as exc:
            raise refusal(
                f"failed to create the container ID file: open {self.path}: "
                f"{(exc.strerror or str(exc)).lower()}",
                command,
            ) from None

    def write(self, cid: str) -> None:
        if self.fd >= 0 and not self.written:
            os.write(self.fd, cid.encode())
            self.written = True

    def close(self) -> None:
        if self.fd < 0:
            return
        os.close(self.fd)
        self.fd = -1
        if not self.written:
            try:
                os.unlink(self.path)
            except OSError:
                pass


def labels(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def volumes(specs: list[str], cwd: str | None = None) -> tuple[list[str], dict[str, dict]]:
    """``-v`` specs -> (HostConfig.Binds, Config.Volumes), with the daemon's validation."""
    binds: list[str] = []
    anonymous: dict[str, dict] = {}
    for spec in specs:
        parts = spec.split(":")
        if len(parts) == 1:
            _check_target(spec, spec, "volume")
            anonymous[spec] = {}
            continue
        if len(parts) > 3 or "" in parts:
            raise InvalidParameter(f"invalid volume specification: '{spec}'")
        if len(parts) == 2 and all(m in _MODES for m in parts[1].split(",")):
            raise InvalidParameter(f"invalid volume specification: '{spec}'")
        source, target = parts[0], parts[1]
        if len(parts) == 3:
            modes = parts[2].split(",")
            if any(m not in _MODES for m in modes) or ("ro" in modes and "rw" in modes):
                raise InvalidParameter(f"invalid mode: {parts[2]}")
        if source.startswith(("./", "../")) or source == ".":
            source = os.path.abspath(os.path.join(cwd or os.getcwd(), source))
        if source.startswith("/"):
            _check_target(spec, target, "bind")
        else:
            if not _VOLUME_NAME.match(source):
                raise InvalidParameter(
                    f'create {source}: "{source}" includes invalid characters for a local volume '
                    'name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass '
                    "a host directory, use absolute path"
                )
            _check_target(spec, target, "volume")
        binds.append(":".join([source, *parts[1:]]))
    return binds, anonymous


def _check_target(spec: str, target: str, kind: str) -> None:
    if not target.startswith("/"):
        raise InvalidParameter(
            f"invalid volume specification: '{spec}': invalid mount config for "
            f"type \"{kind}\": invalid mount path: '{target}' mount path must "
            "be absolute"
        )
    if target.rstrip("/") == "":
        raise InvalidParameter(
            f"invalid volume specification: '{spec}': invalid mount config for "
            f'type "{kind}": invalid specification: destination can\'t be '
            "'/'"
        )


def _memory(value: str | None, flag: str, command: str) -> int:
    if value is None or value == "":
        return 0
    if flag == "--memory-swap" and value == "-1":
        return -1
    try:
        return parse_ram(value)
    except ValueError as exc:
        raise _flag_error(value, flag, str(exc), command) from None


def _attach(streams: list[str], command: str) -> set[str]:
    out = set()
    for s in streams:
        if s.lower() not in ("stdin", "stdout", "stderr"):
            raise _flag_error(
                s, "-a, --attach", "valid streams are STDIN, STDOUT and STDERR", command
            )
        out.add(s.lower())
    return out


def create_body(
    ns: Namespace, environ: Mapping[str, str] | None = None, cwd: str | None = None
) -> tuple[str | None, dict[str, Any]]:
    """Translate a parsed ``run``/``create`` namespace into ``(name, create body)``."""
    environ = os.environ if environ is None else environ
    command = getattr(ns, "path", None) or getattr(ns, "verb", None) or "run"
    detach = bool(getattr(ns, "detach", False))

    attach = _attach(ns.attach or [], command)
    if detach and attach:
        raise refusal("Conflicting options: -a and -d", command)
    attach_stdin = "stdin" in attach or ns.interactive
    attach_out = "stdout" in attach or not attach
    attach_err = "stderr" in attach or not attach
    if detach:
        attach_stdin = attach_out = attach_err = False
    stdin_once = ns.interactive and attach_stdin  # create -i too: Docker's true true true

    try:
        restart_policy = parse_restart_policy(ns.restart or "no")
    except ValueError as exc:
        raise cli_error(str(exc), command) from None
    if ns.rm and restart_policy["Name"] not in ("", "no"):
        raise cli_error("conflicting options: cannot specify both --restart and --rm", command)

    memory = _memory(ns.memory, "-m, --memory", command)
    swap = _memory(ns.memory_swap, "--memory-swap", command)
    nano_cpus = 0
    if ns.cpus is not None:
        try:
            nano_cpus = parse_cpus(ns.cpus, "--cpus")
        except ValueError as exc:
            raise UsageError(f"{exc}\nSee 'dockerlab {command} --help'.", command) from None

    env = environment(ns.env_file or [], ns.env or [], environ, command)
    binds, anonymous = volumes(ns.volume or [], cwd)

    network = ns.network or "default"  # a user network's name is checked by the engine
    exposed, bindings = published_ports(ns, command)

    devices = []
    for spec in getattr(ns, "device", None) or []:
        try:
            devices.append(parse_device(spec))
        except ValueError as exc:
            raise refusal(str(exc), command) from None

    shm_size = _memory(getattr(ns, "shm_size", None), "--shm-size", command)
    mounts = [parse_mount(v) for v in getattr(ns, "mount", None) or []]  # checked by the parser

    entrypoint = None
    if ns.entrypoint is not None:
        entrypoint = [ns.entrypoint]  # [""] clears the image's ENTRYPOINT, as Docker sends it

    host_config: dict[str, Any] = {
        "Binds": binds or None,
        "NetworkMode": network,
        "RestartPolicy": restart_policy,
        "AutoRemove": bool(ns.rm),
        "Memory": memory,
        "MemorySwap": swap,
        "NanoCpus": nano_cpus,
        "CpuShares": ns.cpu_shares or 0,
        "CpuPeriod": ns.cpu_period or 0,
        "CpuQuota": ns.cpu_quota or 0,
        "PidsLimit": ns.pids_limit,
        "CpusetCpus": getattr(ns, "cpuset_cpus", None) or "",
        "CpusetMems": getattr(ns, "cpuset_mems", None) or "",
        "MemoryReservation": _memory(
            getattr(ns, "memory_reservation", None), "--memory-reservation", command
        ),
        "OomKillDisable": bool(getattr(ns, "oom_kill_disable", False)),
        "Devices": devices,
        "Init": True if ns.init else None,
        "CapAdd": list(ns.cap_add or []) or None,
        "CapDrop": list(ns.cap_drop or []) or None,
        "Privileged": bool(ns.privileged),
        "SecurityOpt": security_opts(ns.security_opt or [], command) or None,
        "Ulimits": ulimits(getattr(ns, "ulimit", None) or [], command),
        "GroupAdd": list(getattr(ns, "group_add", None) or []) or None,
        "ContainerIDFile": getattr(ns, "cidfile", None) or "",
        "ReadonlyRootfs": bool(getattr(ns, "read_only", False)),
        "ShmSize": shm_size,
        "VolumesFrom": list(getattr(ns, "volumes_from", None) or []) or None,
        "Links": list(getattr(ns, "link", None) or []) or None,
        "ExtraHosts": list(getattr(ns, "add_host", None) or []) or None,
        "Dns": list(getattr(ns, "dns", None) or []),
        "DnsOptions": list(getattr(ns, "dns_option", None) or []),
        "DnsSearch": list(getattr(ns, "dns_search", None) or []),
    }
    if bindings:
        host_config["PortBindings"] = bindings
    if getattr(ns, "publish_all", False):
        host_config["PublishAllPorts"] = True
    if getattr(ns, "sysctl", None):
        host_config["Sysctls"] = sysctls(ns.sysctl, command)
    if getattr(ns, "tmpfs", None):
        host_config["Tmpfs"] = tmpfs_map(ns.tmpfs)
    if mounts:
        host_config["Mounts"] = mounts
    check_host_config(host_config)

    mac = getattr(ns, "mac_address", None) or ""
    if mac and not _MAC.match(mac):
        raise cli_error(f"{mac} is not a valid mac address", command)
    body: dict[str, Any] = {
        "Hostname": ns.hostname or "",
        "Domainname": getattr(ns, "domainname", None) or "",
        "User": ns.user or "",
        "AttachStdin": attach_stdin,
        "AttachStdout": attach_out,
        "AttachStderr": attach_err,
        "Tty": bool(ns.tty),
        "OpenStdin": bool(ns.interactive),
        "StdinOnce": bool(stdin_once),
        "Env": env,
        "Cmd": list(ns.command) or None,
        "Image": ns.image,
        "Volumes": anonymous or None,
        "WorkingDir": ns.workdir or "",
        "Entrypoint": entrypoint,
        "Labels": labels(
            label_files(getattr(ns, "label_file", None) or [], ns.label or [], command)
        ),
        "HostConfig": host_config,
    }
    if exposed:
        body["ExposedPorts"] = exposed
    if mac:
        body["MacAddress"] = mac
    if ns.stop_signal:
        body["StopSignal"] = ns.stop_signal
    if ns.stop_timeout is not None:
        body["StopTimeout"] = ns.stop_timeout
    healthcheck = health_config(ns, command)
    if healthcheck is not None:
        body["Healthcheck"] = healthcheck
    endpoint = endpoint_config(ns)
    if endpoint:  # --network-alias, --ip: for the network named by --network
        body["NetworkingConfig"] = {"EndpointsConfig": {network: endpoint}}
    return ns.name or None, body


def published_ports(ns: Namespace, command: str = "run") -> tuple[dict[str, Any], dict[str, Any]]:
    """``-p`` and ``--expose`` -> (Config.ExposedPorts, HostConfig.PortBindings), checked as
    docker's client checks them (nothing imported when neither is given)."""
    publish, expose = getattr(ns, "publish", None) or [], getattr(ns, "expose", None) or []
    if not publish and not expose:
        return {}, {}
    from dockerlab.format.ports import PortSpecError, parse_publish

    try:
        return parse_publish(publish, expose)
    except PortSpecError as exc:
        raise cli_error(str(exc), command) from None


def endpoint_config(ns: Namespace) -> dict[str, Any]:
    """``--network-alias`` and ``--ip`` as Docker's CLI sends them (EndpointSettings)."""
    out: dict[str, Any] = {}
    aliases = getattr(ns, "network_alias", None) or []
    ip = getattr(ns, "ip", None) or ""
    if ip:
        out["IPAMConfig"] = {"IPv4Address": ip}
    if aliases:
        out["Aliases"] = list(aliases)
    return out


def health_config(ns: Namespace, command: str = "run") -> dict[str, Any] | None:
    """``--health-*`` and ``--no-healthcheck`` -> ``Config.Healthcheck`` (durations in
    nanoseconds), with the CLI's checks; None leaves the image's HEALTHCHECK as it is. Zero
    fields are left out, as Go's ``omitempty`` does, so the daemon fills them from the image."""
    cmd = getattr(ns, "health_cmd", None) or ""
    durations = {
        key: getattr(ns, dest, None) or 0
        for key, dest in (
            ("Interval", "health_interval"),
            ("Timeout", "health_timeout"),
            ("StartPeriod", "health_start_period"),
        )
    }
    retries = getattr(ns, "health_retries", None) or 0
    settings = bool(cmd) or any(durations.values()) or bool(retries)
    if getattr(ns, "no_healthcheck", False):
        if settings:
            raise refusal("--no-healthcheck conflicts with --health-* options", command)
        return {"Test": ["NONE"]}
    if not settings:
        return None
    for flag, value in (
        ("--health-interval", durations["Interval"]),
        ("--health-timeout", durations["Timeout"]),
        ("--health-retries", retries),
        ("--health-start-period", durations["StartPeriod"]),
    ):
        if value < 0:
            raise refusal(f"{flag} cannot be negative", command)
    out: dict[str, Any] = {"Test": ["CMD-SHELL", cmd]} if cmd else {}
    out.update({k: v for k, v in durations.items() if v})
    if retries:
        out["Retries"] = retries
    return out


def security_opts(opts: list[str], command: str = "run") -> list[str]:
    """The CLI's part of ``--security-opt`` (its ``parseSecurityOpts``): a seccomp profile
    file is read here and sent as its compacted JSON, as docker does."""
    out = []
    for opt in opts:
        key, sep, value = opt.partition("=")
        if not sep and opt != "no-new-privileges":
            if ":" not in opt:
                raise refusal(f'Invalid --security-opt: "{opt}"', command)
            key, _, value = opt.partition(":")
        if key == "seccomp" and value != "unconfined":
            try:
                with open(value, "rb") as f:
                    raw = f.read()
            except OSError as exc:
                raise refusal(
                    f"opening seccomp profile ({value}) failed: open {value}: "
                    f"{(exc.strerror or str(exc)).lower()}",
                    command,
                ) from None
            import json

            try:
                compact = json.dumps(json.loads(raw), separators=(",", ":"), ensure_ascii=False)
            except ValueError as exc:
                raise refusal(
                    f"compacting json for seccomp profile ({value}) failed: {exc}", command
                ) from None
            opt = f"seccomp={compact}"
        out.append(opt)
    return out


def check_host_config(hc: Mapping[str, Any]) -> None:
    """The daemon's resource checks (moby ``verifyPlatformContainerResources``), its messages."""
    memory, swap = hc.get("Memory") or 0, hc.get("MemorySwap") or 0
    if 0 < memory < MIN_MEMORY:
        raise InvalidParameter("Minimum memory limit allowed is 6MB")
    if swap > 0 and memory == 0:
        raise InvalidParameter(
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        )
    if 0 < swap < memory:
        raise InvalidParameter(
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        )
    nano, period, quota = hc.get("NanoCpus") or 0, hc.get("CpuPeriod") or 0, hc.get("CpuQuota") or 0
    if nano > 0 and period > 0:
        raise InvalidParameter("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if nano > 0 and quota > 0:
        raise InvalidParameter("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    if nano < 0:
        raise InvalidParameter(
            "Range of CPUs is from 0.01 to "
            f"{os.cpu_count() or 1}.00, as there are only "
            f"{os.cpu_count() or 1} CPUs available"
        )
    if period and not 1000 <= period <= 1000000:
        raise InvalidParameter(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
        )
    if quota and 0 < quota < 1000:
        raise InvalidParameter("CPU cfs quota can not be less than 1ms (i.e. 1000)")
