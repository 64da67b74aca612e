"""Pure cgroup translation: Resources -> files to write, kernel files -> Docker's stats.

File samples follow the formats of Documentation/admin-guide/cgroup-v1/*.rst and
Documentation/admin-guide/cgroup-v2.rst; the expected stats follow moby's
``daemon/stats_unix.go`` (``statsV1``/``statsV2``) and ``types.StatsJSON`` ``omitempty`` tags.
"""

from __future__ import annotations

import pytest

from dockerlab.engine.runtime.cgroups import Resources
from dockerlab.engine.runtime.cgroups import files as F
from dockerlab.engine.runtime.cgroups.mounts import cgroup_version, parse_mountinfo, v1_hierarchies
from dockerlab.errors import InvalidParameter

MiB = 1024 * 1024

# ---- Resources -> v1 files ----------------------------------------------------------------


def test_v1_memory_limit_doubles_as_memsw_by_default():
    files = F.v1_limit_files(Resources(memory=64 * MiB))
    assert list(files.items()) == [
        ("memory.limit_in_bytes", str(64 * MiB)),
        ("memory.memsw.limit_in_bytes", str(128 * MiB)),
    ]


def test_v1_unlimited_swap_is_written_first_as_minus_one():
    files = F.v1_limit_files(Resources(memory=64 * MiB, memory_swap=-1))
    assert list(files.items()) == [
        ("memory.memsw.limit_in_bytes", "-1"),
        ("memory.limit_in_bytes", str(64 * MiB)),
    ]


def test_v1_raising_memory_writes_memsw_before_memory():
    res = Resources(memory=300 * MiB, memory_swap=600 * MiB)
    files = F.v1_limit_files(res, current_memory=100 * MiB)
    assert list(files) == ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]


def test_v1_lowering_memory_writes_memory_before_memsw():
    res = Resources(memory=50 * MiB, memory_swap=60 * MiB)
    files = F.v1_limit_files(res, current_memory=100 * MiB)
    assert list(files) == ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]


def test_v1_swap_limit_is_dropped_without_swap_accounting():
    files = F.v1_limit_files(Resources(memory=64 * MiB, memory_swap=100 * MiB), memsw=False)
    assert files == {"memory.limit_in_bytes": str(64 * MiB)}


def test_v1_cpus_become_quota_over_100ms_period():
    files = F.v1_limit_files(Resources(nano_cpus=1_500_000_000))
    assert files == {"cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "150000"}


def test_v1_cpu_quota_period_and_shares_are_written_as_given():
    files = F.v1_limit_files(Resources(cpu_shares=512, cpu_quota=50000, cpu_period=200000))
    assert files == {
        "cpu.shares": "512",
        "cpu.cfs_period_us": "200000",
        "cpu.cfs_quota_us": "50000",
    }


@pytest.mark.parametrize("shares, written", [(1, "2"), (-5, "2"), (10**6, "262144")])
def test_v1_cpu_shares_out_of_range_are_clamped_like_docker(shares, written):
    assert F.v1_limit_files(Resources(cpu_shares=shares))["cpu.shares"] == written


@pytest.mark.parametrize("limit, written", [(100, "100"), (-1, "max")])
def test_pids_limit_positive_or_unlimited(limit, written):
    assert F.v1_limit_files(Resources(pids_limit=limit)) == {"pids.max": written}
    assert F.v2_limit_files(Resources(pids_limit=limit)) == {"pids.max": written}


def test_unset_resources_write_nothing():
    assert F.v1_limit_files(Resources()) == {}
    assert F.v2_limit_files(Resources()) == {}


def test_controller_of_file():
    assert F.controller_of("memory.memsw.limit_in_bytes") == "memory"
    assert F.controller_of("cpu.cfs_quota_us") == "cpu"


# ---- Resources -> v2 files ----------------------------------------------------------------


def test_v2_memory_and_default_swap_equal_to_memory():
    files = F.v2_limit_files(Resources(memory=64 * MiB))
    assert files == {"memory.max": str(64 * MiB), "memory.swap.max": str(64 * MiB)}


def test_v2_swap_max_is_memory_swap_minus_memory():
    files = F.v2_limit_files(Resources(memory=64 * MiB, memory_swap=100 * MiB))
    assert files["memory.swap.max"] == str(36 * MiB)


def test_v2_unlimited_swap_is_max():
    files = F.v2_limit_files(Resources(memory=64 * MiB, memory_swap=-1))
    assert files["memory.swap.max"] == "max"


def test_v2_swap_without_memory_is_refused():
    with pytest.raises(InvalidParameter, match="without memory limit"):
        F.v2_limit_files(Resources(memory_swap=100 * MiB))


def test_v2_cpus_become_cpu_max_quota_and_period():
    assert F.v2_limit_files(Resources(nano_cpus=1_500_000_000)) == {"cpu.max": "150000 100000"}


@pytest.mark.parametrize(
    "quota, period, written",
    [
        (50000, 0, "50000"),
        (50000, 200000, "50000 200000"),
        (-1, 0, "max"),
        (0, 200000, "max 200000"),
    ],
)
def test_v2_cpu_max_from_quota_and_period(quota, period, written):
    files = F.v2_limit_files(Resources(cpu_quota=quota, cpu_period=period))
    assert files == {"cpu.max": written}


@pytest.mark.parametrize(
    "shares, weight",
    [
        (2, 1),
        (1024, 100),
        (262144, 10000),
        (512, 59),
        (2048, 174),
        (0, 0),
    ],
)
def test_v2_cpu_weight_uses_runc_crun_quadratic(shares, weight):
    assert F.cpu_shares_to_weight(shares) == weight


def test_v2_cpu_shares_written_as_weight():
    assert F.v2_limit_files(Resources(cpu_shares=1024)) == {"cpu.weight": "100"}


# ---- parsing kernel files -----------------------------------------------------------------

V2_MEMORY_STAT = """\
anon 1048576
file 2097152
kernel 135168
kernel_stack 16384
pagetables 45056
sock 0
shmem 0
file_mapped 1011712
file_dirty 0
file_writeback 0
anon_thp 0
inactive_anon 1003520
active_anon 45056
inactive_file 1900544
active_file 196608
unevictable 0
slab_reclaimable 41344
slab_unreclaimable 30440
slab 71784
workingset_refault_anon 0
pgfault 1266
pgmajfault 11
"""

V2_CPU_STAT = """\
usage_usec 1234567
user_usec 1000000
system_usec 234567
core_sched.force_idle_usec 0
nr_periods 40
nr_throttled 3
throttled_usec 52000
nr_bursts 0
burst_usec 0
"""


def test_flat_keyed_file_gives_every_key():
    stat = F.parse_flat_keyed(V2_MEMORY_STAT)
    assert stat["anon"] == 1048576 and stat["pgmajfault"] == 11 and len(stat) == 22


def test_nested_keyed_io_stat():
    text = (
        "8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n"
        "253:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n"
    )
    assert F.parse_nested_keyed(text) == [
        (
            8,
            16,
            {
                "rbytes": 1459200,
                "wbytes": 314773504,
                "rios": 192,
                "wios": 353,
                "dbytes": 0,
                "dios": 0,
            },
        ),
        (253, 0, {"rbytes": 4096, "wbytes": 0, "rios": 1, "wios": 0, "dbytes": 0, "dios": 0}),
    ]


def test_v1_blkio_lines_with_and_without_op():
    text = (
        "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Discard 0\n"
        "8:0 Total 12288\nTotal 12288\n"
    )
    entries = F.parse_v1_blkio(text)
    assert entries[0] == {"major": 8, "minor": 0, "op": "Read", "value": 4096}
    assert [e["op"] for e in entries] == ["Read", "Write", "Sync", "Async", "Discard", "Total"]
    assert F.parse_v1_blkio("8:0 77\n") == [{"major": 8, "minor": 0, "op": "", "value": 77}]


@pytest.mark.parametrize(
    "text, value", [("1234\n", 1234), ("max\n", F.UINT64_MAX), (None, 0), ("-1\n", 0)]
)
def test_one_value_files(text, value):
    assert F.parse_int(text) == value


def test_proc_stat_gives_host_cpu_ns_and_online_cpus():
    text = (
        "cpu  100 0 50 1000 10 0 5 7 0 0\n"
        "cpu0 50 0 25 500 5 0 3 0 0 0\ncpu1 50 0 25 500 5 0 2 0 0 0\n"
        "intr 1 2 3\nctxt 99\n"
    )
    # the first seven fields (user..softirq), USER_HZ=100 ticks -> ns; steal is not counted
    assert F.parse_proc_stat(text) == ((100 + 50 + 1000 + 10 + 5) * 10_000_000, 2)


def test_meminfo_total_in_bytes():
    assert F.parse_meminfo_total("MemTotal:       24684648 kB\nMemFree: 1 kB\n") == 24684648 * 1024


def test_frozen_and_oom_flags():
    assert F.is_v1_frozen("FROZEN\n") and not F.is_v1_frozen("FREEZING\n")
    assert F.is_v2_frozen("populated 1\nfrozen 1\n") and not F.is_v2_frozen("frozen 0\n")
    assert F.v1_oom_kills("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n") == 2
    assert F.v2_oom_kills("low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n") == 1


# ---- kernel files -> Docker stats ---------------------------------------------------------

HOST = {"system_cpu_usage": 5_000_000_000, "online_cpus": 2, "machine_memory": 1 << 30}


def test_v2_stats_follow_docker_statsV2():
    files = {
        "cpu.stat": V2_CPU_STAT,
        "memory.current": "3145728\n",
        "memory.max": "max\n",
        "memory.stat": V2_MEMORY_STAT,
        "memory.events": "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n",
        "pids.current": "3\n",
        "pids.max": "max\n",
        "io.stat": "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n",
    }
    stats = F.v2_stats(files, **HOST)
    assert stats["cpu_stats"] == {
        "cpu_usage": {
            "total_usage": 1234567000,
            "usage_in_kernelmode": 234567000,
            "usage_in_usermode": 1000000000,
        },
        "system_cpu_usage": 5_000_000_000,
        "online_cpus": 2,
        "throttling_data": {"periods": 40, "throttled_periods": 3, "throttled_time": 52000000},
    }
    mem = stats["memory_stats"]
    assert mem["usage"] == 3145728 and mem["limit"] == 1 << 30  # unlimited -> host memory
    assert mem["failcnt"] == 1 and "max_usage" not in mem
    assert mem["stats"]["inactive_file"] == 1900544 and mem["stats"]["anon"] == 1048576
    assert stats["pids_stats"] == {"current": 3, "limit": F.UINT64_MAX}
    blkio = stats["blkio_stats"]
    assert blkio["io_service_bytes_recursive"] == [
        {"major": 8, "minor": 0, "op": "read", "value": 4096},
        {"major": 8, "minor": 0, "op": "write", "value": 8192},
    ]
    assert blkio["io_serviced_recursive"] is None and len(blkio) == 8


def test_v2_stats_with_a_limit_and_no_io():
    files = {
        "memory.max": "67108864\n",
        "memory.current": "1000\n",
        "pids.max": "50\n",
        "io.stat": "",
    }
    stats = F.v2_stats(files, **HOST)
    assert stats["memory_stats"]["limit"] == 67108864
    assert "failcnt" not in stats["memory_stats"]
    assert stats["pids_stats"] == {"limit": 50}
    assert stats["blkio_stats"]["io_service_bytes_recursive"] is None


def test_v1_stats_follow_docker_statsV1():
    files = {
        "cpuacct.usage": "2500000000\n",
        "cpuacct.usage_percpu": "1500000000 1000000000 \n",
        "cpuacct.stat": "user 180\nsystem 40\n",
        "cpu.stat": "nr_periods 10\nnr_throttled 2\nthrottled_time 3000000\n",
        "memory.usage_in_bytes": "4194304\n",
        "memory.max_usage_in_bytes": "8388608\n",
        "memory.limit_in_bytes": "9223372036854771712\n",
        "memory.failcnt": "0\n",
        "memory.stat": "cache 1000\nrss 2000\ntotal_inactive_file 300\n"
        "hierarchical_memory_limit 9223372036854771712\n",
        "pids.current": "2\n",
        "pids.max": "max\n",
        "blkio.io_service_bytes_recursive": None,
        "blkio.throttle.io_service_bytes_recursive": "8:0 Read 4096\n8:0 Write 0\n"
        "8:0 Total 4096\nTotal 4096\n",
        "blkio.throttle.io_serviced_recursive": "8:0 Read 1\n8:0 Write 0\nTotal 1\n",
    }
    stats = F.v1_stats(files, **HOST)
    assert stats["cpu_stats"] == {
        "cpu_usage": {
            "total_usage": 2500000000,
            "percpu_usage": [1500000000, 1000000000],
            "usage_in_kernelmode": 400000000,
            "usage_in_usermode": 1800000000,
        },
        "system_cpu_usage": 5_000_000_000,
        "online_cpus": 2,
        "throttling_data": {"periods": 10, "throttled_periods": 2, "throttled_time": 3000000},
    }
    assert stats["memory_stats"] == {
        "usage": 4194304,
        "max_usage": 8388608,
        "limit": 1 << 30,
        "stats": {
            "cache": 1000,
            "rss": 2000,
            "total_inactive_file": 300,
            "hierarchical_memory_limit": 9223372036854771712,
        },
    }
    assert stats["pids_stats"] == {"current": 2}  # "max" is limit 0, omitted like Docker
    blkio = stats["blkio_stats"]
    assert [e["op"] for e in blkio["io_service_bytes_recursive"]] == ["Read", "Write", "Total"]
    assert blkio["io_serviced_recursive"][0]["value"] == 1
    assert blkio["sectors_recursive"] == [] and len(blkio) == 8


# ---- mountinfo ----------------------------------------------------------------------------

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
UNIFIED = "28 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"


def test_hybrid_host_with_unified_mount_is_v1():
    assert cgroup_version(parse_mountinfo(HYBRID)) == 1


def test_host_whose_sys_fs_cgroup_is_cgroup2_is_v2():
    assert cgroup_version(parse_mountinfo(UNIFIED)) == 2


def test_comounted_v1_controllers_share_a_mount_point():
    h = v1_hierarchies(parse_mountinfo(HYBRID))
    assert h["cpu"] == h["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct"
    assert h["memory"] == "/sys/fs/cgroup/memory"
    assert "systemd" not in h and "name=systemd" not in h


def test_mountinfo_octal_escapes_are_decoded():
    line = "50 31 0:40 / /mnt/a\\040b rw - cgroup cgroup rw,pids\n"
    assert v1_hierarchies(parse_mountinfo(line)) == {"pids": "/mnt/a b"}
