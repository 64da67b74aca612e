"""Shared fixtures: real engines on temporary state roots, with capability checks."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess

import pytest
from daemon_fixture import api_daemon  # noqa: F401 - the daemon fixture, for every test
from helpers import wait_until
from users import unprivileged_user  # noqa: F401 - a temporary unprivileged user, for every test


def _missing_capability() -> str | None:
    """Why real containers cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "root (CAP_SYS_ADMIN) is needed to create namespaces and mount overlayfs"
    with open("/proc/filesystems") as f:
        if "overlay" not in f.read():
            return "the kernel has no overlayfs"
    if not os.path.exists("/bin/busybox"):
        return "/bin/busybox is missing (Debian package busybox-static)"
    probe = subprocess.run(
        ["unshare", "--mount", "--pid", "--fork", "--uts", "--ipc", "true"], capture_output=True
    )
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
    ids = eng.container_ids()
    for cid in ids:
        try:
            eng.remove(cid, force=True)
        except Exception:  # noqa: BLE001 - teardown must go on
            pass
    net_leaks = _network_leaks(eng.paths.root)
    from dockerlab.engine.network import record

    record.remove_default_bridge(eng.paths)  # each test root has a network of its own
    from dockerlab.engine.network import networks

    networks.remove_all(eng.paths)  # and its user networks (their leaks were counted)
    leaks = net_leaks + _leaks(eng.paths.root, eng.paths.run, ids)
    shutil.rmtree(eng.paths.run, ignore_errors=True)
    if leaks:
        pytest.fail("the test leaked:\n  " + "\n  ".join(leaks), pytrace=False)


def _mounts_under(*dirs: str) -> list[str]:
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            # field 5 is the mount point, with space, tab, newline and backslash octal-escaped
            point = line.split()[4].encode().decode("unicode_escape")
            if any(point == d or point.startswith(d.rstrip("/") + "/") for d in dirs):
                found.append(f"mount {point}")
    return found


def _cgroups_of(ids: list[str]) -> list[str]:
    return [
        f"cgroup {path}"
        for cid in ids
        for path in glob.glob(f"/sys/fs/cgroup/*/dockerlab/{cid}")
        + glob.glob(f"/sys/fs/cgroup/dockerlab/{cid}")
    ]


def bridge_ports(root: str) -> list[str]:
    """The container ends on the root's bridge (in the bridge's own namespace)."""
    try:
        with open(os.path.join(root, "network", "bridge.json")) as f:
            netns = json.load(f)["NetNS"]
    except (OSError, ValueError, KeyError):
        return []
    if not os.path.exists(netns):
        return []
    out = subprocess.run(
        ["nsenter", f"--net={netns}", "ip", "-o", "link", "show", "master", "br0"],
        capture_output=True,
        text=True,
    ).stdout
    names = [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]
    return [n for n in names if n != "uplink"]


def held_addresses(root: str) -> list[str]:
    try:
        with open(os.path.join(root, "network", "bridge.ipam")) as f:
            return [line.strip() for line in f if line.strip()]
    except OSError:
        return []


def held_host_ports(root: str) -> list[str]:
    """Host ports the root's table still reserves (network/ports, counters aside)."""
    try:
        with open(os.path.join(root, "network", "ports")) as f:
            return [line.strip() for line in f if line.strip() and not line.startswith("next")]
    except OSError:
        return []


def user_network_ports(root: str) -> list[str]:
    """The container ends on the root's user networks' bridges, and their addresses."""
    out = []
    for path in glob.glob(os.path.join(root, "network", "*.json")):
        try:
            with open(path) as f:
                rec = json.load(f)
        except (OSError, ValueError):
            continue
        if not rec.get("User"):
            continue
        if os.path.exists(rec["NetNS"]):
            links = subprocess.run(
                ["nsenter", f"--net={rec['NetNS']}", "ip", "-o", "link", "show", "master", "br0"],
                capture_output=True,
                text=True,
            ).stdout
            names = [line.split(":")[1].strip().split("@")[0] for line in links.splitlines()]
            out += [f"veth {n} ({rec['Name']})" for n in names if n != "uplink"]
        try:
            with open(os.path.join(root, "network", f"{rec['Name']}.ipam")) as f:
                out += [f"address {a.strip()} ({rec['Name']})" for a in f if a.strip()]
        except OSError:
            pass
    return out


def _network_of(root: str) -> list[str]:
    return (
        [f"veth {p}" for p in bridge_ports(root)]
        + [f"address {a}" for a in held_addresses(root)]
        + [f"host port {p}" for p in held_host_ports(root)]
        + user_network_ports(root)
    )


def _network_leaks(root: str) -> list[str]:
    """Veths left on the root's bridge and addresses its IPAM still holds (bounded wait:
    a removed container's namespace goes a moment after its monitor)."""
    wait_until(lambda: not _network_of(root), timeout=10)
    return _network_of(root)


def _leaks(root: str, run: str, ids: list[str]) -> list[str]:
    """Mounts under the test's root or runtime folder, and cgroups of its containers.

    A removed container's monitor may still be tearing down as `remove` returns, so this
    waits (bounded) for the kernel's view to settle before calling anything a leak.
    """

    def leaks() -> list[str]:
        return _mounts_under(root, run) + _cgroups_of(ids)

    wait_until(lambda: not leaks(), timeout=10)
    return leaks()


_RUN_BEFORE: set[str] = set()


def pytest_sessionstart(session):
    _RUN_BEFORE.update(glob.glob("/run/dockerlab-*"))


def pytest_sessionfinish(session, exitstatus):
    """Roots made by tests (tmp folders, gone now) leave their runtime folders under /run:
    remove the empty ones this session made (a non-empty one is a leak the tests report)."""
    for path in set(glob.glob("/run/dockerlab-*")) - _RUN_BEFORE:
        for sub in ("netns", ""):
            try:
                os.rmdir(os.path.join(path, sub))
            except OSError:
                pass
