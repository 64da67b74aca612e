"""Benchmark: what the bridge network costs a container, and whether it grows with the count.

(a) the CLI's ``run --rm busybox true`` on the default bridge and with ``--network none``,
    interleaved (a noisy machine weighs on both alike): median wall and CPU time, and the
    difference, against the budget (the bridge adds at most 15 ms; the run takes at most
    0.10 s);
(b) ``N`` containers (50 by default) started with ``run -d busybox sleep 600`` on one bridge,
    one after the other: the time of each ``run -d``, the median of the first 10 against the
    last 10 (it must not grow with the count).

Prints Docker's figures beside ours, as ratios, when a Docker engine with ``busybox:latest``
answers (../shared/tools/real-docker.sh starts one). Everything it starts is removed, for
Docker too (its containers carry the label ``dockerlab.bench=network``).

    sudo .venv/bin/python benchmarks/bench_network.py [-n 20] [--count 50]

Uses a temporary DOCKERLAB_ROOT with busybox bootstrapped (and so a bridge of its own), and
this checkout's code (not necessarily the venv's installed one).
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

from common import docker_available

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)  # this tree's dockerlab, for the set-up and the clean-up
LABEL = "dockerlab.bench=network"
BUDGET_RUN, BUDGET_BRIDGE = 0.100, 0.015


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall and CPU time (of the command and its children that it waited for) and stdout."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=HERE, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
    return wall, cpu, done.stdout.strip()


class Dockerlab:
    name = "dockerlab"

    def __init__(self) -> None:
        from dockerlab.engine import Engine

        self.root = tempfile.mkdtemp(prefix="dockerlab-bench-net-")
        self.env = {**os.environ, "DOCKERLAB_ROOT": self.root, "PYTHONPATH": HERE}
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)  # time what users run: cached bytecode
        self.engine = Engine(self.root)
        self.engine.image_bootstrap("busybox")
        self.cleaned = False

    def cli(self, *args: str) -> tuple[float, float, str]:
        return timed([sys.executable, "-m", "dockerlab", *args], self.env)

    def clean(self) -> None:
        from dockerlab.engine.network import record
        from dockerlab.engine.paths import runtime_dir_for

        if self.cleaned:
            return
        self.cleaned = True
        for cid in self.engine.container_ids():
            try:
                self.engine.remove(cid, force=True)
            except Exception:  # noqa: BLE001 - clean up the rest
                pass
        record.remove_default_bridge(self.engine.paths)
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(runtime_dir_for(self.root), ignore_errors=True)  # its forkserver exits


class Docker:
    name = "docker"

    def cli(self, *args: str) -> tuple[float, float, str]:
        if args[0] == "run":
            args = ("run", "--label", LABEL, *args[1:])
        return timed(["docker", *args])

    def clean(self) -> None:
        ids = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label={LABEL}"], capture_output=True, text=True
        ).stdout.split()
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)


def run_rm(face: Dockerlab | Docker, n: int) -> dict[str, float]:
    """(a): ``run --rm busybox true`` on the bridge and with ``--network none``, in turn."""
    kinds = {"bridge": (), "none": ("--network", "none")}
    walls: dict[str, list[float]] = {k: [] for k in kinds}
    cpus: dict[str, list[float]] = {k: [] for k in kinds}
    for i in range(n + 1):
        for kind, flags in kinds.items():
            wall, cpu, _ = face.cli("run", "--rm", *flags, "busybox", "true")
            if i:  # the first round warms caches, the forkserver, the bridge
                walls[kind].append(wall)
                cpus[kind].append(cpu)
    out = {}
    for kind in kinds:
        out[f"{kind}_wall"] = statistics.median(walls[kind])
        out[f"{kind}_min"] = min(walls[kind])
        out[f"{kind}_cpu"] = statistics.median(cpus[kind])
    out["added"] = out["bridge_wall"] - out["none_wall"]
    return out


def many(face: Dockerlab | Docker, count: int) -> tuple[dict[str, float], list[float]]:
    """(b): ``count`` × ``run -d busybox sleep 600`` on one bridge, each timed; the
    figures and the median of each ten in turn."""
    times = []
    for _ in range(count):
        wall, _, _ = face.cli("run", "-d", "busybox", "sleep", "600")
        times.append(wall)
    first, last = statistics.median(times[:10]), statistics.median(times[-10:])
    tens = [statistics.median(times[i : i + 10]) for i in range(0, count, 10)]
    return {"first10": first, "last10": last, "growth": last / first}, tens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=20, help="runs per figure of (a) (median)")
    ap.add_argument("--count", type=int, default=50, help="containers started in (b)")
    args = ap.parse_args()
    faces: list[Dockerlab | Docker] = [Dockerlab()]
    if docker_available():
        faces.append(Docker())
    results: dict[str, dict[str, float]] = {}
    tens: dict[str, list[float]] = {}
    try:
        for face in faces:
            results[face.name] = run_rm(face, args.n)
            figures, tens[face.name] = many(face, args.count)
            results[face.name].update(figures)
            face.clean()  # before the next engine runs
    finally:
        for face in faces:
            face.clean()
    ours, theirs = results["dockerlab"], results.get("docker", {})

    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v * 1000:.1f}"

    rows = [
        ("run --rm busybox true, bridge (ms)", "bridge_wall", BUDGET_RUN),
        ("  min (ms)", "bridge_min", None),
        ("  CPU of the CLI (ms)", "bridge_cpu", None),
        ("run --rm --network none busybox true (ms)", "none_wall", None),
        ("  min (ms)", "none_min", None),
        ("the bridge adds (ms, median - median)", "added", BUDGET_BRIDGE),
        (f"run -d, first 10 of {args.count} (ms, median)", "first10", None),
        (f"run -d, last 10 of {args.count} (ms, median)", "last10", None),
    ]
    print(f"{'figure':44} {'dockerlab':>10} {'budget':>8} {'docker':>10} {'ratio':>7}")
    for label, key, budget in rows:
        mine, other = ours.get(key), theirs.get(key)
        ratio = f"{mine / other:.2f}" if mine and other and other > 0 else "-"
        print(f"{label:44} {ms(mine):>10} {ms(budget):>8} {ms(other):>10} {ratio:>7}")
    growth = f"{ours['growth']:.2f}"
    print(f"{'last 10 / first 10 (must not grow: ~1.0)':44} {growth:>10} {'':>8} ", end="")
    print(f"{theirs['growth']:>10.2f}" if theirs else f"{'-':>10}")
    for name, series in tens.items():
        print(f"{name}: run -d, median of each 10 in turn (ms):", " ".join(ms(t) for t in series))
    if not theirs:
        print("(no Docker engine with busybox:latest here: ../shared/tools/real-docker.sh)")


if __name__ == "__main__":
    main()
