"""CgroupV2 reading and writing against a fake directory tree of v2-format files.

This is the one place the project fakes the kernel, and only for cgroup v2: the CI machine
is a cgroup v1 host whose ``/sys/fs/cgroup/unified`` mount has no usable controllers, so a
real v2 cgroup cannot be made there. The files below mimic what the kernel shows
(Documentation/admin-guide/cgroup-v2.rst); the same class runs unchanged on a real
``/sys/fs/cgroup`` cgroup2 mount. The v1 class is tested on the real kernel instead
(tests/integration/test_cgroups_v1.py).
"""

from __future__ import annotations

import signal

import pytest

from dockerlab.engine.runtime.cgroups import Resources
from dockerlab.engine.runtime.cgroups.v2 import CgroupV2
from dockerlab.errors import Forbidden, InvalidParameter

MiB = 1024 * 1024
LEAF_FILES = {
    "cgroup.procs": "",
    "cgroup.events": "populated 0\nfrozen 0\n",
    "cgroup.freeze": "0\n",
    "cgroup.kill": "",
    "memory.max": "max\n",
    "memory.swap.max": "max\n",
    "memory.current": "0\n",
    "memory.stat": "anon 0\nfile 0\n",
    "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
    "cpu.max": "max 100000\n",
    "cpu.weight": "100\n",
    "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
    "pids.max": "max\n",
    "pids.current": "0\n",
    "io.stat": "",
}


@pytest.fixture
def tree(tmp_path):
    """root/ offering cpu io memory pids, with dockerlab-test/c1 already populated."""
    root = tmp_path / "cgroup"
    leaf = root / "dockerlab-test" / "c1"
    leaf.mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma misc\n")
    (root / "cgroup.subtree_control").write_text("")
    (root / "dockerlab-test" / "cgroup.subtree_control").write_text("")
    for name, text in LEAF_FILES.items():
        (leaf / name).write_text(text)
    return root


def _cgroup(root) -> CgroupV2:
    return CgroupV2("dockerlab-test/c1", root=str(root))


def test_create_delegates_controllers_down_the_path(tree):
    _cgroup(tree).create(Resources())
    for parent in (tree, tree / "dockerlab-test"):
        written = (parent / "cgroup.subtree_control").read_text()
        assert all(f"+{c}" in written for c in ("cpu", "memory", "pids", "io"))
        assert "+cpuset" not in written


def test_create_skips_controllers_already_delegated(tree):
    (tree / "cgroup.subtree_control").write_text("cpu io memory pids\n")
    _cgroup(tree).create(Resources())
    assert (tree / "cgroup.subtree_control").read_text() == "cpu io memory pids\n"


def test_create_writes_v2_limit_files(tree):
    _cgroup(tree).create(
        Resources(memory=64 * MiB, nano_cpus=5 * 10**8, cpu_shares=1024, pids_limit=20)
    )
    leaf = tree / "dockerlab-test" / "c1"
    assert (leaf / "memory.max").read_text() == str(64 * MiB)
    assert (leaf / "memory.swap.max").read_text() == str(64 * MiB)
    assert (leaf / "cpu.max").read_text().startswith("50000 100000")
    assert (leaf / "cpu.weight").read_text().startswith("100")
    assert (leaf / "pids.max").read_text().startswith("20")


def test_swap_limit_is_dropped_without_swap_accounting(tree):
    (tree / "dockerlab-test" / "c1" / "memory.swap.max").unlink()
    _cgroup(tree).create(Resources(memory=64 * MiB, memory_swap=-1))
    assert not (tree / "dockerlab-test" / "c1" / "memory.swap.max").exists()


def test_missing_controller_is_named(tree):
    (tree / "cgroup.controllers").write_text("cpu io pids\n")
    with pytest.raises(Forbidden, match="cgroup controller 'memory' is not available on this"):
        _cgroup(tree).create(Resources(memory=64 * MiB))


def test_bad_value_is_refused_before_any_write(tree):
    with pytest.raises(InvalidParameter, match="Minimum memory limit"):
        _cgroup(tree).create(Resources(memory=MiB))
    assert (tree / "cgroup.subtree_control").read_text() == ""


def test_add_and_pids_use_cgroup_procs(tree):
    cg = _cgroup(tree)
    cg.add(4242)
    assert (tree / "dockerlab-test" / "c1" / "cgroup.procs").read_text() == "4242"
    (tree / "dockerlab-test" / "c1" / "cgroup.procs").write_text("17\n5\n")
    assert cg.pids() == [5, 17]


def test_freeze_waits_for_cgroup_events_frozen(tree):
    leaf = tree / "dockerlab-test" / "c1"
    cg = _cgroup(tree)
    assert not cg.frozen()
    (leaf / "cgroup.events").write_text("populated 1\nfrozen 1\n")  # the kernel's answer
    cg.freeze()
    assert (leaf / "cgroup.freeze").read_text().startswith("1")
    assert cg.frozen()
    cg.thaw()
    assert (leaf / "cgroup.freeze").read_text().startswith("0")


def test_sigkill_goes_through_cgroup_kill(tree):
    _cgroup(tree).kill_all(signal.SIGKILL)
    assert (tree / "dockerlab-test" / "c1" / "cgroup.kill").read_text() == "1"


def test_oom_kill_is_read_from_memory_events(tree):
    cg = _cgroup(tree)
    assert not cg.oom_killed()
    (tree / "dockerlab-test" / "c1" / "memory.events").write_text(
        "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\noom_group_kill 0\n"
    )
    assert cg.oom_killed()


def test_stats_read_v2_files(tree):
    leaf = tree / "dockerlab-test" / "c1"
    (leaf / "cpu.stat").write_text(
        "usage_usec 2000\nuser_usec 1500\nsystem_usec 500\n"
        "nr_periods 0\nnr_throttled 0\nthrottled_usec 0\n"
    )
    (leaf / "memory.current").write_text("8192\n")
    (leaf / "memory.max").write_text("67108864\n")
    (leaf / "pids.current").write_text("2\n")
    (leaf / "io.stat").write_text("8:0 rbytes=512 wbytes=1024 rios=1 wios=1 dbytes=0 dios=0\n")
    stats = _cgroup(tree).stats()
    assert stats["cpu_stats"]["cpu_usage"] == {
        "total_usage": 2_000_000,
        "usage_in_kernelmode": 500_000,
        "usage_in_usermode": 1_500_000,
    }
    assert stats["cpu_stats"]["system_cpu_usage"] > 0  # the real host's /proc/stat
    assert stats["cpu_stats"]["online_cpus"] >= 1
    assert stats["memory_stats"]["usage"] == 8192
    assert stats["memory_stats"]["limit"] == 67108864
    assert stats["pids_stats"] == {"current": 2, "limit": 2**64 - 1}
    assert [e["value"] for e in stats["blkio_stats"]["io_service_bytes_recursive"]] == [512, 1024]


def test_destroy_of_a_missing_cgroup_is_fine(tmp_path):
    CgroupV2("dockerlab-test/gone", root=str(tmp_path)).destroy()


def test_cpuset_is_delegated_only_to_a_container_that_asks(tree):
    leaf = tree / "dockerlab-test" / "c1"
    for name in ("cpuset.cpus", "cpuset.mems", "memory.low"):
        (leaf / name).write_text("\n")
    _cgroup(tree).create(Resources(cpuset_cpus="1", cpuset_mems="0", memory_reservation=8 * MiB))
    for parent in (tree, tree / "dockerlab-test"):
        assert "+cpuset" in (parent / "cgroup.subtree_control").read_text()
    assert (leaf / "cpuset.cpus").read_text() == "1"
    assert (leaf / "cpuset.mems").read_text() == "0"
    assert (leaf / "memory.low").read_text() == str(8 * MiB)


def test_update_delegates_cpuset_to_a_container_made_without_it(tree):
    leaf = tree / "dockerlab-test" / "c1"
    (leaf / "cpuset.cpus").write_text("\n")
    cg = _cgroup(tree)
    cg.create(Resources())
    assert "+cpuset" not in (tree / "cgroup.subtree_control").read_text()
    cg.update(Resources(cpuset_cpus="0"))
    for parent in (tree, tree / "dockerlab-test"):
        assert "+cpuset" in (parent / "cgroup.subtree_control").read_text()
    assert (leaf / "cpuset.cpus").read_text() == "0"
