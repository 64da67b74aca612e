"""Health checks without containers: the flags, Go durations, the merge with the image's
HEALTHCHECK, moby's probe state machine, the ``health`` filter."""

from __future__ import annotations

import pytest

from dockerlab.cli.options import create_body
from dockerlab.cli.parser import parse
from dockerlab.engine.containers.create import compose, merge_healthcheck
from dockerlab.engine.filters import _health, select_containers
from dockerlab.engine.runtime.health import (
    apply_result,
    go_duration,
    go_time,
    probe_command,
    starting,
)
from dockerlab.errors import InvalidParameter, UsageError, exit_code
from dockerlab.format.units import parse_go_duration

S = 1_000_000_000


def body(*argv: str):
    return create_body(parse(list(argv)), environ={})[1]


# ---- Go durations -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, ns",
    [
        ("0", 0),
        ("1s", S),
        ("300ms", 300_000_000),
        ("1.5h", 5400 * S),
        ("1h2m3.5s", 3723 * S + S // 2),
        (".5s", S // 2),
        ("+2m", 120 * S),
        ("-1s", -S),
        ("5us", 5_000),
        ("5µs", 5_000),
        ("10ns", 10),
    ],
)
def test_go_durations_parse_as_time_parse_duration(text, ns):
    assert parse_go_duration(text) == ns


@pytest.mark.parametrize(
    "text, message",
    [
        ("1x", 'time: unknown unit "x" in duration "1x"'),
        ("x", 'time: invalid duration "x"'),
        ("", 'time: invalid duration ""'),
        ("1", 'time: missing unit in duration "1"'),
        (".", 'time: invalid duration "."'),
        ("9999999999h", 'time: invalid duration "9999999999h"'),
        ("1é", 'time: unknown unit "\\xc3\\xa9" in duration "1\\xc3\\xa9"'),
    ],
)
def test_bad_go_durations_say_what_go_says(text, message):
    with pytest.raises(ValueError) as err:
        parse_go_duration(text)
    assert str(err.value) == message


@pytest.mark.parametrize(
    "ns, text",
    [
        (0, "0s"),
        (300_000_000, "300ms"),
        (1_500_000, "1.5ms"),
        (30 * S, "30s"),
        (90 * S, "1m30s"),
        (S + S // 2, "1.5s"),
        (3600 * S, "1h0m0s"),
        (2_500, "2.5µs"),
        (7, "7ns"),
    ],
)
def test_durations_print_as_go_prints_them(ns, text):
    assert go_duration(ns) == text


def test_log_times_are_rfc3339_nano_without_trailing_zeros():
    assert go_time(1_700_000_000_120_000_000) == "2023-11-14T22:13:20.12Z"
    assert go_time(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"


# ---- flags -> Config.Healthcheck ---------------------------------------------------------
def test_health_flags_become_the_healthcheck_in_nanoseconds():
    b = body("run", "--health-cmd", "curl -f localhost", "--health-interval", "5s",
             "--health-timeout", "2s", "--health-start-period", "1m", "--health-retries", "4",
             "busybox")  # fmt: skip
    assert b["Healthcheck"] == {
        "Test": ["CMD-SHELL", "curl -f localhost"],
        "Interval": 5 * S,
        "Timeout": 2 * S,
        "StartPeriod": 60 * S,
        "Retries": 4,
    }


def test_no_health_flag_leaves_the_images_healthcheck():
    assert "Healthcheck" not in body("run", "busybox")


def test_health_settings_without_a_command_send_only_those():
    assert body("run", "--health-interval", "1s", "busybox")["Healthcheck"] == {"Interval": S}


def test_no_healthcheck_is_test_none():
    assert body("run", "--no-healthcheck", "busybox")["Healthcheck"] == {"Test": ["NONE"]}


@pytest.mark.parametrize(
    "flags, message",
    [
        (
            ("--no-healthcheck", "--health-cmd", "true"),
            "--no-healthcheck conflicts with --health-* options",
        ),  # noqa: E501
        (
            ("--no-healthcheck", "--health-retries", "2"),
            "--no-healthcheck conflicts with --health-* options",
        ),  # noqa: E501
        (("--health-interval", "-1s"), "--health-interval cannot be negative"),
        (("--health-timeout", "-1s"), "--health-timeout cannot be negative"),
        (("--health-retries", "-1"), "--health-retries cannot be negative"),
        (("--health-start-period", "-1s"), "--health-start-period cannot be negative"),
    ],
)
def test_health_flags_refused_with_dockers_words(flags, message):
    with pytest.raises(UsageError) as err:
        body("run", *flags, "busybox")
    assert str(err.value).startswith(f"dockerlab: {message}.")
    assert exit_code(err.value) == 125


def test_a_bad_duration_is_pflags_error():
    with pytest.raises(UsageError) as err:
        body("run", "--health-interval", "1x", "busybox")
    assert str(err.value).startswith(
        'invalid argument "1x" for "--health-interval" flag: '
        'time: unknown unit "x" in duration "1x"'
    )
    with pytest.raises(UsageError) as err:
        body("run", "--health-retries", "x", "busybox")
    assert 'strconv.ParseInt: parsing "x": invalid syntax' in str(err.value)


def test_create_takes_the_health_flags_too():
    b = create_body(parse(["create", "--health-cmd", "true", "busybox"]), environ={})[1]
    assert b["Healthcheck"] == {"Test": ["CMD-SHELL", "true"]}


# ---- the daemon: checks and the merge with the image -----------------------------------------
@pytest.mark.parametrize(
    "user, message",
    [
        ({"Interval": 100_000}, "Interval in Healthcheck cannot be less than 1ms"),
        ({"Timeout": 1}, "Timeout in Healthcheck cannot be less than 1ms"),
        ({"StartPeriod": 999_999}, "StartPeriod in Healthcheck cannot be less than 1ms"),
        ({"Retries": -1}, "Retries in Healthcheck cannot be negative"),
    ],
)
def test_the_daemon_refuses_durations_under_a_millisecond(user, message):
    with pytest.raises(InvalidParameter) as err:
        merge_healthcheck(user, None)
    assert str(err.value) == message


def test_the_request_overrides_the_image_field_by_field():
    image = {"Test": ["CMD", "true"], "Interval": 5 * S, "Retries": 2}
    assert merge_healthcheck(None, image) == image
    assert merge_healthcheck({"Timeout": 2 * S}, image) == {
        "Test": ["CMD", "true"],
        "Interval": 5 * S,
        "Timeout": 2 * S,
        "Retries": 2,
    }
    assert merge_healthcheck({"Test": ["NONE"]}, image) == {
        "Test": ["NONE"],
        "Interval": 5 * S,
        "Retries": 2,
    }
    assert merge_healthcheck(None, None) is None


def test_compose_keeps_the_merged_healthcheck_in_config():
    image = {"config": {"Cmd": ["sh"], "Healthcheck": {"Test": ["CMD-SHELL", "true"]}}}
    c = compose({"Image": "x", "Healthcheck": {"Interval": S}}, "sha256:x", image, "a" * 64)
    assert c["Config"]["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": S}
    c = compose({"Image": "x"}, "sha256:x", {"config": {"Cmd": ["sh"]}}, "a" * 64)
    assert "Healthcheck" not in c["Config"]


@pytest.mark.parametrize(
    "healthcheck, command",
    [
        (None, None),
        ({"Test": ["NONE"]}, None),
        ({"Interval": S}, None),
        ({"Test": ["BOGUS", "x"]}, None),
        ({"Test": ["CMD", "true"]}, ["true"]),
        ({"Test": ["CMD-SHELL", "exit 1"]}, ["/bin/sh", "-c", "exit 1"]),
    ],
)
def test_which_healthchecks_probe(healthcheck, command):
    assert probe_command({"Healthcheck": healthcheck}) == command


# ---- moby's handleProbeResult ------------------------------------------------------------
def result(code: int, n: int = 0) -> dict:
    return {"Start": f"s{n}", "End": f"e{n}", "ExitCode": code, "Output": ""}


def test_a_success_makes_it_healthy_and_resets_the_streak():
    h = {"Status": "unhealthy", "FailingStreak": 7, "Log": []}
    h = apply_result(h, result(0), {}, 0)
    assert (h["Status"], h["FailingStreak"]) == ("healthy", 0)


def test_retries_failures_in_a_row_make_it_unhealthy():
    h = starting(None)
    for n in range(2):
        h = apply_result(h, result(1, n), {"Retries": 3}, 10 * S)
        assert (h["Status"], h["FailingStreak"]) == ("starting", n + 1)
    h = apply_result(h, result(1), {"Retries": 3}, 10 * S)
    assert (h["Status"], h["FailingStreak"]) == ("unhealthy", 3)
    h = apply_result(h, result(-1), {"Retries": 3}, 10 * S)
    assert (h["Status"], h["FailingStreak"]) == ("unhealthy", 4)


def test_retries_default_to_three():
    h = starting(None)
    for _ in range(3):
        h = apply_result(h, result(2), {}, 0)
    assert h["Status"] == "unhealthy"


def test_failures_in_the_start_period_do_not_count_while_starting():
    hc = {"Retries": 1, "StartPeriod": 60 * S}
    h = apply_result(starting(None), result(1), hc, 5 * S)
    assert (h["Status"], h["FailingStreak"]) == ("starting", 0)
    h = apply_result(h, result(1), hc, 61 * S)  # past it: counts
    assert (h["Status"], h["FailingStreak"]) == ("unhealthy", 1)
    # once healthy, the start period no longer shields a failure
    h = apply_result(apply_result(starting(None), result(0), hc, S), result(1), hc, 2 * S)
    assert (h["Status"], h["FailingStreak"]) == ("unhealthy", 1)


def test_the_log_keeps_the_last_five_results():
    h = starting(None)
    for n in range(7):
        h = apply_result(h, result(0, n), {}, 0)
    assert [e["Start"] for e in h["Log"]] == ["s2", "s3", "s4", "s5", "s6"]


def test_a_restart_starts_over_but_keeps_the_log():
    h = {"Status": "unhealthy", "FailingStreak": 4, "Log": [result(1)]}
    assert starting(h) == {"Status": "starting", "FailingStreak": 0, "Log": [result(1)]}
    assert starting(None) == {"Status": "starting", "FailingStreak": 0, "Log": []}


# ---- ps -f health= -----------------------------------------------------------------------
def test_the_health_filter():
    for value in ("starting", "healthy", "unhealthy", "none"):
        assert select_containers([], {"health": [value]}) == []
    with pytest.raises(InvalidParameter) as err:
        select_containers([], {"health": ["bogus"]})
    assert str(err.value) == "Unrecognised filter value for health: bogus"
    assert _health({"Health": {"Status": "healthy"}}) == "healthy"
    assert _health({"Status": "running"}) == "none"
    assert _health({"Health": {"Status": "starting"}}) == "starting"
