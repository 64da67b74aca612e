"""Benchmark: `run -d -p H:80 busybox httpd` to the first HTTP answer on 127.0.0.1:H, and the
time of one request through the published port (a new connection each).

Prints dockerlab's figures and, when a Docker engine answers, Docker's, side by side as ratios.

    sudo .venv/bin/python benchmarks/bench_ports.py [-n 10]

Uses a temporary DOCKERLAB_ROOT with busybox bootstrapped, so it never touches your state.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from common import docker_available

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = "mkdir -p /www; echo bench > /www/index.html; httpd -f -p 80 -h /www"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return int(s.getsockname()[1])


def answer(url: str, deadline: float) -> bool:
    while time.perf_counter() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.read() == b"bench\n":
                    return True
        except OSError:
            time.sleep(0.002)
    return False


def first_answer(cli: list[str], env: dict[str, str] | None, n: int) -> tuple[float, float]:
    """(median seconds from `run -d -p` to the first page, median seconds per request)."""
    starts, requests = [], []
    for i in range(n + 1):
        port = free_port()
        t = time.perf_counter()
        cid = subprocess.run(
            [*cli, "run", "-d", "-p", f"{port}:80", "busybox", "sh", "-c", SCRIPT],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        url = f"http://127.0.0.1:{port}/"
        ok = answer(url, t + 30)
        took = time.perf_counter() - t
        if ok and i:  # the first round warms caches (and starts a forkserver)
            starts.append(took)
            for _ in range(20):
                r0 = time.perf_counter()
                with urllib.request.urlopen(url, timeout=2) as r:
                    r.read()
                requests.append(time.perf_counter() - r0)
        subprocess.run([*cli, "rm", "-f", cid], env=env, capture_output=True)
        if not ok:
            raise SystemExit(f"{cli[0]}: no answer on {url}")
    return statistics.median(starts), statistics.median(requests)


def bench_dockerlab(n: int) -> tuple[float, float]:
    from dockerlab.engine import Engine

    root = tempfile.mkdtemp(prefix="dockerlab-bench-ports-")
    env = {**os.environ, "DOCKERLAB_ROOT": root, "PYTHONPATH": HERE}  # this tree's code
    eng = Engine(root)
    try:
        eng.image_bootstrap("busybox")
        return first_answer([sys.executable, "-m", "dockerlab"], env, n)
    finally:
        for cid in eng.container_ids():
            eng.remove(cid, force=True)
        code = (
            "from dockerlab.engine.network import record; "
            "from dockerlab.engine.paths import Paths; "
            f"record.remove_default_bridge(Paths.of({root!r}))"
        )
        subprocess.run([sys.executable, "-c", code], cwd=HERE, check=False)
        shutil.rmtree(eng.paths.run, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10, help="runs per figure (median)")
    args = ap.parse_args()
    ours = bench_dockerlab(args.n)
    theirs = first_answer(["docker"], None, args.n) if docker_available() else None
    rows = [("run -d -p to the first HTTP answer (s)", 0), ("one request via the port (s)", 1)]
    print(f"{'figure':42} {'dockerlab':>10} {'docker':>10} {'ratio':>7}")
    for label, k in rows:
        mine = ours[k]
        other = theirs[k] if theirs else None
        ratio = f"{mine / other:.2f}" if other else "-"
        shown = f"{other:.4f}" if other else "-"
        print(f"{label:42} {mine:>10.4f} {shown:>10} {ratio:>7}")
    if theirs is None:
        print(
            "(no Docker engine with busybox:latest here: ../shared/tools/real-docker.sh starts one)"
        )


if __name__ == "__main__":
    main()
