"""Benchmark: `save -o` and `load -i` of a small 6-step image (busybox + 5 layers).

Prints dockerlab's figures and, when a Docker engine answers, Docker's, side by side.
Both go through their CLIs; the load is of an image that is not in the store (its base layer
is, as after `docker rmi` of a built image).

    sudo .venv/bin/python benchmarks/bench_saveload.py [-n 5]

Uses a temporary DOCKERLAB_ROOT with busybox bootstrapped, so it never touches your state; in
Docker it builds and removes its own tag `dockerlab-bench:saveload`.
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

VENV_BIN = os.path.dirname(sys.executable)
TAG = "dockerlab-bench:saveload"
STEPS = [
    ("a.txt", 200_000),
    ("b.txt", 400_000),
    ("c/d.txt", 100_000),
    ("e.bin", 800_000),
    ("f.txt", 50_000),
]


def median_time(fn, n: int, before=None) -> float:
    times = []
    for _ in range(n):
        if before:
            before()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_dockerlab_image(root: str, work: str) -> None:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from dockerlab.engine import Engine
    from dockerlab.engine.images.archive import pack_dir

    engine = Engine(root)
    engine.image_bootstrap("busybox")
    store = engine.image_store
    base = store.resolve("busybox")
    cfg = store.config(base)
    tars = [store.blob_path(d) for d in cfg["rootfs"]["diff_ids"]]
    for i, (name, size) in enumerate(STEPS):
        folder = os.path.join(work, f"step{i}")
        os.makedirs(os.path.dirname(os.path.join(folder, name)), exist_ok=True)
        with open(os.path.join(folder, name), "wb") as f:
            f.write(os.urandom(size))
        tar = os.path.join(work, f"step{i}.tar")
        with open(tar, "wb") as f:
            pack_dir(folder, f)
        tars.append(tar)
    new = {k: v for k, v in cfg.items() if k != "rootfs"}
    store.create(tars, new, tags=[TAG], parent=base)


def make_docker_image(work: str) -> None:
    ctx = os.path.join(work, "ctx")
    lines = ["FROM busybox:latest"]
    for i, (name, size) in enumerate(STEPS):
        path = os.path.join(ctx, f"s{i}", name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(os.urandom(size))
        lines.append(f"COPY s{i}/ /")
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write("\n".join(lines) + "\n")
    subprocess.run(
        ["docker", "build", "-q", "-t", TAG, ctx],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )


def docker_ok() -> bool:
    try:
        return (
            subprocess.run(
                ["docker", "image", "inspect", "busybox:latest"], capture_output=True, timeout=10
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5)
    n = ap.parse_args().n
    work = tempfile.mkdtemp(prefix="bench-saveload-")
    root = os.path.join(work, "root")
    dl = [os.path.join(VENV_BIN, "dockerlab"), "--root", root]
    if not os.path.exists(dl[0]):
        dl = [sys.executable, "-m", "dockerlab", "--root", root]
    out = os.path.join(work, "dl.tar")
    try:
        make_dockerlab_image(root, work)
        rows = [
            ("save -o (6-step image)", median_time(lambda: run(*dl, "save", "-o", out, TAG), n)),
            (
                "load -i (image not present)",
                median_time(
                    lambda: run(*dl, "load", "-q", "-i", out),
                    n,
                    before=lambda: run(*dl, "rmi", TAG),
                ),
            ),
        ]
        docker: list[float | None] = [None, None]
        if docker_ok():
            dout = os.path.join(work, "docker.tar")
            make_docker_image(work)
            try:
                docker = [
                    median_time(lambda: run("docker", "save", "-o", dout, TAG), n),
                    median_time(
                        lambda: run("docker", "load", "-q", "-i", dout),
                        n,
                        before=lambda: run("docker", "rmi", TAG),
                    ),
                ]
            finally:
                subprocess.run(["docker", "rmi", TAG], capture_output=True)
        print(f"{'operation':32} {'dockerlab':>10} {'docker':>10} {'ratio':>7}")
        for (name, ours), theirs in zip(rows, docker):
            t = f"{theirs:9.3f}s" if theirs is not None else "         -"
            r = f"{ours / theirs:6.2f}x" if theirs else "      -"
            print(f"{name:32} {ours:9.3f}s {t} {r}")
        print(f"archive size: dockerlab {os.path.getsize(out) / 1e6:.2f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
