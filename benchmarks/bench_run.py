"""Benchmark: `run --rm busybox true` (CLI and Python API) and an idle container's monitor memory.

Prints dockerlab's figures and, when a Docker engine answers, Docker's, side by side as ratios.

    sudo .venv/bin/python benchmarks/bench_run.py [-n 20]
    sudo .venv/bin/python benchmarks/bench_run.py --before DIR [-n 40]

Uses a temporary DOCKERLAB_ROOT with busybox bootstrapped, so it never touches your state.
With ``--before DIR`` (another checkout) it times only the CLI, this tree's and DIR's in turn
(interleaved, so a noisy machine weighs on both alike), wall and CPU time of the command.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from common import VENV_BIN, docker_available, median_time


def rss_kb(pid: int, key: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def pss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def bench_dockerlab(n: int) -> dict[str, float]:
    from dockerlab.engine import Engine

    root = tempfile.mkdtemp(prefix="dockerlab-bench-")
    env = {**os.environ, "DOCKERLAB_ROOT": root}
    cli = [os.path.join(VENV_BIN, "dockerlab"), "run", "--rm", "busybox", "true"]
    eng = Engine(root)
    try:
        eng.image_bootstrap("busybox")
        out = {"cli": median_time(lambda: subprocess.run(cli, env=env, check=True), n)}

        def api() -> None:
            _cid, att = eng.run(
                {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"AutoRemove": True}}
            )
            att.collect()

        out["api"] = median_time(api, n)
        cid, _ = eng.run({"Image": "busybox", "Cmd": ["sleep", "60"]}, attach="")
        time.sleep(0.3)
        state = eng.store.find(cid).state
        out["monitor_rss_mb"] = rss_kb(state["MonitorPid"]) / 1024
        out["monitor_pss_mb"] = pss_kb(state["MonitorPid"]) / 1024
        eng.remove(cid, force=True)
    finally:
        for cid in eng.container_ids():
            eng.remove(cid, force=True)
        _remove_network(root)
        shutil.rmtree(eng.paths.run, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
    return out


def bench_docker(n: int) -> dict[str, float]:
    out = {
        "cli": median_time(
            lambda: subprocess.run(
                ["docker", "run", "--rm", "busybox", "true"], check=True, capture_output=True
            ),
            n,
        )
    }
    cid = subprocess.run(
        ["docker", "run", "-d", "busybox", "sleep", "60"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    time.sleep(0.5)
    shim = subprocess.run(
        ["pgrep", "-n", "-f", f"containerd-shim.*{cid[:12]}"], capture_output=True, text=True
    ).stdout.strip()
    if not shim:  # one shim per container, the newest one is ours
        shim = subprocess.run(
            ["pgrep", "-n", "-f", "containerd-shim"], capture_output=True, text=True
        ).stdout.strip()
    if shim:
        out["monitor_rss_mb"] = rss_kb(int(shim)) / 1024
        out["monitor_pss_mb"] = pss_kb(int(shim)) / 1024
    subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
    return out


HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def before_after(before: str, n: int) -> None:
    """``run --rm busybox true`` of this tree and of ``before``, in turn."""
    trees = {"after (this tree)": HERE, "before": os.path.abspath(before)}
    roots = {name: tempfile.mkdtemp(prefix="dockerlab-bench-run-") for name in trees}

    def cli(name: str, *argv: str) -> tuple[float, float]:
        env = {**os.environ, "DOCKERLAB_ROOT": roots[name], "PYTHONPATH": trees[name]}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # time what users run: cached bytecode
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "dockerlab", *argv],
            env=env,
            cwd=trees[name],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - t
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)  # the CLI's own, not its server's
        return wall, r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime

    walls: dict[str, list[float]] = {name: [] for name in trees}
    cpus: dict[str, list[float]] = {name: [] for name in trees}
    try:
        for name in trees:
            cli(name, "image", "bootstrap", "busybox")
        for i in range(n + 1):
            for name in trees:
                wall, cpu = cli(name, "run", "--rm", "busybox", "true")
                if i:  # the first round warms caches (and starts a forkserver)
                    walls[name].append(wall)
                    cpus[name].append(cpu)
    finally:
        from dockerlab.engine.paths import runtime_dir_for

        for root in roots.values():
            _remove_network(root)
            shutil.rmtree(root, ignore_errors=True)
            shutil.rmtree(runtime_dir_for(root), ignore_errors=True)  # its forkserver exits
    print(f"run --rm busybox true, CLI, {n} interleaved runs each")
    print(f"{'tree':<20}{'median':>10}{'min':>10}{'CPU median':>12}")
    for name in trees:
        print(
            f"{name:<20}{statistics.median(walls[name]) * 1000:>8.1f}ms"
            f"{min(walls[name]) * 1000:>8.1f}ms{statistics.median(cpus[name]) * 1000:>10.1f}ms"
        )


def _remove_network(root: str) -> None:
    """The root's bridge network (bridge namespace, uplink, nft table), when it has one;
    by this tree's code (the venv's ``dockerlab`` may be another checkout's)."""
    code = (
        "from dockerlab.engine.network import record; from dockerlab.engine.paths import Paths; "
        f"record.remove_default_bridge(Paths.of({root!r}))"
    )
    subprocess.run([sys.executable, "-c", code], cwd=HERE, check=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=20, help="runs per figure (median)")
    ap.add_argument("--before", help="another checkout to time against, CLI only")
    args = ap.parse_args()
    if args.before:
        before_after(args.before, args.n)
        return
    ours = bench_dockerlab(args.n)
    theirs = bench_docker(args.n) if docker_available() else {}
    rows = [
        ("run --rm busybox true, CLI (s)", "cli", 0.06),
        ("run --rm busybox true, Python API (s)", "api", 0.05),
        ("idle container's monitor RSS (MB)", "monitor_rss_mb", 13),
        ("idle container's monitor PSS (MB)", "monitor_pss_mb", None),
    ]

    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    print(f"{'figure':42} {'dockerlab':>10} {'target':>8} {'docker':>10} {'ratio':>7}")
    for label, key, target in rows:
        mine, other = ours.get(key), theirs.get(key)
        ratio = f"{mine / other:.2f}" if mine and other else "-"
        print(f"{label:42} {fmt(mine):>10} {target or '-':>8} {fmt(other):>10} {ratio:>7}")
    if not theirs:
        print(
            "(no Docker engine with busybox:latest here: ../shared/tools/real-docker.sh starts one)"
        )


if __name__ == "__main__":
    main()
