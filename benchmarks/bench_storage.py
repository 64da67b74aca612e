"""Benchmark: `run --rm busybox true` per storage driver (overlay2, fuse-overlayfs, vfs),
and `commit` of a container that wrote 1000 files, interleaved on one state root each.

    sudo .venv/bin/python benchmarks/bench_storage.py [-n 20] [--user NAME]

As root by default (one temporary state root per driver, `--network none`); with ``--user``
the same in rootless mode as that unprivileged user (subordinate ID ranges needed; the
fuse-overlayfs column needs /dev/fuse usable by that user, else it is left out).
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DRIVERS = ("overlay2", "fuse-overlayfs", "vfs")


def command(user: str | None, home: str, root: str, driver: str) -> list[str]:
    env = [f"DOCKERLAB_ROOT={root}", f"DOCKERLAB_STORAGE_DRIVER={driver}", f"PYTHONPATH={TREE}"]
    if user is None:
        return ["env", *env, sys.executable, "-m", "dockerlab"]
    base = ["env", "-i", f"HOME={home}", "PATH=/usr/bin:/bin", *env]
    return ["runuser", "-u", user, "--", *base, "/usr/bin/python3", "-m", "dockerlab"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--user", help="run rootless as this unprivileged user")
    args = ap.parse_args()
    home = pwd.getpwnam(args.user).pw_dir if args.user else "/root"
    tmp = tempfile.mkdtemp(prefix="dockerlab-bench-storage-", dir=home if args.user else None)
    if args.user:
        shutil.chown(tmp, args.user, args.user)
    seed = command(None, "/root", os.path.join(tempfile.gettempdir(), "dl-bench-seed"), "vfs")
    tar = os.path.join(tmp, "busybox.tar")
    cmds: dict[str, list[str]] = {}
    try:
        subprocess.run([*seed, "image", "bootstrap", "busybox"], check=True, capture_output=True)
        subprocess.run([*seed, "save", "-o", tar, "busybox"], check=True)
        os.chmod(tar, 0o644)
        for driver in DRIVERS:
            cmd = command(args.user, home, os.path.join(tmp, driver), driver)
            subprocess.run([*cmd, "load", "-i", tar], check=True, capture_output=True)
            got = subprocess.run([*cmd, "info"], capture_output=True, text=True)
            if got.returncode != 0:
                print(f"{driver:15} left out: {got.stderr.strip()}")
                continue
            cmds[driver] = cmd
        run = ["run", "--rm", "--network", "none", "busybox", "true"]
        times: dict[str, list[float]] = {d: [] for d in cmds}
        for i in range(args.n + 2):  # two warm-ups: servers started, bytecode cached
            for driver, cmd in cmds.items():
                t = time.perf_counter()
                subprocess.run([*cmd, *run], check=True, capture_output=True)
                if i >= 2:
                    times[driver].append(time.perf_counter() - t)
        commits: dict[str, float] = {}
        write = "mkdir /many; for i in $(seq 1000); do echo $i > /many/$i; done"
        for driver, cmd in cmds.items():
            subprocess.run(
                [*cmd, "run", "--name", "many", "--network", "none", "busybox", "sh", "-c", write],
                check=True,
                capture_output=True,
            )
            t = time.perf_counter()
            subprocess.run([*cmd, "commit", "many", "many:1"], check=True, capture_output=True)
            commits[driver] = time.perf_counter() - t
            subprocess.run([*cmd, "rm", "-f", "many"], capture_output=True)
        base = statistics.median(times["overlay2"]) if "overlay2" in times else 0.0
        mode = f"rootless as {args.user}" if args.user else "root"
        print(f"run --rm busybox true, {mode}, load {os.getloadavg()[0]:.1f}:")
        for driver, got in times.items():
            med = statistics.median(got)
            ratio = f"  {med / base:.2f}x overlay2" if base else ""
            print(
                f"  {driver:15} median {med * 1000:6.1f} ms  min {min(got) * 1000:6.1f} ms"
                f"  (n={len(got)}){ratio}   commit of 1000 files {commits[driver] * 1000:6.0f} ms"
            )
    finally:
        for cmd in cmds.values():
            subprocess.run([*cmd, "system", "prune", "-af"], capture_output=True)
        subprocess.run(["rm", "-rf", tmp, os.path.join(tempfile.gettempdir(), "dl-bench-seed")])


if __name__ == "__main__":
    main()
