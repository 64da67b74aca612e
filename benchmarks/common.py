"""What every benchmark here shares: timing, and whether a Docker engine is there to compare."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time

VENV_BIN = os.path.dirname(sys.executable)  # time the venv's own interpreter and scripts


def median_time(fn, n: int) -> float:
    """Median wall time of ``n`` calls of ``fn`` after one warm-up call."""
    fn()  # warm caches and imports
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def docker_available() -> bool:
    """A Docker engine with busybox:latest (../shared/tools/real-docker.sh makes one)."""
    if not shutil.which("docker"):
        return False
    return (
        subprocess.run(
            ["docker", "image", "inspect", "busybox:latest"], capture_output=True
        ).returncode
        == 0
    )
