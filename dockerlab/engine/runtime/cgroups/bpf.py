"""The cgroup v2 device filter: an eBPF program of type ``BPF_PROG_TYPE_CGROUP_DEVICE``,
encoded here instruction by instruction and loaded with bpf(2) (no bcc, no clang), as runc's
``devicefilter`` does.

cgroup v2 has no devices controller: the kernel runs the programs attached to a cgroup (and
its ancestors) at each open and mknod of a device node, with ``struct bpf_cgroup_dev_ctx``
``{u32 access_type; u32 major; u32 minor}`` in R1 (``access_type`` = access << 16 | type),
and refuses the access when a program returns 0. The program::

        r2 = ctx->access_type & 0xffff      device type: 1 block, 2 char
        r3 = ctx->access_type >> 16         access: 1 mknod, 2 read, 4 write
        r4 = ctx->major;  r5 = ctx->minor
    per exception:
        if r2 != TYPE goto next             (left out for type 'a')
        if r3 & ~ACCESS goto next           (allow: the whole access must be covered;
                                             deny: any part of it)
        if r4 != MAJOR goto next;  if r5 != MINOR goto next   (left out for '*')
        return ALLOW-OF-THE-EXCEPTION
    next: …
        return DEFAULT
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import sys

from dockerlab.engine.runtime.cgroups.devices import WILDCARD

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockerlab.engine.runtime.cgroups.devices import Rule

# linux/bpf.h
BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2
# instruction classes and operations
_LDX_MEM_W = 0x61  # BPF_LDX | BPF_MEM | BPF_W
_AND32_K = 0x54  # BPF_ALU | BPF_AND | BPF_K
_RSH32_K = 0x74  # BPF_ALU | BPF_RSH | BPF_K
_MOV32_K = 0xB4  # BPF_ALU | BPF_MOV | BPF_K
_MOV32_X = 0xBC  # BPF_ALU | BPF_MOV | BPF_X
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JNE_K = 0x55  # BPF_JMP | BPF_JNE | BPF_K
_JNE_X = 0x5D  # BPF_JMP | BPF_JNE | BPF_X
_EXIT = 0x95  # BPF_JMP | BPF_EXIT

_DEV_TYPE = {"b": 1, "c": 2}  # BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR
_ACCESS = {"m": 1, "r": 2, "w": 4}  # BPF_DEVCG_ACC_MKNOD, _READ, _WRITE

_SYS_BPF = {"x86_64": 321, "aarch64": 280, "riscv64": 280, "ppc64le": 361, "s390x": 351}
_BIG_ENDIAN = sys.byteorder == "big"
LICENSE = b"Apache\0"

Insn = tuple[int, int, int, int, int]  # (code, dst, src, off, imm)


def _mask(access: str) -> int:
    return sum(_ACCESS[c] for c in set(access))


def program(rules: list[Rule]) -> list[Insn]:
    """The instructions deciding like the v1 controller would with ``rules`` (a default,
    then exceptions; see :mod:`dockerlab.engine.runtime.cgroups.devices`)."""
    if not rules or rules[0][1] != "a":
        raise ValueError("a device rule list starts with its default (type 'a')")
    default = rules[0][0]
    out: list[Insn] = [
        (_LDX_MEM_W, 2, 1, 0, 0),
        (_AND32_K, 2, 0, 0, 0xFFFF),
        (_LDX_MEM_W, 3, 1, 0, 0),
        (_RSH32_K, 3, 0, 0, 16),
        (_LDX_MEM_W, 4, 1, 4, 0),
        (_LDX_MEM_W, 5, 1, 8, 0),
    ]
    for allow, kind, major, minor, access in rules[1:]:
        if allow == default:
            continue  # the default says so already
        # Each test jumps to the end of this block: the offset is filled in below.
        block: list[tuple[int, int, int, int | None, int]] = []
        if kind != "a":
            block.append((_JNE_K, 2, 0, None, _DEV_TYPE[kind]))
        mask = _mask(access)
        if mask != 7:
            block += [(_MOV32_X, 1, 3, 0, 0), (_AND32_K, 1, 0, 0, mask)]
            # allow: (access & mask) must equal access; deny: must not be empty.
            block.append((_JNE_X, 1, 3, None, 0) if allow else (_JEQ_K, 1, 0, None, 0))
        if major != WILDCARD:
            block.append((_JNE_K, 4, 0, None, major))
        if minor != WILDCARD:
            block.append((_JNE_K, 5, 0, None, minor))
        block += [(_MOV32_K, 0, 0, 0, int(allow)), (_EXIT, 0, 0, 0, 0)]
        end = len(block)
        out += [
            (code, dst, src, end - i - 1 if off is None else off, imm)
            for i, (code, dst, src, off, imm) in enumerate(block)
        ]
    out += [(_MOV32_K, 0, 0, 0, int(default)), (_EXIT, 0, 0, 0, 0)]
    return out


def encode(insns: list[Insn]) -> bytes:
    """``struct bpf_insn`` array: code, dst_reg:4 + src_reg:4 (bit-field order follows the
    machine's byte order), s16 off, s32 imm."""
    raw = bytearray()
    for code, dst, src, off, imm in insns:
        regs = (dst << 4 | src) if _BIG_ENDIAN else (src << 4 | dst)
        raw += struct.pack("=BBhi", code, regs, off, imm - (1 << 32) if imm >= 1 << 31 else imm)
    return bytes(raw)


_libc = ctypes.CDLL(None, use_errno=True)
_cache: dict[tuple[Rule, ...], bytes] = {}


def _bpf(cmd: int, attr: ctypes.Array[ctypes.c_char]) -> int:
    nr = _SYS_BPF.get(os.uname().machine)
    if nr is None:
        raise OSError(errno.ENOSYS, "bpf(2) is not known on this architecture")
    ret: int = _libc.syscall(nr, cmd, attr, len(attr))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ret


def encoded(rules: list[Rule]) -> bytes:
    """The program for ``rules``, encoded once per rule list (the forkserver encodes
    Docker's default list, and every monitor it forks inherits it)."""
    key = tuple(rules)
    code = _cache.get(key)
    if code is None:
        code = _cache[key] = encode(program(rules))
    return code


def load(rules: list[Rule]) -> int:
    """Load the filter for ``rules``; returns its fd."""
    code = encoded(rules)
    insns = ctypes.create_string_buffer(code, len(code))
    lic = ctypes.create_string_buffer(LICENSE, len(LICENSE))
    attr = ctypes.create_string_buffer(72)  # union bpf_attr up to expected_attach_type
    struct.pack_into(
        "=IIQQ",
        attr,
        0,
        BPF_PROG_TYPE_CGROUP_DEVICE,
        len(code) // 8,
        ctypes.addressof(insns),
        ctypes.addressof(lic),
    )
    struct.pack_into("=16s", attr, 48, b"dockerlab_dev")  # prog_name, for bpftool
    return _bpf(BPF_PROG_LOAD, attr)


def attach(prog_fd: int, cgroup_dir: str) -> None:
    """Attach the loaded filter to the cgroup folder ``cgroup_dir``. ``BPF_F_ALLOW_MULTI``
    as runc: the programs of the ancestors still run, and a nested engine may add its own."""
    fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        attr = ctypes.create_string_buffer(20)
        struct.pack_into("=IIII", attr, 0, fd, prog_fd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)
        _bpf(BPF_PROG_ATTACH, attr)
    finally:
        os.close(fd)


def apply(rules: list[Rule], cgroup_dir: str) -> None:
    """Load and attach; the attachment keeps the program alive until the cgroup goes."""
    prog = load(rules)
    try:
        attach(prog, cgroup_dir)
    finally:
        os.close(prog)


def supported() -> bool:
    """Can this process load a device program (kernel with cgroup BPF, and the right)?"""
    try:
        os.close(load([(True, "a", WILDCARD, WILDCARD, "rwm")]))
    except OSError:
        return False
    return True
