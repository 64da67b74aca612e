"""``busybox:latest`` without a registry, from the host's static busybox.

The rootfs holds ``/bin/busybox``, one symlink per applet, a minimal ``/etc`` and the usual
empty folders. Every file gets the busybox binary's mtime and owner root, and the tar is
packed deterministically, so bootstrapping twice gives the same image ID. The history entry
says where the binary came from (Debian package and version when dpkg knows it).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
import time

from dockerlab.engine.images.store import ImageStore
from dockerlab.engine.work import prefix as work_prefix
from dockerlab.errors import NotFound

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DIRS = (
    ("bin", 0o755),
    ("dev", 0o755),
    ("etc", 0o755),
    ("home", 0o755),
    ("proc", 0o555),
    ("root", 0o700),
    ("sys", 0o555),
    ("tmp", 0o1777),
    ("var", 0o755),
)
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
GROUP = "root:x:0:\nnobody:x:65534:\n"
# uname -m → OCI architecture (and variant)
_ARCH = {
    "x86_64": ("amd64", ""),
    "amd64": ("amd64", ""),
    "aarch64": ("arm64", "v8"),
    "arm64": ("arm64", "v8"),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "i386": ("386", ""),
    "i686": ("386", ""),
    "ppc64le": ("ppc64le", ""),
    "s390x": ("s390x", ""),
    "riscv64": ("riscv64", ""),
}


def host_platform() -> tuple[str, str]:
    """(architecture, variant) of this host, in OCI terms."""
    machine = platform.machine()
    return _ARCH.get(machine, (machine, ""))


def _origin(busybox: str) -> str:
    """``from Debian busybox-static 1:1.35.0-…`` or the binary's own banner."""
    try:
        version = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "busybox-static"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if version.returncode == 0 and version.stdout.strip():
            return f"from Debian busybox-static {version.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        banner = subprocess.run(
            [busybox], capture_output=True, text=True, timeout=10, check=False
        ).stdout.splitlines()
        if banner:
            return banner[0].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return "of unknown origin"


def _applets(busybox: str) -> list[str]:
    out = subprocess.run(
        [busybox, "--list"], capture_output=True, text=True, timeout=10, check=True
    ).stdout
    return sorted({a.strip() for a in out.split() if a.strip() and "/" not in a} - {"busybox"})


def _rfc3339(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def build_rootfs(busybox: str, folder: str, mtime: int) -> None:
    """Fill the empty ``folder`` with the busybox rootfs, all times set to ``mtime``."""
    for name, mode in DIRS:
        path = os.path.join(folder, name)
        os.mkdir(path)
        os.chmod(path, mode)
    target = os.path.join(folder, "bin", "busybox")
    shutil.copyfile(busybox, target)
    os.chmod(target, 0o755)
    for applet in _applets(busybox):
        os.symlink("busybox", os.path.join(folder, "bin", applet))
    for name, text in (("passwd", PASSWD), ("group", GROUP)):
        path = os.path.join(folder, "etc", name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
    # owner root and fixed times everywhere; folders last, deepest first
    for dirpath, dirs, files in os.walk(folder, topdown=False):
        for name in files + dirs:
            path = os.path.join(dirpath, name)
            if os.geteuid() == 0:  # (rootless: the user is the container's root)
                os.lchown(path, 0, 0)
            os.utime(path, (mtime, mtime), follow_symlinks=False)
    if os.geteuid() == 0:
        os.chown(folder, 0, 0)
    os.utime(folder, (mtime, mtime))


def bootstrap_busybox(
    store: ImageStore, busybox: str = "/bin/busybox", tag: str = "busybox:latest"
) -> str:
    """Make ``tag`` from the host's static busybox and return its image ID (idempotent)."""
    from dockerlab.engine.images.archive import pack_dir

    if not os.path.isfile(busybox):
        raise NotFound(
            f"busybox not found at {busybox}: install Debian's busybox-static "
            "(apt-get install busybox-static)"
        )
    mtime = int(os.stat(busybox).st_mtime)
    created = _rfc3339(mtime)
    arch, variant = host_platform()
    os.makedirs(store.paths.tmp, mode=0o700, exist_ok=True)
    work = tempfile.mkdtemp(prefix=work_prefix("bootstrap"), dir=store.paths.tmp)
    try:
        rootfs = os.path.join(work, "rootfs")
        os.mkdir(rootfs)
        build_rootfs(busybox, rootfs, mtime)
        tar_path = os.path.join(work, "layer.tar")
        with open(tar_path, "wb") as f:
            pack_dir(rootfs, f)
        config = {
            "architecture": arch,
            "os": "linux",
            "created": created,
            "config": {"Env": [DEFAULT_PATH], "Cmd": ["sh"]},
            "history": [
                {
                    "created": created,
                    "created_by": f"dockerlab image bootstrap busybox: {busybox} "
                    f"{_origin(busybox)}",
                },
                {
                    "created": created,
                    "created_by": '/bin/sh -c #(nop)  CMD ["sh"]',
                    "empty_layer": True,
                },
            ],
        }
        if variant:
            config["variant"] = variant
        return store.create([tar_path], config, tags=[tag])
    finally:
        shutil.rmtree(work, ignore_errors=True)
