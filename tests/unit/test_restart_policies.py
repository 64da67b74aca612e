"""--restart, update and the cpuset/reservation flags: parsing, Docker's rules and messages."""

from __future__ import annotations

import io

import pytest

from dockerlab.cli import main
from dockerlab.cli.options import create_body, update_body
from dockerlab.cli.parser import parse
from dockerlab.engine.containers.update import merged_host_config
from dockerlab.engine.runtime import restarts as R
from dockerlab.engine.runtime.cgroups import Resources, validate
from dockerlab.engine.runtime.cgroups import files as F
from dockerlab.engine.runtime.cgroups.resources import check_cpusets, parse_list
from dockerlab.errors import ClientError, InvalidParameter, UsageError, exit_code

MiB = 1024 * 1024


def body(*argv: str):
    return create_body(parse(list(argv)), environ={})[1]


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


# ---- --restart on run/create -------------------------------------------------------------
@pytest.mark.parametrize(
    "flag, policy",
    [
        ("no", {"Name": "no", "MaximumRetryCount": 0}),
        ("always", {"Name": "always", "MaximumRetryCount": 0}),
        ("unless-stopped", {"Name": "unless-stopped", "MaximumRetryCount": 0}),
        ("on-failure", {"Name": "on-failure", "MaximumRetryCount": 0}),
        ("on-failure:5", {"Name": "on-failure", "MaximumRetryCount": 5}),
        ("on-failure:", {"Name": "on-failure", "MaximumRetryCount": 0}),
        ("always:3", {"Name": "always", "MaximumRetryCount": 3}),  # refused by the engine
        ("bogus", {"Name": "bogus", "MaximumRetryCount": 0}),  # ditto
    ],
)
def test_restart_flag_becomes_the_policy_docker_sends(flag, policy):
    assert body("run", "--restart", flag, "busybox")["HostConfig"]["RestartPolicy"] == policy


def test_no_restart_flag_is_no():
    assert body("run", "busybox")["HostConfig"]["RestartPolicy"] == {
        "Name": "no",
        "MaximumRetryCount": 0,
    }


@pytest.mark.parametrize(
    "flag, message",
    [
        ("on-failure:x", "invalid restart policy format: maximum retry count must be an integer"),
        ("a:b:c", "invalid restart policy format: maximum retry count must be an integer"),
        (":3", "invalid restart policy format: no policy provided before colon"),
    ],
)
def test_malformed_restart_is_the_clients_error(flag, message):
    code, _, err = cli("run", "--restart", flag, "busybox", "true")
    assert code == 125
    assert err == f"dockerlab: {message}\n\nRun 'dockerlab run --help' for more information\n"


def test_rm_with_a_restart_policy_is_refused_with_dockers_text():
    for verb in ("run", "create"):
        code, _, err = cli(verb, "--rm", "--restart", "always", "busybox", "true")
        assert code == 125
        assert err == (
            "dockerlab: conflicting options: cannot specify both --restart and --rm\n\n"
            f"Run 'dockerlab {verb} --help' for more information\n"
        )
    # --rm with "no" is fine
    hc = body("run", "--rm", "--restart", "no", "busybox")["HostConfig"]
    assert hc["AutoRemove"] is True


@pytest.mark.parametrize(
    "name, count, message",
    [
        ("bogus", 0, "invalid restart policy 'bogus'"),
        ("always", 3, "maximum retry count cannot be used with restart policy 'always'"),
        ("unless-stopped", 1, "maximum retry count cannot be used with restart policy"),
        ("no", 2, "maximum retry count cannot be used with restart policy 'no'"),
        ("on-failure", -1, "maximum retry count cannot be negative"),
    ],
)
def test_the_engine_refuses_policies_as_the_daemon(name, count, message):
    from dockerlab.engine.containers.create import verify_host_config

    assert message in (R.policy_error(name, count) or "")
    with pytest.raises(InvalidParameter, match=message):
        verify_host_config({"RestartPolicy": {"Name": name, "MaximumRetryCount": count}})


def test_the_engine_refuses_auto_remove_with_a_policy():
    from dockerlab.engine.containers.create import verify_host_config

    with pytest.raises(InvalidParameter, match="can't create 'AutoRemove' container with restart"):
        verify_host_config({"AutoRemove": True, "RestartPolicy": {"Name": "always"}})


# ---- the rules of moby's restartmanager ----------------------------------------------------
def test_should_restart_follows_each_policy():
    assert not R.should_restart("no", 0, 1, False, 0)
    assert R.should_restart("always", 0, 0, True, 99)  # even after a manual stop (no cancel)
    assert R.should_restart("unless-stopped", 0, 0, False, 5)
    assert not R.should_restart("unless-stopped", 0, 1, True, 0)
    assert R.should_restart("on-failure", 0, 1, False, 1000)  # 0: no limit
    assert not R.should_restart("on-failure", 0, 0, False, 0)  # success: done
    assert R.should_restart("on-failure", 3, 2, False, 2)
    assert not R.should_restart("on-failure", 3, 2, False, 3)  # three restarts were the max


def test_back_off_doubles_from_100ms_to_a_minute_and_resets_after_10s():
    delays, delay = [], 0.0
    for _ in range(12):
        delay = R.next_delay(delay, ran_for=0.5)
        delays.append(delay)
    assert delays[:4] == [0.1, 0.2, 0.4, 0.8]
    assert delays[-1] == 60.0 and max(delays) == 60.0
    assert R.next_delay(60.0, ran_for=10.0) == 0.1
    assert R.next_delay(0.4, ran_for=9.9) == 0.8


def test_policy_text_round_trips():
    assert R.decode(R.encode("on-failure", 3)) == ("on-failure", 3)
    assert R.decode("always") == ("always", 0)


# ---- update ---------------------------------------------------------------------------------
def test_update_body_from_flags():
    ns = parse(["update", "-m", "100m", "--memory-swap", "200m", "--cpus", "0.5",
                "--pids-limit", "40", "--cpuset-cpus", "0", "--memory-reservation", "50m",
                "--restart", "on-failure:2", "c1", "c2"])  # fmt: skip
    assert ns.containers == ["c1", "c2"]
    b = update_body(ns)
    assert (b["Memory"], b["MemorySwap"], b["MemoryReservation"]) == (
        100 * MiB,
        200 * MiB,
        50 * MiB,
    )
    assert (b["NanoCpus"], b["PidsLimit"], b["CpusetCpus"]) == (500_000_000, 40, "0")
    assert b["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    assert update_body(parse(["update", "-c", "512", "c"]))["RestartPolicy"]["Name"] == ""


def test_update_needs_a_flag_and_parses_restart_as_the_client():
    code, _, err = cli("update", "c1")
    assert (code, err) == (1, "you must provide one or more flags when using this command\n")
    with pytest.raises(ClientError, match="maximum retry count must be an integer") as info:
        update_body(parse(["update", "--restart", "on-failure:x", "c"]))
    assert exit_code(info.value, "update") == 1


def test_update_is_in_the_help_and_under_container():
    code, out, _ = cli("update", "--help")
    assert code == 0 and "Usage:  dockerlab update [OPTIONS] CONTAINER [CONTAINER...]" in out
    assert parse(["container", "update", "--cpus", "1", "x"]).verb == "update"


def test_update_merges_as_moby_update_container():
    host = {"Memory": 100 * MiB, "MemorySwap": 200 * MiB, "NanoCpus": 0, "CpuPeriod": 0,
            "PidsLimit": None, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}}  # fmt: skip
    new = merged_host_config(host, {"Memory": 150 * MiB, "PidsLimit": 10})
    assert (new["Memory"], new["MemorySwap"], new["PidsLimit"]) == (150 * MiB, 200 * MiB, 10)
    assert host["Memory"] == 100 * MiB  # pure
    with pytest.raises(InvalidParameter, match="^Memory limit should be smaller than already set"):
        merged_host_config(host, {"Memory": 300 * MiB})
    new = merged_host_config(host, {"Memory": 300 * MiB, "MemorySwap": 600 * MiB})
    assert new["MemorySwap"] == 600 * MiB
    with pytest.raises(InvalidParameter, match="CPU Period cannot be updated as NanoCPUs"):
        merged_host_config({"NanoCpus": 10**9}, {"CpuPeriod": 50000})
    with pytest.raises(InvalidParameter, match="Nano CPUs cannot be updated as CPU Quota"):
        merged_host_config({"CpuQuota": 50000}, {"NanoCpus": 10**9})
    policy = {"Name": "always", "MaximumRetryCount": 0}
    assert merged_host_config(host, {"RestartPolicy": policy})["RestartPolicy"] == policy
    with pytest.raises(
        InvalidParameter, match="Restart policy cannot be updated because AutoRemove"
    ):
        merged_host_config({"AutoRemove": True}, {"RestartPolicy": policy})


# ---- cpusets, reservation, OOM killer ------------------------------------------------------
def test_run_flags_become_host_config_fields():
    hc = body("run", "--cpuset-cpus", "0-1", "--cpuset-mems", "0", "--memory-reservation",
              "64m", "--oom-kill-disable", "busybox")["HostConfig"]  # fmt: skip
    assert (hc["CpusetCpus"], hc["CpusetMems"]) == ("0-1", "0")
    assert (hc["MemoryReservation"], hc["OomKillDisable"]) == (64 * MiB, True)
    hc = body("run", "busybox")["HostConfig"]
    assert (hc["CpusetCpus"], hc["MemoryReservation"], hc["OomKillDisable"]) == ("", 0, False)
    with pytest.raises(UsageError, match='invalid argument "x" for "--memory-reservation"'):
        body("run", "--memory-reservation", "x", "busybox")


def test_cpuset_lists_parse_as_gos_parse_uint_list():
    assert parse_list("0-2,4") == {0, 1, 2, 4}
    assert parse_list("") == set()
    for bad in ("x", "1-", "-1", "3-1", "1,,2"):
        with pytest.raises(ValueError, match=f"invalid format: {bad}"):
            parse_list(bad)


def test_cpusets_beyond_the_host_are_refused_with_dockers_words():
    with pytest.raises(InvalidParameter) as info:
        check_cpusets(Resources(cpuset_cpus="5"), "0-1", "0")
    assert str(info.value) == "Requested CPUs are not available - requested 5, available: 0-1"
    with pytest.raises(InvalidParameter) as info:
        check_cpusets(Resources(cpuset_mems="3"), "0-1", "0")
    assert str(info.value) == (
        "Requested memory nodes are not available - requested 3, available: 0"
    )
    with pytest.raises(
        InvalidParameter, match="^Invalid value x for cpuset cpus: invalid format: x"
    ):
        check_cpusets(Resources(cpuset_cpus="x"), "0-1", "0")
    check_cpusets(Resources(cpuset_cpus="1", cpuset_mems="0"), "0-1", "0")


def test_memory_reservation_checks():
    with pytest.raises(InvalidParameter, match="^Minimum memory reservation allowed is 6MB$"):
        validate(Resources(memory_reservation=1024), 2)
    with pytest.raises(InvalidParameter, match="can not be less than memory reservation limit"):
        validate(Resources(memory=100 * MiB, memory_reservation=200 * MiB), 2)
    validate(Resources(memory=200 * MiB, memory_reservation=100 * MiB), 2)


def test_new_fields_are_written_to_the_kernels_files():
    res = Resources(memory_reservation=64 * MiB, oom_kill_disable=1, cpuset_cpus="1",
                    cpuset_mems="0")  # fmt: skip
    v1 = F.v1_limit_files(res)
    assert v1["memory.soft_limit_in_bytes"] == str(64 * MiB)
    assert v1["memory.oom_control"] == "1"
    assert (v1["cpuset.cpus"], v1["cpuset.mems"]) == ("1", "0")
    v2 = F.v2_limit_files(res)
    assert v2["memory.low"] == str(64 * MiB) and "memory.oom_control" not in v2
    assert v2["cpuset.cpus"] == "1"
    assert res.needs() == {"memory", "cpuset"}
    assert Resources.from_host_config(
        {"CpusetCpus": "0", "OomKillDisable": True, "MemoryReservation": MiB * 8}
    ) == Resources(cpuset_cpus="0", oom_kill_disable=1, memory_reservation=8 * MiB)
