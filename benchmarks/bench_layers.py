"""Benchmark: `diff` and `commit` of a container holding 10 000 new files.

Prints dockerlab's figures (Python API and CLI) and, when a Docker engine answers, Docker's,
side by side as ratios.

    sudo .venv/bin/python benchmarks/bench_layers.py [-n 5] [--files 10000]

Uses a temporary DOCKERLAB_ROOT with busybox bootstrapped, so it never touches your state.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time

from common import VENV_BIN, docker_available, median_time


def script(files: int) -> str:
    return (
        f"mkdir -p /data && cd /data && i=0; while [ $i -lt {files} ]; do "
        "echo $i > f$i; i=$((i+1)); done"
    )


def bench_dockerlab(n: int, files: int) -> dict[str, float]:
    from dockerlab.engine import Engine

    root = tempfile.mkdtemp(prefix="dockerlab-bench-")
    env = {**os.environ, "DOCKERLAB_ROOT": root}
    eng = Engine(root)
    out: dict[str, float] = {}
    try:
        eng.image_bootstrap("busybox")
        cid, att = eng.run({"Image": "busybox", "Cmd": ["sh", "-c", script(files)]})
        att.collect()
        changes = eng.diff(cid)
        assert len(changes) == files + 1, len(changes)
        out["diff_api"] = median_time(lambda: eng.diff(cid), n)
        cli = [os.path.join(VENV_BIN, "dockerlab"), "diff", cid]
        out["diff_cli"] = median_time(
            lambda: subprocess.run(cli, env=env, check=True, stdout=subprocess.DEVNULL), n
        )

        # A commit of a layer already registered (same content) unpacks nothing: time
        # commits of fresh containers, each with its own 10 000 files.
        def fresh() -> str:
            cid, att = eng.run({"Image": "busybox", "Cmd": ["sh", "-c", script(files)]})
            att.collect()
            return cid

        def timed(fn) -> float:
            times = []
            for _ in range(n):
                c = fresh()
                subprocess.run(["sync"], check=True)
                t = time.perf_counter()
                fn(c)
                times.append(time.perf_counter() - t)
                eng.remove(c)
            return statistics.median(times)

        out["commit_api"] = timed(eng.commit)
        cli = [os.path.join(VENV_BIN, "dockerlab"), "commit"]
        out["commit_cli"] = timed(
            lambda c: subprocess.run([*cli, c], env=env, check=True, stdout=subprocess.DEVNULL)
        )
    finally:
        for c in eng.container_ids():
            eng.remove(c, force=True)
        shutil.rmtree(eng.paths.run, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
    return out


def bench_docker(n: int, files: int) -> dict[str, float]:
    name = "dockerlab-bench-layers"
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    subprocess.run(
        ["docker", "run", "--name", name, "busybox", "sh", "-c", script(files)],
        check=True,
        capture_output=True,
    )
    images: list[str] = []

    def commit() -> None:
        images.append(
            subprocess.run(
                ["docker", "commit", name], check=True, capture_output=True, text=True
            ).stdout.strip()
        )

    try:
        return {
            "diff_cli": median_time(
                lambda: subprocess.run(
                    ["docker", "diff", name], check=True, stdout=subprocess.DEVNULL
                ),
                n,
            ),
            # Docker unpacks the layer again at every commit (then drops the duplicate)
            "commit_cli": median_time(commit, n),
        }
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        if images:
            subprocess.run(["docker", "rmi", *images], capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=5, help="runs per figure (median)")
    ap.add_argument("--files", type=int, default=10_000, help="new files in the container")
    args = ap.parse_args()
    ours = bench_dockerlab(args.n, args.files)
    theirs = bench_docker(args.n, args.files) if docker_available() else {}
    rows = [
        (f"diff, {args.files} new files, Python API (s)", "diff_api", "diff_cli", 0.29),
        (f"diff, {args.files} new files, CLI (s)", "diff_cli", "diff_cli", 0.29),
        ("commit of that container, Python API (s)", "commit_api", "commit_cli", 1.0),
        ("commit of that container, CLI (s)", "commit_cli", "commit_cli", 1.0),
    ]

    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    print(f"{'figure':44} {'dockerlab':>10} {'target':>8} {'docker CLI':>10} {'ratio':>7}")
    for label, key, other_key, target in rows:
        mine, other = ours.get(key), theirs.get(other_key)
        ratio = f"{mine / other:.2f}" if mine and other else "-"
        print(f"{label:44} {fmt(mine):>10} {target:>8} {fmt(other):>10} {ratio:>7}")
    if not theirs:
        print(
            "(no Docker engine with busybox:latest here: ../shared/tools/real-docker.sh starts one)"
        )


if __name__ == "__main__":
    main()
