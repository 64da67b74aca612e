"""Benchmark: rootless `run --rm busybox true` against root mode's (issue 13: within 1.5x).

    sudo .venv/bin/python benchmarks/bench_rootless.py --user NAME [-n 30] [--bridge] [--ports]

NAME: an existing unprivileged user with subordinate ID ranges (``--user TEMP``: one made
for the run by tests/users.py, removed after). Both modes run the system's Python
(/usr/bin/python3: the user cannot run the venv's) with this tree on PYTHONPATH, through
runuser (root mode as root), interleaved, with --network none in both, or (``--bridge``)
on the default network: root mode's bridge, rootless the user's bridge behind slirp4netns
(engine/network/usermode.py); root mode on a temporary state root, rootless on the user's
own store. ``--ports``: then one HTTP request at a time through a published port to busybox
httpd in each mode (the round trip from the host, median of n).
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import statistics
import subprocess
import tempfile
import time

TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def command(user: str, home: str, extra: list[str]) -> list[str]:
    env = ["env", "-i", f"HOME={home}", "PATH=/usr/bin:/bin", f"PYTHONPATH={TREE}", *extra]
    return ["runuser", "-u", user, "--", *env, "/usr/bin/python3", "-m", "dockerlab"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--user", required=True)
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--bridge", action="store_true", help="on the default network")
    ap.add_argument("--ports", action="store_true", help="and an HTTP round trip via -p")
    args = ap.parse_args()
    if args.user == "TEMP":  # tests/users.py's temporary user, removed after
        import sys

        sys.path.insert(0, os.path.join(TREE, "tests"))
        from users import temp_user

        with temp_user(runtime_dir=False) as u:
            args.user = u.name
            try:
                bench(args)
            finally:  # its runtime files (the /tmp fallback), as tests/users.py's callers do
                shutil.rmtree(f"/tmp/dockerlab-{u.uid}", ignore_errors=True)
        return
    bench(args)


def bench(args: argparse.Namespace) -> None:
    home = pwd.getpwnam(args.user).pw_dir
    tmp = tempfile.mkdtemp(prefix="dockerlab-bench-rl-")
    os.chmod(tmp, 0o755)
    root_cmd = command("root", "/root", [f"DOCKERLAB_ROOT={tmp}/root"])
    user_cmd = command(args.user, home, [])
    try:
        subprocess.run([*root_cmd, "image", "bootstrap", "busybox"], check=True)
        tar = os.path.join(tmp, "busybox.tar")
        subprocess.run([*root_cmd, "save", "-o", tar, "busybox"], check=True)
        os.chmod(tar, 0o644)
        subprocess.run([*user_cmd, "load", "-i", tar], check=True, capture_output=True)
        net = [] if args.bridge else ["--network", "none"]
        run = ["run", "--rm", *net, "busybox", "true"]
        times: dict[str, list[float]] = {"root": [], "rootless": []}
        for i in range(args.n + 2):  # two warm-ups: servers started, bytecode cached
            for name, cmd in (("root", root_cmd), ("rootless", user_cmd)):
                t = time.perf_counter()
                subprocess.run([*cmd, *run], check=True, capture_output=True)
                if i >= 2:
                    times[name].append(time.perf_counter() - t)
        for name, got in times.items():
            print(
                f"{name:9} median {statistics.median(got) * 1000:6.1f} ms"
                f"  min {min(got) * 1000:6.1f} ms  (n={len(got)})"
            )
        ratio = statistics.median(times["rootless"]) / statistics.median(times["root"])
        print(f"rootless / root: {ratio:.2f}x (load {os.getloadavg()[0]:.1f})")
        if args.ports:
            for name, cmd in (("root", root_cmd), ("rootless", user_cmd)):
                trips = round_trips(cmd, args.n)
                print(
                    f"{name:9} -p HTTP round trip median {statistics.median(trips) * 1000:5.2f} "
                    f"ms  min {min(trips) * 1000:5.2f} ms  (n={len(trips)})"
                )
        files(root_cmd, user_cmd, tar, max(3, args.n // 4))
    finally:
        subprocess.run([*user_cmd, "rm", "-f", "benchweb"], capture_output=True)
        subprocess.run([*root_cmd, "rm", "-f", "benchweb"], capture_output=True)
        subprocess.run([*root_cmd, "system", "prune", "-f"], capture_output=True)
        if args.bridge or args.ports:  # root mode's bridge of the temporary root
            code = (
                "from dockerlab.engine.network import record; from dockerlab.engine.paths "
                f"import Paths; record.remove_default_bridge(Paths.of({tmp + '/root'!r}))"
            )
            subprocess.run(["env", f"PYTHONPATH={TREE}", "/usr/bin/python3", "-c", code])
        shutil.rmtree(tmp, ignore_errors=True)


def round_trips(cmd: list[str], n: int) -> list[float]:
    """``run -d -p PORT:80`` busybox httpd, then n GETs one after another (a new connection
    each, as a browser's first request), each timed from connect to the last byte."""
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = "mkdir /www && echo hi > /www/index.html && httpd -f -p 80 -h /www"
    subprocess.run(
        [
            *cmd,
            "run",
            "-d",
            "--name",
            "benchweb",
            "-p",
            f"{port}:80",
            "busybox",
            "sh",
            "-c",
            script,
        ],
        check=True,
        capture_output=True,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while True:  # until it answers (bounded)
        try:
            urllib.request.urlopen(url, timeout=2).read()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    trips = []
    for _ in range(n):
        t = time.perf_counter()
        urllib.request.urlopen(url, timeout=5).read()
        trips.append(time.perf_counter() - t)
    subprocess.run([*cmd, "rm", "-f", "benchweb"], check=True, capture_output=True)
    return trips


def files(root_cmd: list[str], user_cmd: list[str], tar: str, n: int) -> None:
    """`load` of busybox and `cp` of a file out of a stopped container: the rootless ones
    work in the user's namespace (engine/userns.py), a helper spawned per verb."""
    verbs = {
        "load": (["rmi", "-f", "busybox"], ["load", "-i", tar]),
        "cp": (None, ["cp", "bench-cp:/bin/busybox", "-"]),
    }
    try:
        for verb, (before, timed) in verbs.items():
            if verb == "cp":  # (after the loads: a container would keep its image)
                for cmd in (root_cmd, user_cmd):
                    create = [*cmd, "create", "--name", "bench-cp", "--network", "none", "busybox"]
                    subprocess.run(create, check=True, capture_output=True)
            times: dict[str, list[float]] = {"root": [], "rootless": []}
            for _ in range(n):
                for name, cmd in (("root", root_cmd), ("rootless", user_cmd)):
                    if before:
                        subprocess.run([*cmd, *before], capture_output=True)
                    t = time.perf_counter()
                    subprocess.run([*cmd, *timed], check=True, capture_output=True)
                    times[name].append(time.perf_counter() - t)
            med = {k: statistics.median(v) * 1000 for k, v in times.items()}
            print(
                f"{verb:5} root {med['root']:6.1f} ms  rootless {med['rootless']:6.1f} ms"
                f"  ({med['rootless'] / med['root']:.2f}x, n={n})"
            )
    finally:
        for cmd in (root_cmd, user_cmd):
            subprocess.run([*cmd, "rm", "-f", "bench-cp"], capture_output=True)


if __name__ == "__main__":
    main()
