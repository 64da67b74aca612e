"""Resources from Docker's HostConfig, and Docker's refusals of bad values."""

from __future__ import annotations

import pytest

from dockerlab.engine.runtime.cgroups import Resources, validate
from dockerlab.engine.runtime.cgroups.base import check_name
from dockerlab.errors import InvalidParameter

MiB = 1024 * 1024


def test_host_config_keys_map_to_resources():
    hc = {
        "Memory": 64 * MiB,
        "MemorySwap": -1,
        "NanoCpus": 1_500_000_000,
        "CpuShares": 512,
        "CpuQuota": 0,
        "CpuPeriod": 0,
        "PidsLimit": 100,
        "Privileged": False,
    }
    assert Resources.from_host_config(hc) == Resources(
        memory=64 * MiB, memory_swap=-1, nano_cpus=1_500_000_000, cpu_shares=512, pids_limit=100
    )


def test_missing_and_null_host_config_values_are_unset():
    assert Resources.from_host_config({"PidsLimit": None}) == Resources()
    assert Resources.from_host_config(None) == Resources()


def test_non_numeric_host_config_value_is_refused():
    with pytest.raises(InvalidParameter, match="HostConfig.Memory"):
        Resources.from_host_config({"Memory": "64m"})


def test_resources_are_immutable():
    with pytest.raises(AttributeError):
        Resources().memory = 1  # type: ignore[misc]


def test_needed_controllers_follow_the_limits_set():
    assert Resources().needs() == frozenset()
    assert Resources(memory=64 * MiB, nano_cpus=10**9, pids_limit=5).needs() == {
        "memory",
        "cpu",
        "pids",
    }


@pytest.mark.parametrize(
    "res, message",
    [
        (Resources(memory=1024), "Minimum memory limit allowed is 6MB"),
        (
            Resources(memory=64 * MiB, memory_swap=32 * MiB),
            "Minimum memoryswap limit should be larger than memory limit",
        ),
        (Resources(memory_swap=64 * MiB), "You should always set the Memory limit"),
        (
            Resources(nano_cpus=10**9, cpu_period=100000),
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ),
        (
            Resources(nano_cpus=10**9, cpu_quota=100000),
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ),
        (
            Resources(nano_cpus=3 * 10**9),
            r"Range of CPUs is from 0.01 to 2.00, as there are only 2",
        ),
        (Resources(nano_cpus=1000), r"Range of CPUs is from 0.01 to 2.00"),
        (Resources(cpu_period=500), "CPU cfs period can not be less than 1ms"),
        (Resources(cpu_quota=999), "CPU cfs quota can not be less than 1ms"),
    ],
)
def test_docker_refuses_bad_limits_with_its_message(res, message):
    with pytest.raises(InvalidParameter, match=message):
        validate(res, ncpus=2)


def test_swap_alone_is_allowed_on_update():
    validate(Resources(memory_swap=64 * MiB), ncpus=2, update=True)


def test_good_limits_pass():
    validate(
        Resources(memory=6 * MiB, memory_swap=-1, nano_cpus=10**7, cpu_shares=1, pids_limit=-1),
        ncpus=2,
    )


@pytest.mark.parametrize("name", ["", "/", "a/../b", "a//b", "./a"])
def test_bad_cgroup_names_are_refused(name):
    with pytest.raises(InvalidParameter):
        check_name(name)


def test_cgroup_name_leading_slash_is_dropped():
    assert check_name("/dockerlab/abc") == "dockerlab/abc"


def test_resources_compare_hash_and_replace_by_value():
    res = Resources(memory=64 * MiB)
    assert res == Resources(memory=64 * MiB) and hash(res) == hash(Resources(memory=64 * MiB))
    assert res.replace(pids_limit=5) == Resources(memory=64 * MiB, pids_limit=5)
    assert repr(Resources(cpu_shares=2)).startswith("Resources(memory=0, memory_swap=0")
