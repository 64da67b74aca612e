"""Docker's tables and numbers, rendered from Engine API-shaped dicts (no engine needed)."""

from __future__ import annotations

import io
import re

from dockerlab.cli import main, render
from dockerlab.cli.commands import Context
from dockerlab.errors import Conflict, NoSuchContainer, NoSuchImage

NOW = 1_700_000_000
CONTAINER = {
    "Id": "a" * 64,
    "Names": ["/web"],
    "Image": "busybox",
    "Command": "sh -c 'while true; do echo hi; sleep 1; done'",
    "Created": NOW - 5,
    "State": "running",
    "Status": "Up 4 seconds",
    "Ports": [],
    "Labels": {"tier": "front"},
    "Mounts": [{"Type": "volume", "Name": "data", "Source": "/x", "Driver": "local"}],
    "NetworkSettings": {"Networks": {"bridge": {}}},
}


def test_ps_table_matches_docker():
    assert render.ps([CONTAINER], now=NOW).text == (
        "CONTAINER ID   IMAGE     COMMAND                  CREATED         STATUS         PORTS"
        "     NAMES\n"
        'aaaaaaaaaaaa   busybox   "sh -c \'while true; …"   5 seconds ago   Up 4 seconds        '
        "     web\n"
    )


def test_ps_header_is_printed_with_no_containers():
    assert render.ps([], now=NOW).text.startswith("CONTAINER ID   IMAGE     COMMAND   CREATED")


def test_ps_command_is_quoted_and_truncated_to_20():
    row = render.PsRow(CONTAINER, now=NOW)
    assert row.Command == '"sh -c \'while true; …"'
    assert render.PsRow(CONTAINER, trunc=False, now=NOW).Command.endswith("done'\"")


def test_ps_quiet_and_no_trunc():
    assert render.ps([CONTAINER], quiet=True).text == "a" * 12 + "\n"
    assert render.ps([CONTAINER], quiet=True, trunc=False).text == "a" * 64 + "\n"


def test_ps_format_fields():
    fmt = '{{.Names}}|{{.Label "tier"}}|{{.Labels}}|{{.Mounts}}|{{.Networks}}|{{.State}}'
    out = render.ps([CONTAINER], fmt=fmt, now=NOW).text
    assert out == "web|front|tier=front|data|bridge|running\n"
    assert render.ps([CONTAINER], fmt="{{.RunningFor}}", now=NOW).text == "5 seconds ago\n"


def test_ps_size_column():
    c = {**CONTAINER, "SizeRw": 12, "SizeRootFs": 4_261_550}
    assert render.PsRow(c).Size == "12B (virtual 4.26MB)"
    assert "SIZE" in render.ps([c], size=True, now=NOW).text.splitlines()[0]


IMAGE = {
    "Id": "sha256:" + "c" * 64,
    "RepoTags": ["busybox:latest", "docker.io/library/busybox:1.36"],
    "Created": NOW - 3 * 86400,
    "Size": 4_261_550,
}


def test_images_one_row_per_tag_and_none_for_untagged():
    untagged = {"Id": "sha256:" + "d" * 64, "RepoTags": [], "Created": NOW - 60, "Size": 0}
    assert render.images([IMAGE, untagged], now=NOW).text == (
        "REPOSITORY   TAG       IMAGE ID       CREATED              SIZE\n"
        "busybox      latest    cccccccccccc   3 days ago           4.26MB\n"
        "busybox      1.36      cccccccccccc   3 days ago           4.26MB\n"
        "<none>       <none>    dddddddddddd   About a minute ago   0B\n"
    )


def test_images_quiet_lists_each_id_once():
    assert render.images([IMAGE], quiet=True).text == "c" * 12 + "\n"


def test_images_format_fields():
    out = render.images([IMAGE], fmt="{{.Repository}}:{{.Tag}} {{.Digest}}", now=NOW).text
    assert out == "busybox:latest <none>\nbusybox:1.36 <none>\n"


HISTORY = [
    {
        "Id": "sha256:" + "e" * 64,
        "Created": NOW - 7200,
        "CreatedBy": '/bin/sh -c #(nop)  CMD ["sh"] and a much longer tail of text',
        "Size": 0,
        "Comment": "",
    },
    {
        "Id": "<missing>",
        "Created": NOW - 7200,
        "CreatedBy": "/bin/sh -c #(nop) ADD file:abc in /",
        "Size": 1_234_567,
        "Comment": "bootstrapped",
    },
]


def test_history_table():
    lines = render.history(HISTORY, now=NOW).text.splitlines()
    assert lines[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert lines[1].startswith(
        'eeeeeeeeeeee   2 hours ago   /bin/sh -c #(nop)  CMD ["sh"] and a much lon…'
    )
    assert lines[2].startswith("<missing>      2 hours ago")
    assert "1.23MB" in lines[2] and lines[2].endswith("bootstrapped")


def test_history_created_by_is_truncated_to_45():
    row = render.HistoryRow(HISTORY[0])
    assert len(row.CreatedBy) == 45 and row.CreatedBy.endswith("…")
    assert render.HistoryRow(HISTORY[0], trunc=False).CreatedBy == HISTORY[0]["CreatedBy"]


def test_history_not_human_prints_raw_numbers():
    row = render.HistoryRow(HISTORY[1], human=False)
    assert row.Size == "1234567"
    assert row.CreatedSince[:4].isdigit() and "T" in row.CreatedSince


def stats_sample(**over):
    s = {
        "id": "f" * 64,
        "name": "/web",
        "cpu_stats": {
            "cpu_usage": {"total_usage": 400_000_000, "percpu_usage": [1, 2]},
            "system_cpu_usage": 20_000_000_000,
            "online_cpus": 2,
        },
        "precpu_stats": {
            "cpu_usage": {"total_usage": 200_000_000},
            "system_cpu_usage": 18_000_000_000,
        },
        "memory_stats": {
            "usage": 10 * 1024 * 1024,
            "limit": 100 * 1024 * 1024,
            "stats": {"total_inactive_file": 2 * 1024 * 1024},
        },  # fmt: skip
        "networks": {
            "eth0": {"rx_bytes": 1500, "tx_bytes": 500},
            "eth1": {"rx_bytes": 500, "tx_bytes": 0},
        },
        "blkio_stats": {
            "io_service_bytes_recursive": [
                {"op": "Read", "value": 4096},
                {"op": "Write", "value": 8192},
                {"op": "read", "value": 4096},
                {"op": "Total", "value": 1},
            ]
        },  # fmt: skip
        "pids_stats": {"current": 3},
    }
    s.update(over)
    return s


def test_stats_cpu_percent_is_dockers_formula():
    # (0.2e9 / 2e9) * 2 cpus * 100
    assert render.cpu_percent(stats_sample()) == 20.0
    no_online = stats_sample()
    no_online["cpu_stats"] = {**no_online["cpu_stats"], "online_cpus": 0}
    assert render.cpu_percent(no_online) == 20.0  # falls back to len(percpu_usage)
    assert render.cpu_percent(stats_sample(precpu_stats={})) > 0


def test_stats_memory_excludes_inactive_file_v1_and_v2():
    assert render.memory_usage(stats_sample()) == 8 * 1024 * 1024
    v2 = stats_sample(
        memory_stats={"usage": 5000, "limit": 10000, "stats": {"inactive_file": 1000}}
    )
    assert render.memory_usage(v2) == 4000


def test_stats_row_columns():
    row = render.StatsRow(stats_sample(), "web")
    assert (row.ID, row.Name, row.Container) == ("f" * 12, "web", "web")
    assert (row.CPUPerc, row.MemUsage, row.MemPerc) == ("20.00%", "8MiB / 100MiB", "8.00%")
    assert (row.NetIO, row.BlockIO, row.PIDs) == ("2kB / 500B", "8.19kB / 8.19kB", "3")


def test_stats_table_header():
    out = render.stats([render.StatsRow(stats_sample())]).text
    header, row = (re.split(r"\s{2,}", line.strip()) for line in out.splitlines())
    assert header == ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O",
                      "BLOCK I/O", "PIDS"]  # fmt: skip
    assert row == ["f" * 12, "web", "20.00%", "8MiB / 100MiB", "8.00%", "2kB / 500B",
                   "8.19kB / 8.19kB", "3"]  # fmt: skip


def test_top_uses_a_minimum_width_of_20():
    out = render.top(
        {"Titles": ["UID", "PID", "CMD"], "Processes": [["root", "42", "sleep 9"]]}
    ).text
    assert out.splitlines() == [
        "UID                 PID                 CMD",
        "root                42                  sleep 9",
    ]


def test_inspect_json_is_indented_4_and_keeps_html_characters():
    assert render.inspect_json([{"A": "<&>", "B": []}]) == (
        '[\n    {\n        "A": "<&>",\n        "B": []\n    }\n]'
    )


def test_since_accepts_durations_timestamps_and_rfc3339():
    assert render.since_seconds("10m", now=1000.0) == 400.0
    assert render.since_seconds("1h30m", now=10000.0) == 10000.0 - 5400
    assert render.since_seconds("1600000000.5") == 1600000000.5
    assert render.since_seconds("2020-09-13T12:26:40Z") == 1600000000.0


# ---- main with a stand-in engine -----------------------------------------------------------


class FakeEngine:
    def __init__(self):
        self.removed = []

    def remove(self, ref, force=False, volumes=False):
        if ref == "ghost":
            raise NoSuchContainer(ref)
        if ref == "busy":
            raise Conflict("You cannot remove a running container busy. Stop the container "
                           "before attempting removal or force remove")  # fmt: skip
        self.removed.append(ref)

    def stop(self, ref, timeout=None, signal=None):
        raise NoSuchContainer(ref)

    def inspect(self, ref):
        if ref == "web":
            return {"Id": "a" * 64, "State": {"Running": True}}
        raise NoSuchContainer(ref)

    def image_inspect(self, ref):
        raise NoSuchImage(ref)

    def create(self, body, name=None):
        raise NoSuchImage("nope", "No such image: nope:latest")


def run_with(engine, *argv):
    out, err = io.StringIO(), io.StringIO()
    original = Context.engine
    Context.engine = property(lambda self: engine)
    try:
        code = main(list(argv), out=out, err=err)
    finally:
        Context.engine = original
    return code, out.getvalue(), err.getvalue()


def test_rm_acts_on_each_and_exits_1_if_any_failed():
    engine = FakeEngine()
    code, out, err = run_with(engine, "rm", "a", "ghost", "busy", "b")
    assert code == 1 and out == "a\nb\n" and engine.removed == ["a", "b"]
    assert err.splitlines() == [
        "Error: No such container: ghost",
        "Error response from daemon: You cannot remove a running container busy. Stop the "
        "container before attempting removal or force remove",
    ]


def test_daemon_errors_have_dockers_prefix():
    code, _, err = run_with(FakeEngine(), "stop", "x")
    assert (code, err) == (1, "Error response from daemon: No such container: x\n")


def test_run_errors_are_prefixed_and_exit_125():
    # --pull never: the fake engine has no registry (a missing image is pulled first)
    code, _, err = run_with(FakeEngine(), "run", "--pull", "never", "nope")
    assert code == 125
    assert err == (
        "dockerlab: Error response from daemon: No such image: nope:latest.\n"
        "\n"
        "Run 'dockerlab run --help' for more information\n"
    )


def test_inspect_prints_found_objects_then_errors():
    code, out, err = run_with(FakeEngine(), "inspect", "-f", "{{.State.Running}}", "web", "zz")
    assert (code, out, err) == (1, "true\n", "Error: No such object: zz\n")
    code, out, _ = run_with(FakeEngine(), "inspect", "zz")
    assert out == "[]\n"


def test_template_errors_are_reported_without_traceback():
    code, _, err = run_with(FakeEngine(), "inspect", "-f", "{{.Nope", "web")
    # a template that does not parse: Docker's CLI exits 64 for inspect
    assert code == 64 and "Traceback" not in err and err


def test_context_makes_the_engine_lazily(tmp_path):
    ctx = Context(str(tmp_path), out=io.StringIO(), err=io.StringIO())
    assert ctx._engine is None


def test_system_df_shows_interrupted_work_only_when_there_is_some():
    from dockerlab.cli import sysdf

    empty = {"Images": [], "Containers": [], "Volumes": [], "BuildCache": [], "LayersSize": 0}
    assert [r.Type for r in sysdf.summary_rows(empty)] == [
        "Images",
        "Containers",
        "Local Volumes",
        "Build Cache",
    ]
    work = [
        {
            "Kind": "load",
            "Path": "/r/tmp/load-1-2-x",
            "Size": 3_000_000,
            "Owner": 1,
            "InProgress": False,
        },
        {
            "Kind": "commit",
            "Path": "/r/tmp/commit-3-4-y",
            "Size": 1_000_000,
            "Owner": 3,
            "InProgress": True,
        },
    ]
    row = sysdf.summary_rows({**empty, "InterruptedWork": work})[-1]
    assert (row.Type, row.TotalCount, row.Active, row.Size, row.Reclaimable) == (
        "Interrupted work",
        "2",
        "1",
        "4MB",
        "3MB (75%)",
    )
    verbose = sysdf.render({**empty, "InterruptedWork": work}, verbose=True).text
    assert "Interrupted work space usage:" in verbose
    assert verbose.splitlines()[-2].split() == [
        "load",
        "1",
        "abandoned",
        "3MB",
        "/r/tmp/load-1-2-x",
    ]
