"""Shared fixtures: real engines on temporary state roots, with capability checks."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def _missing_capability() -> str | None:
    """Why real containers cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "root (CAP_SYS_ADMIN) is needed to create namespaces and mount overlayfs"
    with open("/proc/filesystems") as f:
        if "overlay" not in f.read():
            return "the kernel has no overlayfs"
    if not os.path.exists("/bin/busybox"):
        return "/bin/busybox is missing (Debian package busybox-static)"
    probe = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--uts", "--ipc", "true"],
                           capture_output=True)
    if probe.returncode != 0:
        return "namespaces cannot be created: " + probe.stderr.decode().strip()
    return None


MISSING = _missing_capability()


@pytest.fixture(scope="session")
def busybox_root(tmp_path_factory):
    """A state root holding busybox:latest, copied into each test's own root."""
    if MISSING:
        pytest.skip(MISSING)
    from dockerlab.engine import Engine

    root = tmp_path_factory.mktemp("seed") / "root"
    Engine(str(root)).image_bootstrap("busybox")
    return root


@pytest.fixture
def engine(busybox_root, tmp_path):
    """A real engine on a fresh root with busybox:latest; every container removed after."""
    from dockerlab.engine import Engine

    root = tmp_path / "root"
    shutil.copytree(busybox_root, root, symlinks=True)
    eng = Engine(str(root))
    yield eng
    for cid in eng.container_ids():
        try:
            eng.remove(cid, force=True)
        except Exception:  # noqa: BLE001 - teardown must go on
            pass
    shutil.rmtree(eng.paths.run, ignore_errors=True)
