"""Docker's JSON seccomp profiles -> a BPF program, compiled through libseccomp (ctypes).

Two pure steps, then the library:

1. :func:`decode` checks a profile's shape (Docker's ``Decoding seccomp profile failed``),
2. :func:`select` keeps the rules whose ``includes``/``excludes`` (capabilities, architecture,
   kernel version) match the container, as moby's ``setupSeccomp`` does,
3. :func:`compile_bpf` hands them to libseccomp as runc does (unknown syscalls skipped, several
   conditions on one argument split into separate rules) and exports the BPF program.

The engine compiles (never the container's process) and caches programs under
``ROOT/seccomp/``; the container's first process only loads the bytes (see
:func:`dockerlab.engine.runtime.linux.install_seccomp`).
"""

from __future__ import annotations

import ctypes
import os
import struct

from dockerlab.engine.runtime.linux import kernel_version
from dockerlab.errors import InvalidParameter

TYPE_CHECKING = False  # typing costs the CLI's start milliseconds
if TYPE_CHECKING:
    from typing import Any

ACTIONS = {
    "SCMP_ACT_KILL": 0x00000000,
    "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_ERRNO": 0x00050000,
    "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_LOG": 0x7FFC0000,
    "SCMP_ACT_ALLOW": 0x7FFF0000,
}
OPERATORS = {
    "SCMP_CMP_NE": 1,
    "SCMP_CMP_LT": 2,
    "SCMP_CMP_LE": 3,
    "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5,
    "SCMP_CMP_GT": 6,
    "SCMP_CMP_MASKED_EQ": 7,
}
# Go's GOARCH (what includes/excludes name) -> the native architecture's libseccomp name.
SCMP_NATIVE = {
    "amd64": "SCMP_ARCH_X86_64",
    "arm64": "SCMP_ARCH_AARCH64",
    "arm": "SCMP_ARCH_ARM",
    "ppc64le": "SCMP_ARCH_PPC64LE",
    "s390x": "SCMP_ARCH_S390X",
    "riscv64": "SCMP_ARCH_RISCV64",
    "mips64": "SCMP_ARCH_MIPS64",
    "386": "SCMP_ARCH_X86",
}
_ARCHES = {
    "X86",
    "X86_64",
    "X32",
    "ARM",
    "AARCH64",
    "MIPS",
    "MIPS64",
    "MIPS64N32",
    "MIPSEL",
    "MIPSEL64",
    "MIPSEL64N32",
    "PPC",
    "PPC64",
    "PPC64LE",
    "S390",
    "S390X",
    "RISCV64",
}
EPERM, ENOSYS = 1, 38


class ProfileError(InvalidParameter):
    """A profile the daemon refuses while decoding it (before any runtime sees it)."""


class RuntimeRefused(Exception):
    """A profile runc would refuse while loading it (bad action, operator, architecture)."""


# ---- 1. decoding: Go's json.Unmarshal into moby's types.Seccomp ---------------------------


def _type_error(value: object, field: str, want: str) -> ProfileError:
    got = {str: "string", bool: "bool", list: "array", dict: "object"}.get(type(value), "number")
    return ProfileError(
        f"Decoding seccomp profile failed: json: cannot unmarshal {got} into Go "
        f"struct field {field} of type {want}"
    )


def _strings(value: object, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _type_error(
            value
            if not isinstance(value, list)
            else next(v for v in value if not isinstance(v, str)),
            field,
            "[]string",
        )
    return list(value)


def _uint(value: object, field: str, want: str = "uint64") -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _type_error(value, field, want)
    return value


def _filter(value: object, field: str) -> dict[str, Any]:
    if value is None:
        return {"caps": [], "arches": [], "minKernel": None}
    if not isinstance(value, dict):
        raise _type_error(value, field, "types.Filter")
    kernel = value.get("minKernel")
    if kernel is not None:
        if not isinstance(kernel, str):
            raise _type_error(kernel, f"{field}.minKernel", "string")
        try:
            kernel = (
                kernel_version(kernel) if all(p.isdigit() for p in kernel.split(".")[:2]) else None
            )
        except ValueError:
            kernel = None
        if kernel is None:
            raise ProfileError(
                f"Decoding seccomp profile failed: invalid kernel version: {value.get('minKernel')}"
            )
    return {
        "caps": _strings(value.get("caps"), f"{field}.caps"),
        "arches": _strings(value.get("arches"), f"{field}.arches"),
        "minKernel": kernel,
    }


def decode(profile: object) -> dict[str, Any]:
    """Check ``profile`` (parsed JSON) as Docker does; returns it normalised."""
    if not isinstance(profile, dict):
        kind = {str: "string", list: "array", bool: "bool"}.get(type(profile), "number")
        raise ProfileError(
            f"Decoding seccomp profile failed: json: cannot unmarshal {kind} "
            "into Go value of type seccomp.Seccomp"
        )
    default = profile.get("defaultAction", "")
    if not isinstance(default, str):
        raise _type_error(default, "Seccomp.defaultAction", "specs.LinuxSeccompAction")
    arches = _strings(profile.get("architectures"), "Seccomp.architectures")
    arch_map = profile.get("archMap") or []
    if not isinstance(arch_map, list):
        raise _type_error(arch_map, "Seccomp.archMap", "[]seccomp.Architecture")
    if arches and arch_map:
        raise ProfileError(
            "'architectures' and 'archMap' were specified in the seccomp profile,"
            " use either 'architectures' or 'archMap'"
        )
    amap = []
    for entry in arch_map:
        if not isinstance(entry, dict):
            raise _type_error(entry, "Seccomp.archMap", "seccomp.Architecture")
        amap.append(
            (
                entry.get("architecture") or "",
                _strings(entry.get("subArchitectures"), "Architecture.subArchitectures"),
            )
        )
    calls = profile.get("syscalls") or []
    if not isinstance(calls, list):
        raise _type_error(calls, "Seccomp.syscalls", "[]*seccomp.Syscall")
    rules = []
    for call in calls:
        if not isinstance(call, dict):
            raise _type_error(call, "Seccomp.syscalls", "seccomp.Syscall")
        names = _strings(call.get("names"), "Syscall.syscalls.names")
        name = call.get("name") or ""
        if not isinstance(name, str):
            raise _type_error(name, "Syscall.syscalls.name", "string")
        if name and names:
            raise ProfileError(
                "'name' and 'names' were specified in the seccomp profile, use "
                "either 'name' or 'names'"
            )
        action = call.get("action", "")
        if not isinstance(action, str):
            raise _type_error(action, "Syscall.syscalls.action", "specs.LinuxSeccompAction")
        args = []
        for arg in call.get("args") or []:
            if not isinstance(arg, dict):
                raise _type_error(arg, "Syscall.syscalls.args", "specs.LinuxSeccompArg")
            op = arg.get("op", "")
            if not isinstance(op, str):
                raise _type_error(op, "Arg.syscalls.args.op", "specs.LinuxSeccompOperator")
            args.append(
                (
                    _uint(arg.get("index"), "Arg.syscalls.args.index", "uint"),
                    op,
                    _uint(arg.get("value"), "Arg.syscalls.args.value"),
                    _uint(arg.get("valueTwo"), "Arg.syscalls.args.valueTwo"),
                )
            )
        errno_ret = call.get("errnoRet")
        rules.append(
            {
                "names": names or ([name] if name else []),
                "action": action,
                "errnoRet": None
                if errno_ret is None
                else _uint(errno_ret, "Syscall.syscalls.errnoRet", "uint"),
                "args": args,
                "includes": _filter(call.get("includes"), "Syscall.syscalls.includes"),
                "excludes": _filter(call.get("excludes"), "Syscall.syscalls.excludes"),
            }
        )
    default_errno = profile.get("defaultErrnoRet")
    return {
        "defaultAction": default,
        "defaultErrnoRet": None
        if default_errno is None
        else _uint(default_errno, "Seccomp.defaultErrnoRet", "uint"),
        "architectures": arches,
        "archMap": amap,
        "syscalls": rules,
    }


# ---- 2. selection: which rules apply to this container ---------------------------------


def select(
    profile: dict[str, Any], caps: frozenset[str], arch: str, kernel: tuple[int, int]
) -> dict[str, Any]:
    """``profile`` (decoded) for a container with ``caps`` (names with ``CAP_``) on ``arch``
    (GOARCH) under ``kernel``: the architectures to filter and the rules that apply."""
    arches = list(profile["architectures"])
    native = SCMP_NATIVE.get(arch)
    for main, subs in profile["archMap"]:
        if main == native:
            arches += [main, *subs]
    rules = []
    for rule in profile["syscalls"]:
        inc, exc = rule["includes"], rule["excludes"]
        if inc["arches"] and arch not in inc["arches"]:
            continue
        if exc["arches"] and arch in exc["arches"]:
            continue
        if inc["minKernel"] and kernel < inc["minKernel"]:
            continue
        if inc["caps"] and not all(c in caps for c in inc["caps"]):
            continue
        if exc["caps"] and any(c in caps for c in exc["caps"]):
            continue
        rules.append(rule)
    return {
        "defaultAction": profile["defaultAction"],
        "defaultErrnoRet": profile["defaultErrnoRet"],
        "architectures": arches,
        "syscalls": rules,
    }


def action_code(name: str, errno_ret: int | None) -> int:
    if name not in ACTIONS:
        raise RuntimeRefused(f"string {name} is not a valid action for seccomp")
    code = ACTIONS[name]
    if name in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):  # runc: EPERM unless errnoRet says
        code |= (EPERM if errno_ret is None else errno_ret) & 0xFFFF
    return code


# ---- 3. libseccomp --------------------------------------------------------------------


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


_lib: ctypes.CDLL | None = None


def _libseccomp() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
        except OSError as exc:
            raise InvalidParameter(
                "seccomp profiles need libseccomp: install Debian's "
                "libseccomp2 (apt-get install libseccomp2)"
            ) from exc
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
        lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_syscall_resolve_name_arch.argtypes = [ctypes.c_uint32, ctypes.c_char_p]
        lib.seccomp_arch_native.restype = ctypes.c_uint32
        lib.seccomp_rule_add_array.argtypes = [
            ctypes.c_void_p,
            ctypes.c_uint32,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.POINTER(_ArgCmp),
        ]
        lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
        _lib = lib
    return _lib


def compile_bpf(chosen: dict[str, Any]) -> bytes:
    """The BPF program (``struct sock_filter`` array) of ``chosen`` (see :func:`select`)."""
    lib = _libseccomp()
    default = action_code(chosen["defaultAction"], chosen["defaultErrnoRet"])
    ctx = lib.seccomp_init(default)
    if not ctx:
        raise RuntimeRefused("libseccomp could not make a filter")
    try:
        for name in chosen["architectures"]:
            short = name.removeprefix("SCMP_ARCH_")
            if not name.startswith("SCMP_ARCH_") or short not in _ARCHES:
                raise RuntimeRefused(f"string {name} is not a valid arch for seccomp")
            token = lib.seccomp_arch_resolve_name(short.lower().encode())
            ret = lib.seccomp_arch_add(ctx, token) if token else -22
            if ret < 0 and ret != -17:  # EEXIST: the native one is there from the start
                raise RuntimeRefused(
                    f"error adding architecture to seccomp filter: {os.strerror(-ret)}"
                )
        for rule in chosen["syscalls"]:
            action = action_code(rule["action"], rule["errnoRet"])
            conds = []
            for index, op, value, value_two in rule["args"]:
                if op not in OPERATORS:
                    raise RuntimeRefused(f"string {op} is not a valid operator for seccomp")
                if index > 5:
                    raise RuntimeRefused("syscall argument index out of range")
                conds.append(_ArgCmp(index, OPERATORS[op], value, value_two))
            if action == default:
                continue  # libseccomp refuses rules that repeat the default (runc skips them)
            # Two conditions on one argument can never both hold: runc makes them separate
            # rules (any of them matching), and so do we.
            indexes = [c.arg for c in conds]
            groups = [[c] for c in conds] if len(set(indexes)) < len(indexes) else [conds]
            for name in rule["names"]:
                nr = lib.seccomp_syscall_resolve_name(name.encode())
                if nr == -1:
                    continue  # a syscall libseccomp does not know: not on this kernel either
                for group in groups:
                    array = (_ArgCmp * max(len(group), 1))(*group)
                    ret = lib.seccomp_rule_add_array(ctx, action, nr, len(group), array)
                    if ret < 0:
                        raise RuntimeRefused(
                            f"error adding seccomp filter rule for syscall "
                            f"{name}: {os.strerror(-ret).lower()}"
                        )
        fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
        try:
            ret = lib.seccomp_export_bpf(ctx, fd)
            if ret < 0:
                raise RuntimeRefused(f"error exporting seccomp filter: {os.strerror(-ret)}")
            os.lseek(fd, 0, os.SEEK_SET)
            out = b""
            while chunk := os.read(fd, 65536):
                out += chunk
        finally:
            os.close(fd)
        tokens = [
            lib.seccomp_arch_resolve_name(a.removeprefix("SCMP_ARCH_").lower().encode())
            for a in chosen["architectures"]
        ] or [lib.seccomp_arch_native()]
        return enosys_stub(chosen, tokens, lib) + out
    finally:
        lib.seccomp_release(ctx)


# Classic BPF, as the kernel reads ``struct seccomp_data`` (nr at 0, arch at 4).
_LD_W_ABS, _JGT_K, _JEQ_K, _JSET_K, _JA, _RET_K = 0x20, 0x25, 0x15, 0x45, 0x05, 0x06
_X32_BIT = 0x40000000
_AUDIT_ARCH_X86_64 = 0xC000003E
_NOT_AN_AUDIT_ARCH = {0x4000003E}  # libseccomp's x32 token: the kernel says x86_64


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k & 0xFFFFFFFF)


def enosys_stub(chosen: dict[str, Any], tokens: list[int], lib: ctypes.CDLL) -> bytes:
    """runc's prologue: a syscall newer than any the profile names gets ENOSYS, not the
    default EPERM, so programs fall back to an older call (as they do on an older kernel).
    Only for deny-by-default profiles, per architecture, never for x32's numbers."""
    if chosen["defaultAction"] in ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"):
        return b""
    names = {n for rule in chosen["syscalls"] for n in rule["names"]}
    blocks = []
    for token in dict.fromkeys(tokens):
        if token in _NOT_AN_AUDIT_ARCH or not token:
            continue
        numbers = [lib.seccomp_syscall_resolve_name_arch(token, n.encode()) for n in names]
        known = [nr for nr in numbers if nr >= 0 and not nr & _X32_BIT]
        if known:
            blocks.append((token, max(known)))
    if not blocks:
        return b""
    # per arch: ld arch; jeq arch ? next : skip; ld nr; [jset x32 ? out]; jgt max ? enosys
    sizes = [5 if token == _AUDIT_ARCH_X86_64 else 4 for token, _ in blocks]
    enosys = sum(sizes) + 1  # index of the ERRNO(ENOSYS) return, after a jump over it
    out, at = [], 0
    for (token, top), size in zip(blocks, sizes):
        out.append(_insn(_LD_W_ABS, 4))
        out.append(_insn(_JEQ_K, token, 0, size - 2))
        out.append(_insn(_LD_W_ABS, 0))
        if size == 5:
            out.append(_insn(_JSET_K, _X32_BIT, 1, 0))
        here = at + size - 1
        out.append(_insn(_JGT_K, top, enosys - here - 1, 0))
        at += size
    out.append(_insn(_JA, 1))
    out.append(_insn(_RET_K, ACTIONS["SCMP_ACT_ERRNO"] | ENOSYS))
    return b"".join(out)
