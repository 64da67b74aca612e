"""Sizes, durations and statuses print exactly as docker/go-units and moby print them."""

import pytest

from dockerlab.format.units import (
    ago,
    bytes_size,
    human_duration,
    human_size,
    human_size_with_precision,
    parse_cpus,
    parse_ram,
    parse_rfc3339,
    parse_rfc3339_ns,
    parse_size,
    rfc3339nano,
    rfc3339nano_ns,
    status_string,
)

MINUTE, HOUR = 60, 3600
DAY = 24 * HOUR
WEEK, MONTH, YEAR = 7 * DAY, 30 * DAY, 365 * DAY


# go-units size_test.go
@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (1000, "1kB"),
        (1024, "1.024kB"),
        (1000000, "1MB"),
        (1048576, "1.049MB"),
        (2 * 1000**2, "2MB"),
        (3.42 * 1000**3, "3.42GB"),
        (5.372 * 1000**4, "5.372TB"),
        (2.22 * 1000**5, "2.22PB"),
        (1e21, "1ZB"),
        (1e27, "1000YB"),
        (4150000, "4.15MB"),
        (0, "0B"),
        (999999, "1000kB"),
    ],
)
def test_human_size_uses_decimal_units_and_four_significant_digits(size, expected):
    assert human_size(size) == expected


def test_human_size_with_precision_three_is_what_docker_ps_size_prints():
    assert human_size_with_precision(10, 3) == "10B"
    assert human_size_with_precision(21_500_000, 3) == "21.5MB"
    assert human_size_with_precision(72_948_123, 3) == "72.9MB"


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (1024, "1KiB"),
        (1024 * 1024, "1MiB"),
        (1048576, "1MiB"),
        (2 * 1024**2, "2MiB"),
        (1.5 * 1024**2, "1.5MiB"),
        (3.42 * 1024**3, "3.42GiB"),
        (5.372 * 1024**4, "5.372TiB"),
        (2.22 * 1024**5, "2.22PiB"),
        (1 * 1024**8, "1YiB"),
        (0, "0B"),
    ],
)
def test_bytes_size_uses_binary_units(size, expected):
    assert bytes_size(size) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("32", 32),
        ("32b", 32),
        ("32B", 32),
        ("32k", 32 * 1024),
        ("32K", 32 * 1024),
        ("32kb", 32 * 1024),
        ("32Kb", 32 * 1024),
        ("32Kib", 32 * 1024),
        ("32KIB", 32 * 1024),
        ("32Mb", 32 * 1024**2),
        ("32Gb", 32 * 1024**3),
        ("32Tb", 32 * 1024**4),
        ("32PB", 32 * 1024**5),
        ("512m", 512 * 1024**2),
        ("1g", 1024**3),
        ("1.5g", 1610612736),
        ("32.3", 32),
        ("32.3 mb", 33869004),
        ("1024", 1024),
    ],
)
def test_parse_ram_accepts_binary_units_case_insensitively(text, expected):
    assert parse_ram(text) == expected


@pytest.mark.parametrize("text", ["", "hello", "-32", " 32 ", "32m b", "32bm", "lots", "32\n"])
def test_parse_ram_rejects_garbage_with_dockers_message(text):
    with pytest.raises(ValueError, match="^invalid size: '" + text.replace("\n", "\n") + "'$"):
        parse_ram(text)


def test_parse_ram_lots_message_is_exact():
    with pytest.raises(ValueError) as exc:
        parse_ram("lots")
    assert str(exc.value) == "invalid size: 'lots'"


def test_parse_ram_reports_strconv_error_for_dotted_numbers():
    with pytest.raises(ValueError, match=r'strconv.ParseFloat: parsing "1.2.3": invalid syntax'):
        parse_ram("1.2.3")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("32", 32),
        ("32b", 32),
        ("32k", 32000),
        ("32kb", 32000),
        ("32mb", 32 * 1000**2),
        ("32Gb", 32 * 1000**3),
        ("32.5kB", 32500),
        ("1.5GB", 1_500_000_000),
    ],
)
def test_parse_size_uses_decimal_units(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.5", 1_500_000_000),
        ("1", 1_000_000_000),
        ("0.01", 10_000_000),
        ("3/2", 1_500_000_000),
        ("0", 0),
    ],
)
def test_parse_cpus_returns_nano_cpus(text, expected):
    assert parse_cpus(text) == expected


def test_parse_cpus_rejects_non_numbers_like_cobra_does():
    with pytest.raises(ValueError) as exc:
        parse_cpus("abc")
    assert str(exc.value) == (
        'invalid argument "abc" for "--cpus" flag: failed to parse abc as a rational number'
    )


def test_parse_cpus_rejects_sub_nano_precision():
    with pytest.raises(ValueError, match="value is too precise$"):
        parse_cpus("0.0000000001")


# go-units duration_test.go
@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.45, "Less than a second"),
        (-5, "Less than a second"),
        (1, "1 second"),
        (1.9, "1 second"),
        (5, "5 seconds"),
        (45, "45 seconds"),
        (59, "59 seconds"),
        (60, "About a minute"),
        (119, "About a minute"),
        (3 * MINUTE, "3 minutes"),
        (35 * MINUTE + 40, "35 minutes"),
        (59 * MINUTE, "59 minutes"),
        (HOUR, "About an hour"),
        (HOUR + 29 * MINUTE, "About an hour"),
        (HOUR + 31 * MINUTE, "2 hours"),
        (3 * HOUR + 29 * MINUTE, "3 hours"),
        (3 * HOUR + 31 * MINUTE, "4 hours"),
        (24 * HOUR, "24 hours"),
        (DAY + 12 * HOUR, "36 hours"),
        (2 * DAY, "2 days"),
        (7 * DAY, "7 days"),
        (13 * DAY + 5 * HOUR, "13 days"),
        (2 * WEEK, "2 weeks"),
        (2 * WEEK + 4 * DAY, "2 weeks"),
        (3 * WEEK, "3 weeks"),
        (4 * WEEK + 3 * DAY, "4 weeks"),
        (MONTH, "4 weeks"),
        (MONTH + 2 * WEEK, "6 weeks"),
        (2 * MONTH, "2 months"),
        (3 * MONTH + WEEK, "3 months"),
        (5 * MONTH + 2 * WEEK, "5 months"),
        (13 * MONTH, "13 months"),
        (24 * MONTH, "24 months"),
        (24 * MONTH + 2 * WEEK, "2 years"),
        (3 * YEAR + 2 * MONTH, "3 years"),
    ],
)
def test_human_duration_matches_go_units_thresholds(seconds, expected):
    assert human_duration(seconds) == expected


def test_ago_appends_ago_like_docker_ps_created():
    assert ago(100.0, 105.0) == "5 seconds ago"
    assert ago(0, 65) == "About a minute ago"
    assert ago(0, DAY) == "24 hours ago"


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("1970-01-01T00:00:01.5Z", 1_500_000_000),
        ("2026-11-28T06:52:25.123456789Z", 1795848745_123456789),
        ("2026-11-28T08:52:25.123456789+02:00", 1795848745_123456789),
        ("2026-11-27T21:52:25.1-09:00", 1795848745_100000000),
        ("0001-01-01T00:00:00Z", 0),
    ],
)
def test_parse_rfc3339_ns_handles_fractions_zones_and_go_zero_time(text, ns):
    assert parse_rfc3339_ns(text) == ns


def test_parse_rfc3339_returns_float_seconds():
    assert parse_rfc3339("2026-11-28T06:52:25.5Z") == 1795848745.5
    assert parse_rfc3339("0001-01-01T00:00:00Z") == 0.0


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2026-11-28",
        "2026-11-28T06:52:25",
        "2026-13-01T00:00:00Z",
        "2026-11-28T06:52:25.1234567890Z",
        "2026-11-28T24:00:00Z",
    ],
)
def test_parse_rfc3339_rejects_malformed_times(text):
    with pytest.raises(ValueError, match="parsing time"):
        parse_rfc3339(text)


def test_rfc3339nano_trims_trailing_zeros_like_go():
    assert rfc3339nano_ns(1795848745_123456789) == "2026-11-28T06:52:25.123456789Z"
    assert rfc3339nano_ns(1795848745_120000000) == "2026-11-28T06:52:25.12Z"
    assert rfc3339nano_ns(1795848745_000000000) == "2026-11-28T06:52:25Z"
    assert rfc3339nano(1795848745.5) == "2026-11-28T06:52:25.5Z"
    assert rfc3339nano(1795848745.123456) == "2026-11-28T06:52:25.123456Z"
    assert rfc3339nano(1795848745) == "2026-11-28T06:52:25Z"


def test_rfc3339nano_zero_is_go_zero_time_and_round_trips():
    assert rfc3339nano(0.0) == "0001-01-01T00:00:00Z"
    stamp = "2026-11-28T06:52:25.123456789Z"
    assert rfc3339nano_ns(parse_rfc3339_ns(stamp)) == stamp


ZERO = "0001-01-01T00:00:00Z"
T0 = "2026-11-28T06:52:25.123456789Z"
NOW = 1795848745.123456789


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"Status": "created", "StartedAt": ZERO, "FinishedAt": ZERO}, "Created"),
        (
            {"Status": "running", "Running": True, "StartedAt": T0, "FinishedAt": ZERO},
            "Up 3 seconds",
        ),
        (
            {"Status": "paused", "Running": True, "Paused": True, "StartedAt": T0},
            "Up 3 seconds (Paused)",
        ),
        (
            {"Status": "running", "StartedAt": T0, "Health": {"Status": "healthy"}},
            "Up 3 seconds (healthy)",
        ),
        (
            {"Status": "running", "StartedAt": T0, "Health": {"Status": "starting"}},
            "Up 3 seconds (health: starting)",
        ),
        (
            {"Status": "exited", "StartedAt": T0, "FinishedAt": T0, "ExitCode": 0},
            "Exited (0) 3 seconds ago",
        ),
        (
            {
                "Status": "exited",
                "Running": False,
                "StartedAt": T0,
                "FinishedAt": T0,
                "ExitCode": 137,
            },
            "Exited (137) 3 seconds ago",
        ),
        (
            {
                "Status": "restarting",
                "Running": True,
                "Restarting": True,
                "StartedAt": T0,
                "FinishedAt": "2026-11-28T06:52:26.123456789Z",
                "ExitCode": 1,
            },
            "Restarting (1) 2 seconds ago",
        ),
        ({"Status": "removing", "StartedAt": T0, "FinishedAt": T0}, "Removal In Progress"),
        ({"Status": "dead", "Dead": True, "StartedAt": T0, "FinishedAt": T0}, "Dead"),
        ({"Status": "exited", "StartedAt": T0, "FinishedAt": ZERO}, ""),
    ],
)
def test_status_string_matches_moby_state_string(state, expected):
    assert status_string(state, NOW + 3) == expected


def test_status_string_running_for_an_hour():
    state = {"Status": "running", "StartedAt": T0}
    assert status_string(state, NOW + HOUR) == "Up About an hour"
