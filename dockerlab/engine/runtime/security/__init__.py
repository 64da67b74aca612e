"""What a container's process may do: capabilities, seccomp, no-new-privileges.

The daemon's side of Docker's ``--cap-add``/``--cap-drop``/``--privileged``/``--security-opt``:
:func:`normalize_host_config` checks and normalises them at create (Docker's messages), and
:func:`for_container` turns a container's HostConfig into what its processes apply last
before ``execve`` — the capability names, the no-new-privileges bit and a BPF program::

    {"Caps": ["CHOWN", …], "NoNewPrivs": False, "Seccomp": b"…" or None,
     "Rlimits": [[7, 512, 512], …], "GroupAdd": ["audio", "1000", …]}

BPF programs are compiled here, in the engine, and cached per profile, architecture, kernel
and capability set in ``ROOT/seccomp/`` (a cache: deleting it only costs a recompile)::

    ROOT/seccomp/default-<stamp>-<arch>-<kernel>-<capmask>.bpf
    ROOT/seccomp/<sha256 of the profile>-<arch>-<kernel>-<capmask>.bpf
"""

from __future__ import annotations

import os

from dockerlab.engine.atomic import write_bytes
from dockerlab.engine.runtime import linux as L
from dockerlab.engine.runtime.linux import kernel_version
from dockerlab.errors import InvalidParameter

TYPE_CHECKING = False  # typing costs the CLI's start milliseconds
if TYPE_CHECKING:
    from typing import Any

ALL = "ALL"
_HERE = os.path.dirname(os.path.abspath(__file__))
_COMPILER_FILES = (os.path.join(_HERE, "seccomp_default.py"), os.path.join(_HERE, "seccomp.py"))


# Go's GOARCH for the machine: what a profile's includes/excludes name.
GOARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "mips64": "mips64",
    "i686": "386",
}


def host_arch() -> str:
    machine = os.uname().machine
    return GOARCH.get(machine, machine)


def all_caps() -> list[str]:
    """Every capability this kernel knows (what ``--privileged`` gives)."""
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    return L.CAPS[: last + 1]


def normalize_caps(caps: list[str] | None, field: str) -> list[str] | None:
    """``--cap-add``/``--cap-drop`` values as the daemon stores them: upper case, ``CAP_``
    prefixed (but ``ALL``), known, each once, sorted."""
    if not caps:
        return caps if caps is None else []
    out = set()
    for cap in caps:
        name = cap.upper()
        if name != ALL:
            if not name.startswith("CAP_"):
                name = "CAP_" + name
            if name[4:] not in L.CAPS:
                raise InvalidParameter(f'invalid {field}: unknown capability: "{name}"')
        out.add(name)
    return sorted(out)


def parse_security_opts(opts: list[str] | None) -> dict[str, Any]:
    """moby's ``parseSecurityOpt``: ``{"seccomp": None|"unconfined"|JSON, "nnp": bool}``."""
    seccomp: str | None = None
    nnp = False
    for opt in opts or []:
        if opt == "no-new-privileges":
            nnp = True
            continue
        if opt == "disable":
            continue
        if "=" in opt:
            key, _, value = opt.partition("=")
        elif ":" in opt:
            key, _, value = opt.partition(":")
        else:
            raise InvalidParameter(f'invalid --security-opt 1: "{opt}"')
        if key == "seccomp":
            seccomp = value
        elif key == "no-new-privileges":
            flag = _go_bool(value)
            if flag is None:
                raise InvalidParameter(f'invalid --security-opt 2: "{opt}"')
            nnp = flag
        elif key not in ("label", "apparmor"):  # no LSM here: accepted, nothing to apply
            raise InvalidParameter(f'invalid --security-opt 2: "{opt}"')
    return {"seccomp": seccomp, "nnp": nnp}


def _go_bool(value: str) -> bool | None:
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


def normalize_host_config(host: dict[str, Any]) -> None:
    """(create) Check and normalise the security fields of ``host`` in place, as Docker."""
    host["CapAdd"] = normalize_caps(host.get("CapAdd"), "CapAdd")
    host["CapDrop"] = normalize_caps(host.get("CapDrop"), "CapDrop")
    host["Privileged"] = bool(host.get("Privileged"))
    opts = host.get("SecurityOpt") or None
    parse_security_opts(opts)
    if host["Privileged"]:
        opts = [*(opts or []), "label=disable"]  # what Docker records (SELinux off)
    host["SecurityOpt"] = opts


def capabilities(host: dict[str, Any]) -> list[str]:
    """moby's ``TweakCapabilities``: the container's capability names (no ``CAP_``)."""
    if host.get("Privileged"):
        return all_caps()
    adds = normalize_caps(host.get("CapAdd"), "CapAdd") or []
    drops = normalize_caps(host.get("CapDrop"), "CapDrop") or []
    known = all_caps()
    if ALL in adds:
        keep = [c for c in known if "CAP_" + c not in drops]
    elif ALL in drops:
        keep = [a[4:] for a in adds if a != ALL]
    else:
        keep = [c for c in L.DEFAULT_CAPS if "CAP_" + c not in drops]
        keep += [a[4:] for a in adds]
    return sorted({c for c in keep if c in known}, key=L.CAPS.index)


def _cap_mask(caps: list[str]) -> int:
    return sum(1 << L.CAPS.index(c) for c in caps)


def for_container(root: str, host: dict[str, Any]) -> dict[str, Any]:
    """(start) What the container's processes apply before ``execve``; compiles (or reads
    from the cache) the seccomp program."""
    opts = parse_security_opts(host.get("SecurityOpt"))
    caps = capabilities(host)
    profile = opts["seccomp"]
    program = None
    if not host.get("Privileged") and profile != "unconfined":
        program = _program(root, profile, caps)
    return {
        "Caps": caps,
        "NoNewPrivs": opts["nnp"],
        "Seccomp": program,
        # the rest of what the process takes on before execve, run and exec alike (Docker's
        # exec'd processes share the container's rlimits and --group-add)
        "Rlimits": [
            [L.RLIMITS[u["Name"]], int(u["Soft"]), int(u["Hard"])]
            for u in host.get("Ulimits") or []
            if u.get("Name") in L.RLIMITS
        ],
        "GroupAdd": list(host.get("GroupAdd") or []),
    }


def _program(root: str, profile: str | None, caps: list[str]) -> bytes:
    arch, kernel = host_arch(), kernel_version()
    tail = f"{arch}-{kernel[0]}.{kernel[1]}-{_cap_mask(caps):x}.bpf"
    if profile is None:
        # a changed default profile or compiler is a new cache entry
        stamp = "".join(f"{st.st_mtime_ns:x}{st.st_size:x}" for st in map(os.stat, _COMPILER_FILES))
        name = f"default-{stamp}-{tail}"
    else:
        import hashlib

        name = f"{hashlib.sha256(profile.encode()).hexdigest()[:32]}-{tail}"
    folder = os.path.join(root, "seccomp")
    path = os.path.join(folder, name)
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        pass
    program = compile_profile(profile, caps, arch, kernel)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    # whole or absent: a reader never sees half a program (a cache: no fsync)
    write_bytes(path, program, mode=0o600, durable=False)
    return program


def compile_profile(
    profile: str | None, caps: list[str], arch: str, kernel: tuple[int, int]
) -> bytes:
    """``profile`` (Docker's JSON text, None for the default) compiled for ``caps``."""
    from dockerlab.engine.runtime.security import seccomp

    if profile is None:
        from dockerlab.engine.runtime.security.seccomp_default import profile as default

        decoded = seccomp.decode(default())
    else:
        import json

        try:
            raw = json.loads(profile)
        except ValueError as exc:
            raise seccomp.ProfileError(f"Decoding seccomp profile failed: {exc}") from None
        decoded = seccomp.decode(raw)
    chosen = seccomp.select(decoded, frozenset("CAP_" + c for c in caps), arch, kernel)
    try:
        return seccomp.compile_bpf(chosen)
    except seccomp.RuntimeRefused as exc:
        from dockerlab.errors import ContainerStartError

        raise ContainerStartError(
            f"failed to create shim task: OCI runtime create failed: "
            f"runc create failed: {exc}: unknown"
        ) from None


def info_options() -> list[str]:
    """``info``'s SecurityOptions, as Docker's API gives them."""
    from dockerlab.engine import rootless

    return ["name=seccomp,profile=default", *rootless.security_options()]
