"""Benchmark: the share of a CPU a busy container gets, as `stats` and the ResourceMonitor see it.

On an idle machine one busy loop gets about one CPU (~100 %); a loaded machine gives it less,
which is why this lives here and not in the tests (they only check that the figure moves).
A cgroup CPU quota of 0.1 CPU must hold it near 10 % whatever the load.

    sudo .venv/bin/python benchmarks/bench_cpu_share.py [-s 2]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time

BUSY = ["sh", "-c", "while :; do :; done"]


def share(engine, seconds: float, **host_config) -> float:
    """CPU percent (100 = one CPU) of a busy container over `seconds`, as `docker stats`."""
    cid, _ = engine.run({"Image": "busybox", "Cmd": BUSY, "HostConfig": host_config}, attach="")
    try:
        first = engine.stats(cid)
        time.sleep(seconds)  # the window measured
        second = engine.stats(cid, previous=first)
        cpu, pre = second["cpu_stats"], second["precpu_stats"]
        used = cpu["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"]
        return used / (seconds * 1e9) * 100
    finally:
        engine.remove(cid, force=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-s", "--seconds", type=float, default=2.0)
    args = ap.parse_args()
    from dockerlab.engine import Engine

    root = tempfile.mkdtemp(prefix="dockerlab-bench-cpu-")
    try:
        engine = Engine(root)
        engine.image_bootstrap("busybox")
        free = share(engine, args.seconds)
        capped = share(engine, args.seconds, NanoCpus=100_000_000)
        print(
            f"busy loop, no limit:   {free:6.1f} % of a CPU (idle machine: ~100; the "
            f"tests once asserted > 20)"
        )
        print(f"busy loop, --cpus 0.1: {capped:6.1f} % of a CPU (expected ≤ ~10)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
