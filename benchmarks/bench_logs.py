"""Benchmark: `logs --tail 2` (and `-t`, `--since`) of a stopped container with a big log.

Prints dockerlab's wall time and the bytes the CLI read (its `rchar`), and, when a Docker
engine answers, Docker's time on a log of the same size, side by side.

    sudo .venv/bin/python benchmarks/bench_logs.py [-n 5] [--mb 279] [--tree DIR]

`--tree` runs another checkout's dockerlab (e.g. an older commit unpacked with `git archive`)
to compare before and after. Uses a temporary DOCKERLAB_ROOT; in Docker it makes and removes
its own container `dockerlab-bench-logs`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from common import docker_available, median_time

HERE = os.path.dirname(os.path.abspath(__file__))
NAME = "dockerlab-bench-logs"
LINE = "x" * 80


def rchar() -> int:
    """This process's bytes read, reaped children included (the kernel adds them on wait)."""
    with open("/proc/self/io") as f:
        return int(next(line for line in f if line.startswith("rchar:")).split()[1])


def write_log(path: str, mb: int) -> int:
    """Append about ``mb`` MB of stdout records in Docker's json-file format; the count."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 3600))
    rec = '{"log":"' + LINE + ' %d\\n","stream":"stdout","time":"' + stamp + '.%09dZ"}\n'
    n = mb * 1_000_000 // (len(rec) + 4)
    with open(path, "a") as f:
        for lo in range(0, n, 100_000):
            f.write("".join(rec % (i, i) for i in range(lo, min(lo + 100_000, n))))
    return n


def bench_dockerlab(n: int, mb: int, tree: str) -> list[tuple[str, float, int]]:
    sys.path.insert(0, tree)
    from dockerlab.engine import Engine

    root = tempfile.mkdtemp(prefix="dockerlab-bench-logs-")
    env = {**os.environ, "DOCKERLAB_ROOT": root, "PYTHONPATH": tree}
    eng = Engine(root)
    rows = []
    try:
        eng.image_bootstrap("busybox")
        cid, att = eng.run({"Image": "busybox", "Cmd": ["true"]}, name=NAME)
        att.collect()
        path = eng.inspect(cid)["LogPath"]
        write_log(path, mb)
        size = os.path.getsize(path)
        print(f"log: {size / 1e6:.0f} MB")
        for label, args in (
            ("logs --tail 2", ["--tail", "2"]),
            ("logs --tail 2 -t", ["--tail", "2", "-t"]),
            ("logs --tail 100 --since 30m", ["--tail", "100", "--since", "30m"]),
        ):
            cmd = [sys.executable, "-m", "dockerlab", "logs", *args, NAME]
            before = rchar()
            subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, cwd=tree)
            read = rchar() - before
            t = median_time(
                lambda cmd=cmd: subprocess.run(  # type: ignore[misc]
                    cmd, env=env, check=True, cwd=tree, stdout=subprocess.DEVNULL
                ),
                n,
            )
            rows.append((label, t, read))
    finally:
        try:
            eng.remove(NAME, force=True)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return rows


def bench_docker(n: int, mb: int) -> float | None:
    if not docker_available():
        return None
    subprocess.run(["docker", "rm", "-f", NAME], capture_output=True)
    script = f"yes {LINE} | head -c {mb * 1_000_000 * 80 // 150}"  # json adds ~70 bytes a line
    subprocess.run(
        ["docker", "run", "--name", NAME, "busybox", "sh", "-c", script],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        return median_time(
            lambda: subprocess.run(
                ["docker", "logs", "--tail", "2", NAME], check=True, stdout=subprocess.DEVNULL
            ),
            n,
        )
    finally:
        subprocess.run(["docker", "rm", "-f", NAME], capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("--mb", type=int, default=279)
    ap.add_argument("--tree", default=os.path.dirname(HERE))
    args = ap.parse_args()
    rows = bench_dockerlab(args.n, args.mb, os.path.abspath(args.tree))
    docker = bench_docker(args.n, args.mb)
    print(f"{'operation':30} {'dockerlab':>10} {'read':>10} {'docker':>10} {'ratio':>7}")
    for i, (label, t, read) in enumerate(rows):
        theirs = docker if i == 0 else None
        d = f"{theirs:9.3f}s" if theirs is not None else "         -"
        r = f"{t / theirs:6.1f}x" if theirs else "      -"
        print(f"{label:30} {t:9.3f}s {read / 1e6:8.1f}MB {d} {r}")


if __name__ == "__main__":
    main()
