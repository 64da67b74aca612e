"""Cached rebuild of a 6-step Dockerfile: dockerlab's engine API, its CLI, and Docker's
classic builder side by side when a Docker engine is here.

    sudo .venv/bin/python benchmarks/bench_build.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

DOCKERFILE = """FROM busybox
ENV A=1
RUN echo hello $A > /greeting
COPY a.txt /x/
WORKDIR /app
CMD ["sh"]
"""


def best(fn, n: int = 10) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    from dockerlab.engine import Engine

    work = tempfile.mkdtemp(prefix="bench-build-")
    ctx = os.path.join(work, "ctx")
    os.makedirs(ctx)
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write(DOCKERFILE)
    with open(os.path.join(ctx, "a.txt"), "w") as f:
        f.write("A\n")
    root = os.path.join(work, "root")
    engine = Engine(root)
    engine.image_bootstrap("busybox")
    for _ in engine.build(ctx, tags=["bench:latest"]):
        pass

    def api() -> None:
        for _ in Engine(root).build(ctx, tags=["bench:latest"]):
            pass

    def cli() -> None:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "dockerlab",
                "--root",
                root,
                "build",
                "-q",
                "-t",
                "bench:latest",
                ctx,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    rows = [("cached rebuild, engine API", best(api)), ("cached rebuild, CLI", best(cli))]
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "info"], capture_output=True).returncode == 0:
        env = dict(os.environ, DOCKER_BUILDKIT="0")

        def dk() -> None:
            subprocess.run(
                [docker, "build", "-q", "-t", "bench:latest", ctx],
                env=env,
                check=True,
                capture_output=True,
            )

        dk()
        rows.append(("cached rebuild, Docker 20.10 classic", best(dk)))
    for name, secs in rows:
        print(f"{name:40s} {secs * 1000:8.1f} ms")
    if len(rows) == 3:
        print(
            f"dockerlab API / Docker: {rows[0][1] / rows[2][1]:.2f}   "
            f"dockerlab CLI / Docker: {rows[1][1] / rows[2][1]:.2f}"
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
