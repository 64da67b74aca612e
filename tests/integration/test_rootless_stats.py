"""Rootless ``stats`` and ``top`` without a cgroup (cgroup v1 delegates none to a user): the
figures come from ``/proc`` (cgroups/none.py), read by the user itself, for the CLI, the
Engine API, the daemon's ``/containers/{id}/stats`` and the resources widget."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from helpers import wait_until
from test_rootless import MISSING, _make_user, image_tar  # noqa: F401  (image_tar: a fixture)
from users import REPO

pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

# pid 1 spins (CPU), a child writes 8 MiB (block I/O, reaped: counted in its parent's), and
# an exec'd process of a subordinate uid joins later (PIDS; its /proc/<pid>/io is not ours)
SPIN = "dd if=/dev/zero of=/big bs=1M count=8 2>/dev/null; touch /ready; while :; do :; done"


@pytest.fixture(scope="module")
def carol(image_tar):  # noqa: F811
    user = _make_user(image_tar)
    yield user
    user.remove()


@pytest.fixture(scope="module")
def busy(carol):
    got = carol.cli("run", "-d", "--name", "busy", "--network", "none", "busybox", "sh", "-c", SPIN)
    assert got.returncode == 0, got.stderr
    cid = got.stdout.strip()
    wait_until(
        lambda: carol.cli("exec", "busy", "test", "-e", "/ready").returncode == 0,
        timeout=30,
        what="/ready in the container",
    )
    got = carol.cli("exec", "-d", "-u", "1000", "busy", "sleep", "300")
    assert got.returncode == 0, got.stderr
    wait_until(lambda: "sleep 300" in carol.cli("top", "busy").stdout, timeout=30, what="exec")
    yield cid
    carol.cli("rm", "-f", "busy")


def _host_memory() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal")


def test_stats_no_stream_shows_what_proc_has(carol, busy):
    got = carol.cli("stats", "--no-stream", "--format", "{{json .}}", "busy")
    assert got.returncode == 0, got.stderr
    row = json.loads(got.stdout)
    assert float(row["CPUPerc"].rstrip("%")) > 0  # pid 1 never stops spinning
    usage, limit = row["MemUsage"].split(" / ")
    assert usage != "0B" and float(row["MemPerc"].rstrip("%")) > 0
    gib = _host_memory() / 2**30
    assert limit == f"{gib:.4g}GiB"  # the host's memory, as Docker shows with no limit
    assert row["PIDs"] == "2"  # sh and the exec'd sleep (another uid)
    read, written = row["BlockIO"].split(" / ")
    assert written.endswith("MB") and float(written[:-2]) >= 8  # dd's 8 MiB, as root's
    assert row["NetIO"] == "0B / 0B"  # --network none: loopback only


def test_stats_table_and_format_fields(carol, busy):
    got = carol.cli("stats", "--no-stream", "busy")
    assert got.returncode == 0, got.stderr
    header, line = got.stdout.splitlines()
    assert header.split()[:3] == ["CONTAINER", "ID", "NAME"]
    assert "0B / 0B" not in line.split("busy", 1)[1].split("%")[1]  # a memory figure
    got = carol.cli("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "busy")
    assert got.stdout == "busy 2\n", got.stderr


def test_top_lists_every_process_of_the_namespace(carol, busy):
    got = carol.cli("top", "busy")
    assert got.returncode == 0, got.stderr
    lines = got.stdout.splitlines()[1:]
    assert len(lines) == 2, got.stdout
    assert any("while" in line or "sh -c" in line for line in lines)
    sub = carol.subuid + 999  # container uid 1000
    assert any(line.split()[0] == str(sub) and "sleep 300" in line for line in lines)


def test_engine_api_and_widget_read_the_same_figures(carol, busy):
    """The Engine API's samples (what the daemon and the widget read) as the user."""
    code = (
        "import json\n"
        "from dockerlab.engine import Engine\n"
        "e = Engine()\n"
        "a = e.stats('busy')\n"
        "b = e.stats('busy', a)\n"
        "b.pop('_monotonic')\n"
        "from dockerlab.widgets.monitor import ResourceMonitor\n"
        "m = ResourceMonitor('busy', engine=e, start=False)\n"
        "rows = m.sample()\n"
        "print(json.dumps({'sample': b, 'row': rows[0]}))\n"
    )
    got = carol.user.run([carol.user.python(), "-c", code], {"PYTHONPATH": REPO})
    assert got.returncode == 0, got.stderr
    out = json.loads(got.stdout)
    s = out["sample"]
    assert s["cpu_stats"]["cpu_usage"]["total_usage"] > 0
    assert s["cpu_stats"]["online_cpus"] >= 1
    assert s["precpu_stats"]["cpu_usage"]["total_usage"] > 0
    assert s["memory_stats"]["limit"] == _host_memory()
    assert s["memory_stats"]["usage"] > 0
    assert s["pids_stats"] == {"current": 2}
    assert "networks" not in s  # as Docker with --network none
    row = out["row"]
    assert row["pids"] == 2 and row["memory"] > 0 and row["block_write"] >= 8 * 2**20


def test_daemon_stats_endpoint(carol, busy):
    sock = os.path.join(carol.home, "d.sock")
    code = (
        "import http.client, json, socket, sys\n"
        "class C(http.client.HTTPConnection):\n"
        "    def connect(self):\n"
        "        self.sock = socket.socket(socket.AF_UNIX)\n"
        f"        self.sock.connect({sock!r})\n"
        "c = C('localhost')\n"
        "c.request('GET', '/containers/busy/stats?stream=false')\n"
        "r = c.getresponse()\n"
        "print(r.status, r.read().decode())\n"
    )
    proc = subprocess.Popen(
        [
            "runuser",
            "-u",
            carol.name,
            "--",
            carol.user.python(),
            "-m",
            "dockerlab",
            "daemon",
            "-H",
            f"unix://{sock}",
            "-G",
            carol.name,
        ],
        env=carol.user.env({"PYTHONPATH": REPO}),
        cwd=carol.home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: os.path.exists(sock) or proc.poll() is not None, timeout=60)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        got = carol.user.run([carol.user.python(), "-c", code])
        assert got.returncode == 0, got.stderr
        status, body = got.stdout.split(" ", 1)
        assert status == "200", body
        s = json.loads(body)
        assert s["pids_stats"] == {"current": 2}
        assert s["memory_stats"]["usage"] > 0
        assert (
            s["cpu_stats"]["cpu_usage"]["total_usage"]
            > s["precpu_stats"]["cpu_usage"]["total_usage"]
            > 0
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_info_says_what_is_limited_in_dockers_words(carol):
    got = carol.cli("info", "--format", "{{json .}}")
    assert got.returncode == 0, got.stderr
    info = json.loads(got.stdout)
    assert info["CgroupDriver"] == "none" and info["CgroupVersion"] == "1"
    assert "name=rootless" in info["SecurityOptions"]
    assert info["Warnings"][0] == (
        "WARNING: Running in rootless-mode without cgroups. To enable cgroups in "
        "rootless-mode, you need to boot the system in cgroup v2 mode."
    )
    assert any("stats come from /proc" in w for w in info["Warnings"])
    for feature in ("MemoryLimit", "SwapLimit", "CpuCfsQuota", "CPUShares", "PidsLimit"):
        assert info[feature] is False, feature
    text = carol.cli("info")
    assert "Cgroup Driver: none" in text.stdout and "Cgroup Version: 1" in text.stdout
    assert "Running in rootless-mode without cgroups" in text.stderr


def test_pause_and_update_refused_in_one_message_restart_policy_kept(carol, busy):
    for args in (
        ["pause", "busy"],
        ["update", "-m", "16m", "busy"],
        ["update", "--cpus", "1", "busy"],
    ):
        got = carol.cli(*args)
        assert got.returncode == 1, (args, got.stderr)  # a daemon error, as Docker's CLI
        assert got.stderr.startswith(f"Error response from daemon: Cannot {args[0]} container ")
        assert "cgroup v1 only" in got.stderr and "administrator" in got.stderr
        assert "Traceback" not in got.stderr and "Errno" not in got.stderr
    assert carol.cli("inspect", "-f", "{{.State.Status}}", "busy").stdout == "running\n"
    got = carol.cli("update", "--restart", "on-failure:2", "busy")  # no cgroup needed
    assert got.returncode == 0, got.stderr
    policy = carol.cli("inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", "busy")
    assert policy.stdout == "on-failure\n"
    unpause = carol.cli("unpause", "busy")
    assert unpause.returncode == 1 and "is not paused" in unpause.stderr
