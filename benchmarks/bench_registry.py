"""Benchmark: push and pull of a 100 MB, 5-layer image against a local docker-registry,
beside Docker when its daemon runs; and a pull whose layers are all present (goal ≤ 0.1 s).

    sudo .venv/bin/python benchmarks/bench_registry.py [-n 3]

The image is busybox plus four layers of 25 MB of random bytes (incompressible, so the
registry really carries 100 MB). Every push goes to a fresh registry and every cold pull into
a fresh state root (in Docker: after `docker rmi` of the image and `docker image prune`), so
nothing is skipped. Uses temporary roots and registries; Docker's tags are removed after.

Figures (median seconds; 2 cores shared with other engineers' work):

    run                                      push   pull   pull-present   in process
    before, quiet machine (load <1)          1.664  0.879  0.103          0.026
      Docker 20.10, same run                 1.608  0.950  0.023
    interleaved, 7 rounds, load ~5:
      before                                 2.495  0.835  0.123
      after                                  2.308  0.694  0.058
      Docker 20.10                           2.282  1.162  0.031
    this script, load ~4, after              2.228  0.884  0.059          0.008

(Interleaved: each round pulls cold, pulls again and pushes to a fresh registry with the
old tree, the new one and Docker in turn, so the load falls alike on all three.)

"Before" is de44821: layers unpacked from their downloaded tars under the store's lock, and
http.client (its email package), the system's CA store for an unverified TLS try, typing etc.
loaded by an up-to-date pull. "After": each layer unpacked while it streams (read once) and
an up-to-date pull importing only what its requests need (DESIGN.md, "Pulling").
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, os.path.join(HERE, ".."))

from common import docker_available  # noqa: E402
from registry_fixture import Registry  # noqa: E402

LAYER_MB = 25
DOCKERFILE = "FROM busybox\n" + "".join(
    f"RUN dd if=/dev/urandom of=/blob{i} bs=1M count={LAYER_MB}\n" for i in range(4)
)


# as installed: byte code cached (this lab's shells set PYTHONDONTWRITEBYTECODE, which makes
# every command compile its modules again)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def dl(root: str, *args: str, quiet: bool = True) -> float:
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "dockerlab", *args],
        env={**ENV, "DOCKERLAB_ROOT": root},
        check=True,
        stdout=subprocess.DEVNULL if quiet else None,
        stderr=subprocess.PIPE,
    )
    return time.perf_counter() - t


def docker(*args: str) -> float:
    t = time.perf_counter()
    subprocess.run(["docker", *args], check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=3)
    n = ap.parse_args().n
    work = tempfile.mkdtemp(prefix="bench-registry-")
    regs: list[Registry] = []

    def registry() -> Registry:
        r = Registry(os.path.join(work, f"reg{len(regs)}"))
        regs.append(r)
        return r

    try:
        from dockerlab.engine import Engine

        src = os.path.join(work, "src")
        Engine(src).image_bootstrap("busybox")
        ctx = os.path.join(work, "ctx")
        os.makedirs(ctx)
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write(DOCKERFILE)
        dl(src, "build", "-q", "-t", "bench/big:1", ctx)
        figures: dict[str, list[float]] = {
            k: [] for k in ("push", "pull", "pull-present", "pull-present-inproc")
        }
        for i in range(n):
            reg = registry()
            ref = f"{reg.addr}/bench/big:1"
            dl(src, "tag", "bench/big:1", ref)
            figures["push"].append(dl(src, "push", ref))
            root = os.path.join(work, f"pull{i}")
            figures["pull"].append(dl(root, "pull", ref))
            figures["pull-present"].append(dl(root, "pull", ref))
            eng = Engine(root)
            t = time.perf_counter()
            for _ in eng.pull(ref):
                pass
            figures["pull-present-inproc"].append(time.perf_counter() - t)
        print(f"image: busybox + 4 × {LAYER_MB} MB random layers ({n} runs, median seconds)")
        for k, v in figures.items():
            print(f"  dockerlab {k:22s} {statistics.median(v):7.3f}")
        if docker_available():
            dfig: dict[str, list[float]] = {"pull": [], "push": [], "pull-present": []}
            ref = f"{regs[0].addr}/bench/big:1"
            for _ in range(n):
                subprocess.run(["docker", "rmi", "-f", ref], capture_output=True)
                subprocess.run(["docker", "image", "prune", "-f"], capture_output=True)
                dfig["pull"].append(docker("pull", ref))
                dfig["pull-present"].append(docker("pull", ref))
                reg = registry()
                target = f"{reg.addr}/bench/big:1"
                docker("tag", ref, target)
                dfig["push"].append(docker("push", target))
                docker("rmi", target)
            subprocess.run(["docker", "rmi", "-f", ref], capture_output=True)
            for k, v in dfig.items():
                print(f"  docker    {k:22s} {statistics.median(v):7.3f}")
        else:
            print("  (no Docker daemon: start one with ../shared/tools/real-docker.sh)")
    finally:
        for r in regs:
            r.stop()
        from dockerlab.engine.network import record
        from dockerlab.engine.paths import Paths

        record.remove_default_bridge(Paths.of(os.path.join(work, "src")))  # the build's
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
