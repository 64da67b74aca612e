"""Benchmark: what the security layers cost on `run --rm busybox true`.

Times the CLI with the default confinement (seccomp profile, device cgroup, capabilities),
with `--security-opt seccomp=unconfined`, and with `--privileged` (no seccomp, all devices),
interleaved run by run so that a noisy machine weighs on every variant alike; with
`--before DIR` (another checkout, e.g. `git worktree add /tmp/before <commit>`) the same
command of that tree runs in the same rotation, for a before/after figure. Prints medians
and minimums, and the differences to the default.

    sudo .venv/bin/python benchmarks/bench_security.py [-n 40] [--before DIR]

Uses a temporary DOCKERLAB_ROOT per tree, with busybox bootstrapped.
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

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def variants(before: str | None) -> dict[str, tuple[str, list[str]]]:
    """name -> (tree, extra run flags)."""
    out = {
        "default": (HERE, []),
        "seccomp=unconfined": (HERE, ["--security-opt", "seccomp=unconfined"]),
        "--privileged": (HERE, ["--privileged"]),
    }
    if before:
        out["before (default)"] = (os.path.abspath(before), [])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=40, help="runs of each variant")
    ap.add_argument("--before", help="another checkout to time in the same rotation")
    args = ap.parse_args()
    runs = variants(args.before)
    roots = {tree: tempfile.mkdtemp(prefix="dockerlab-bench-sec-") for tree, _ in runs.values()}

    def cli(tree: str, *argv: str) -> None:
        env = {**os.environ, "DOCKERLAB_ROOT": roots[tree], "PYTHONPATH": tree}
        subprocess.run(
            [sys.executable, "-m", "dockerlab", *argv],
            env=env,
            cwd=tree,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    try:
        for tree in roots:
            cli(tree, "image", "bootstrap", "busybox")
        times: dict[str, list[float]] = {name: [] for name in runs}
        for i in range(args.n + 1):
            for name, (tree, flags) in runs.items():
                t = time.perf_counter()
                cli(tree, "run", "--rm", *flags, "busybox", "true")
                if i:  # the first round warms caches (and compiles the seccomp program)
                    times[name].append(time.perf_counter() - t)
    finally:
        for root in roots.values():
            shutil.rmtree(root, ignore_errors=True)
    base = statistics.median(times["default"])
    print(f"run --rm busybox true, CLI, {args.n} interleaved runs each")
    print(f"{'variant':<22}{'median':>10}{'min':>10}{'vs default':>12}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(
            f"{name:<22}{med * 1000:>8.1f}ms{min(ts) * 1000:>8.1f}ms{(med - base) * 1000:>+10.1f}ms"
        )


if __name__ == "__main__":
    main()
