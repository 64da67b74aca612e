"""``run``/``create`` flags -> a Docker ``POST /containers/create`` body. Pure: no engine.

What Docker's CLI checks while parsing (sizes, CPUs, env files) fails as a usage error with
the CLI's text; what Docker's daemon checks (minimum memory, conflicting CPU options, volume
specifications, networks) fails as the engine's error category with the daemon's text, so
the CLI prints it after ``Error response from daemon:`` exactly as docker does.
"""

from __future__ import annotations

import os
import re
from argparse import Namespace
from collections.abc import Iterator, Mapping
from typing import IO, Any

from dockerlab.engine.runtime.cgroups.devices import parse_device
from dockerlab.errors import InvalidParameter, NotFound, UsageError
from dockerlab.format import parse_cpus, parse_ram

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


def refusal(message: str, command: str = "run") -> UsageError:
    """A run/create option the CLI itself rejects: ``dockerlab: <msg>.`` + the help hint."""
    if not message.endswith("."):
        message += "."
    return UsageError(f"dockerlab: {message}\nSee 'dockerlab {command} --help'.", command)


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

    restart = ns.restart or "no"
    if restart != "no":
        raise refusal(
            f"invalid restart policy '{restart}': dockerlab has no daemon to restart "
            "containers, so only --restart=no is supported",
            command,
        )
    if ns.rm and ns.restart and restart != "no":  # pragma: no cover - kept for Docker's text
        raise refusal("Conflicting options: --restart and --rm", command)

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

    network = ns.network or "default"
    if network not in _NETWORKS:
        raise NotFound(f"network {network} not found")

    devices = []
    for spec in getattr(ns, "device", None) or []:
        try:
            devices.append(parse_device(spec))
        except ValueError as exc:
            raise refusal(str(exc), command) from None

    entrypoint = None
    if ns.entrypoint is not None:
        entrypoint = [ns.entrypoint]  # [""] clears the image's ENTRYPOINT, as Docker sends it

    host_config: dict[str, Any] = {
        "Binds": binds or None,
        "NetworkMode": network,
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "AutoRemove": bool(ns.rm),
        "Memory": memory,
        "MemorySwap": swap,
        "NanoCpus": nano_cpus,
        "CpuShares": ns.cpu_shares or 0,
        "CpuPeriod": ns.cpu_period or 0,
        "CpuQuota": ns.cpu_quota or 0,
        "PidsLimit": ns.pids_limit,
        "Devices": devices,
        "Init": True if ns.init else None,
        "CapAdd": list(ns.cap_add or []) or None,
        "CapDrop": list(ns.cap_drop or []) or None,
        "Privileged": bool(ns.privileged),
        "SecurityOpt": security_opts(ns.security_opt or [], command) or None,
    }
    check_host_config(host_config)

    body: dict[str, Any] = {
        "Hostname": ns.hostname or "",
        "Domainname": "",
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
        "Labels": labels(ns.label or []),
        "HostConfig": host_config,
    }
    if ns.stop_signal:
        body["StopSignal"] = ns.stop_signal
    if ns.stop_timeout is not None:
        body["StopTimeout"] = ns.stop_timeout
    return ns.name or None, body


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
