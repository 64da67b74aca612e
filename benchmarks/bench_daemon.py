"""Benchmark: `dockerlab daemon` (the Docker Engine API) beside Docker's own daemon.

(a) ``docker run --rm busybox true`` by the docker CLI through dockerlab's socket and through
    dockerd's (goal: at most a third of Docker's time);
(b) ``docker ps`` with 50 containers: the CLI's wall time, and the daemon's own time for its
    ``GET /containers/json`` from the daemon's log (goal: at most 30 ms);
(c) 100 concurrent ``GET /containers/json``: the time until all are answered, and the
    median and slowest answer;
(d) ``docker cp`` of a 1 GB file into a container and back out: throughput, and the
    daemon's peak memory (VmHWM), which must stay flat (a stream, not a buffer);
(e) the server itself: start until the socket answers, ``/_ping``, ``/version`` and
    ``/info`` round trips (kept-alive connection and a new one each time), the server's own
    time per ``/_ping`` (its log), and what an ``Engine(root)`` per request costs.

A figure whose endpoint the daemon does not serve yet is reported as such (checked by asking:
moby's ``page not found`` means no route). Docker's figures come from ``/var/run/docker.sock``
when a Docker engine with busybox:latest answers (../shared/tools/real-docker.sh starts one);
everything made for the benchmark is removed, in Docker too (label ``dockerlab.bench=daemon``).

    sudo .venv/bin/python benchmarks/bench_daemon.py [-n 20] [--count 50] [--cp-mb 1024]

Uses a temporary DOCKERLAB_ROOT with busybox bootstrapped, and this checkout's code.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from common import docker_available

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)  # this tree's dockerlab, for the set-up and the clean-up
LABEL = "dockerlab.bench=daemon"
DOCKER_SOCK = "/var/run/docker.sock"
API = "/v1.41"  # what both daemons speak (Docker 20.10's maximum)


# ---- HTTP over a unix socket, as plain as a client can be -------------------------------------
class Conn:
    """A kept-alive connection: ``get(path)`` → (status, body)."""

    def __init__(self, sock: str) -> None:
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(120)
        self.s.connect(sock)
        self.f = self.s.makefile("rb")

    def request(self, method: str, path: str, close: bool = False) -> tuple[int, bytes]:
        extra = "Connection: close\r\n" if close else ""
        self.s.sendall(f"{method} {path} HTTP/1.1\r\nHost: d\r\n{extra}\r\n".encode())
        return self.request_answer()

    def request_answer(self) -> tuple[int, bytes]:
        """The answer to what was sent: (status, body)."""
        status = int(self.f.readline().split(b" ", 2)[1])
        length, chunked = 0, False
        while (line := self.f.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "transfer-encoding" and "chunked" in value:
                chunked = True
        if not chunked:
            return status, self.f.read(length)
        body = b""
        while size := int(self.f.readline().split(b";")[0], 16):
            body += self.f.read(size)
            self.f.readline()
        self.f.readline()
        return status, body

    def close(self) -> None:
        self.f.close()
        self.s.close()


def once(sock: str, method: str, path: str) -> tuple[int, bytes]:
    c = Conn(sock)
    try:
        return c.request(method, path, close=True)
    finally:
        c.close()


def served(sock: str, method: str, path: str) -> bool:
    """Whether the daemon has a route for ``method path`` (moby's words for none)."""
    status, body = once(sock, method, path)
    return not (status == 404 and b"page not found" in body)


def median_us(fn, n: int) -> float:
    fn()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e6


# ---- the two daemons ----------------------------------------------------------------------------
class Dockerlab:
    name = "dockerlab"

    def __init__(self) -> None:
        from dockerlab.engine import Engine

        self.root = tempfile.mkdtemp(prefix="dockerlab-bench-daemon-")
        self.folder = tempfile.mkdtemp(prefix="dockerlab-bench-sock-")
        self.sock = os.path.join(self.folder, "docker.sock")
        self.logfile = os.path.join(self.folder, "daemon.log")
        self.engine = Engine(self.root)
        self.engine.image_bootstrap("busybox")
        env = {**os.environ, "PYTHONPATH": HERE}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # time what users run: cached bytecode
        t = time.perf_counter()
        with open(self.logfile, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dockerlab", "--root", self.root, "daemon"]
                + ["-H", f"unix://{self.sock}"],
                cwd=HERE,
                env=env,
                stdout=log,
                stderr=log,
            )
        while True:
            try:
                once(self.sock, "GET", "/_ping")
                break
            except OSError:
                if self.proc.poll() is not None or time.perf_counter() - t > 60:
                    raise SystemExit(f"the daemon did not start: {self.log()}") from None
                time.sleep(0.005)
        self.start_s = time.perf_counter() - t

    def log(self) -> str:
        with open(self.logfile, errors="replace") as f:
            return f.read()

    def server_ms(self, path_re: str, since: int) -> list[float]:
        """The daemon's own time of each request matching ``path_re`` after log offset
        ``since`` (its log line: ``HH:MM:SS METHOD PATH STATUS N.N ms``)."""
        rx = re.compile(r"^\S+ \S+ (\S+) \d+ ([\d.]+) ms", re.M)
        return [float(ms) for p, ms in rx.findall(self.log()[since:]) if re.search(path_re, p)]

    def make_containers(self, count: int) -> list[str]:
        ids = []
        for _ in range(count):
            cid, _ = self.engine.run(
                {"Image": "busybox", "Cmd": ["sleep", "600"], "Labels": {"dockerlab.bench": "d"}},
                attach="",
            )
            ids.append(cid)
        return ids

    def rss_peak_mb(self) -> float:
        return _status_kb(self.proc.pid, "VmHWM") / 1024

    def clean(self) -> None:
        from dockerlab.engine.network import record
        from dockerlab.engine.paths import runtime_dir_for

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        for cid in self.engine.container_ids():
            try:
                self.engine.remove(cid, force=True)
            except Exception:  # noqa: BLE001 - clean up the rest
                pass
        record.remove_default_bridge(self.engine.paths)
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.folder, ignore_errors=True)
        shutil.rmtree(runtime_dir_for(self.root), ignore_errors=True)


class Docker:
    name = "docker"
    sock = DOCKER_SOCK

    def make_containers(self, count: int) -> list[str]:
        return [
            _docker(None, "run", "-d", "--label", LABEL, "busybox", "sleep", "600")
            for _ in range(count)
        ]

    def rss_peak_mb(self) -> float:
        pid = subprocess.run(["pgrep", "-o", "-x", "dockerd"], capture_output=True, text=True)
        return _status_kb(int(pid.stdout.split()[0]), "VmHWM") / 1024 if pid.stdout else 0.0

    def clean(self) -> None:
        ids = _docker(None, "ps", "-aq", "--filter", f"label={LABEL}").split()
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)


def _status_kb(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _cli_env(sock: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DOCKER_CONTEXT", None)
    if sock:
        env["DOCKER_HOST"] = f"unix://{sock}"
    else:
        env.pop("DOCKER_HOST", None)
    return env


def _docker(sock: str | None, *args: str) -> str:
    return subprocess.run(
        ["docker", *args], env=_cli_env(sock), check=True, capture_output=True, text=True
    ).stdout.strip()


def _cli_time(sock: str | None, n: int, *args: str) -> float:
    env = _cli_env(sock)

    def run() -> None:
        subprocess.run(["docker", *args], env=env, check=True, capture_output=True)

    return median_us(run, n) / 1e6


# ---- the figures ---------------------------------------------------------------------------
def run_rm(face: Any, n: int) -> float:
    """(a)"""
    return _cli_time(face.sock, n, "run", "--rm", "--label", LABEL, "busybox", "true")


def ps_many(face: Any, count: int, n: int) -> dict[str, float]:
    """(b) and (c): ``count`` containers running, then ``docker ps`` and 100 concurrent
    ``GET /containers/json``."""
    face.make_containers(count)
    since = len(face.log()) if isinstance(face, Dockerlab) else 0
    out = {"ps_s": _cli_time(face.sock, n, "ps")}
    if isinstance(face, Dockerlab):
        out["ps_server_ms"] = statistics.median(face.server_ms(r"/containers/json$", since))
    out.update(concurrent(face.sock, f"{API}/containers/json", 100))
    return out


def concurrent(sock: str, path: str, clients: int) -> dict[str, float]:
    """``clients`` connections ask ``path`` at the same moment."""
    start = threading.Barrier(clients + 1)
    took: list[float] = []
    bad: list[int] = []

    def client() -> None:
        c = Conn(sock)
        try:
            start.wait(60)
            t = time.perf_counter()
            status, _ = c.request("GET", path, close=True)
            took.append(time.perf_counter() - t)
            if status != 200:
                bad.append(status)
        finally:
            c.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for th in threads:
        th.start()
    start.wait(60)
    t = time.perf_counter()
    for th in threads:
        th.join(300)
    total = time.perf_counter() - t
    if bad or len(took) != clients:
        raise SystemExit(f"{path}: {len(took)} answers of {clients}, statuses {bad}")
    return {
        "conc_total_s": total,
        "conc_median_ms": statistics.median(took) * 1000,
        "conc_max_ms": max(took) * 1000,
    }


def copy_big(face: Any, mb: int) -> dict[str, float]:
    """(d): ``docker cp`` of an ``mb`` MB file into a running container and back out."""
    folder = tempfile.mkdtemp(prefix="dockerlab-bench-cp-")
    big = os.path.join(folder, "big")
    with open(big, "wb") as f:  # real bytes (a sparse file would read as a hole)
        block = os.urandom(1 << 20)
        for _ in range(mb):
            f.write(block)
    try:
        (cid,) = face.make_containers(1)
        env = _cli_env(face.sock)
        t = time.perf_counter()
        subprocess.run(["docker", "cp", big, f"{cid}:/big"], env=env, check=True)
        into = time.perf_counter() - t
        t = time.perf_counter()
        with open(os.devnull, "wb") as sink:
            subprocess.run(["docker", "cp", f"{cid}:/big", "-"], env=env, check=True, stdout=sink)
        out_of = time.perf_counter() - t
        return {
            "cp_in_mbs": mb / into,
            "cp_out_mbs": mb / out_of,
            "rss_peak_mb": face.rss_peak_mb(),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def round_trips(sock: str, n: int) -> dict[str, float]:
    """(e) as a client sees it, for either daemon."""
    out = {}
    for path in ("/_ping", "/version", "/info"):
        c = Conn(sock)
        try:
            out[f"{path}_keep_us"] = median_us(
                lambda p=path, c=c: c.request("GET", API + p), n * 20
            )
        finally:
            c.close()
        out[f"{path}_new_us"] = median_us(lambda p=path: once(sock, "GET", API + p), n * 10)
    return out


def server_figures(ours: Dockerlab, n: int) -> dict[str, float]:
    """(e) from inside: start, the server's own time, the engine per request."""
    from dockerlab.engine import Engine

    out = {"start_s": ours.start_s, **round_trips(ours.sock, n)}
    since = len(ours.log())
    c = Conn(ours.sock)
    try:
        for _ in range(n * 20):
            c.request("GET", "/_ping")
    finally:
        c.close()
    out["ping_server_us"] = statistics.median(ours.server_ms(r"^/_ping$", since)) * 1000
    out["engine_us"] = median_us(lambda: Engine(ours.root), n * 20)
    return out


def core_stream(mb: int) -> dict[str, float]:
    """(e) the server core alone, in this process, with two routes of its own: ``mb`` MB
    streamed out (chunked, as ``docker cp`` out and logs are) and in (a chunked body, as
    ``docker cp`` in and build contexts are), and how much this process's peak RSS grew."""
    import io
    import resource

    from dockerlab.daemon import router
    from dockerlab.daemon.http import Request, Streamed
    from dockerlab.daemon.server import Daemon

    block = os.urandom(1 << 20)

    def out(req: Request, api: Any) -> Streamed:
        return Streamed((block for _ in range(mb)), "application/x-tar")

    def sink(req: Request, api: Any) -> dict[str, int]:
        n = 0
        while got := req.body.read(1 << 20):
            n += len(got)
        return {"n": n}

    routes = [router.Route("GET", "/_bench/out", out), router.Route("PUT", "/_bench/in", sink)]
    router.ROUTES.extend(routes)
    folder = tempfile.mkdtemp(prefix="dockerlab-bench-core-")
    sock = os.path.join(folder, "d.sock")
    daemon = Daemon([f"unix://{sock}"], folder, log=io.StringIO())
    daemon.listen()
    th = threading.Thread(target=daemon.serve_forever, daemon=True)
    th.start()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        c = Conn(sock)
        t = time.perf_counter()
        c.s.sendall(b"GET /_bench/out HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
        got = 0
        while data := c.s.recv(1 << 20):
            got += len(data)
        out_s = time.perf_counter() - t
        c.close()
        c = Conn(sock)
        t = time.perf_counter()
        c.s.sendall(b"PUT /_bench/in HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n")
        frame = b"%x\r\n%s\r\n" % (len(block), block)
        for _ in range(mb):
            c.s.sendall(frame)
        c.s.sendall(b"0\r\n\r\n")
        status, body = c.request_answer()
        in_s = time.perf_counter() - t
        c.close()
        assert got > mb << 20 and status == 200 and json.loads(body)["n"] == mb << 20
    finally:
        daemon.stop()
        th.join(30)
        for r in routes:
            router.ROUTES.remove(r)
        shutil.rmtree(folder, ignore_errors=True)
    grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    return {"core_out_mbs": mb / out_s, "core_in_mbs": mb / in_s, "core_rss_grew_mb": grew}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=20, help="runs per figure (median)")
    ap.add_argument("--count", type=int, default=50, help="containers running for (b) and (c)")
    ap.add_argument("--cp-mb", type=int, default=1024, help="size of the file (d) copies")
    args = ap.parse_args()
    if not shutil.which("docker"):
        print("(no docker CLI here: (a), (b) and (d) need one; scripts/setup.sh installs it)")
    ours = Dockerlab()
    docker = Docker() if docker_available() else None
    rows: list[tuple[str, str, float | None]] = []  # label, key, goal
    mine: dict[str, float] = {}
    theirs: dict[str, float] = {}
    missing: list[str] = []
    try:
        mine.update(server_figures(ours, args.n))
        mine.update(core_stream(args.cp_mb))
        if docker:
            theirs.update(round_trips(docker.sock, args.n))
        sock = ours.sock
        have = {
            "create": served(sock, "POST", f"{API}/containers/create"),
            "list": served(sock, "GET", f"{API}/containers/json"),
            "archive": served(sock, "PUT", f"{API}/containers/none/archive?path=/"),
        }
        cli = shutil.which("docker") is not None
        if have["create"] and cli:
            mine["run_s"] = run_rm(ours, args.n)
            if docker:
                theirs["run_s"] = run_rm(docker, args.n)
        else:
            missing.append("(a) docker run: no POST /containers/create yet" if cli else "(a)")
        if have["list"]:
            mine.update(ps_many(ours, args.count, args.n) if cli else {})
            if docker and cli:
                theirs.update(ps_many(docker, args.count, args.n))
        else:
            missing.append("(b), (c) docker ps, concurrent lists: no GET /containers/json yet")
            mine.update(concurrent(sock, f"{API}/info", 100))  # what there is, meanwhile
            if docker:
                theirs.update(concurrent(docker.sock, f"{API}/info", 100))
            rows.append(("100 concurrent GET /info, all answered (s)", "conc_total_s", None))
        if have["archive"] and cli:
            mine.update(copy_big(ours, args.cp_mb))
            if docker:
                theirs.update(copy_big(docker, args.cp_mb))
        else:
            missing.append("(d) docker cp: no PUT/GET /containers/{id}/archive yet")
    finally:
        ours.clean()
        if docker:
            docker.clean()
    rows += [
        ("(a) docker run --rm busybox true (s)", "run_s", None),
        (f"(b) docker ps, {args.count} containers (s)", "ps_s", None),
        ("(b) GET /containers/json, daemon's own time (ms)", "ps_server_ms", 30),
        ("(c) 100 concurrent GET /containers/json (s)", "conc_total_s", None),
        ("(c) one of them: median (ms)", "conc_median_ms", None),
        ("(c) one of them: slowest (ms)", "conc_max_ms", None),
        (f"(d) docker cp {args.cp_mb} MB in (MB/s)", "cp_in_mbs", None),
        (f"(d) docker cp {args.cp_mb} MB out (MB/s)", "cp_out_mbs", None),
        ("(d) the daemon's peak RSS (MB)", "rss_peak_mb", None),
        ("(e) daemon start until it answers (s)", "start_s", None),
        ("(e) GET /_ping, kept-alive (us)", "/_ping_keep_us", None),
        ("(e) GET /_ping, new connection (us)", "/_ping_new_us", None),
        ("(e) GET /_ping, the server's own time (us)", "ping_server_us", None),
        ("(e) GET /version, kept-alive (us)", "/version_keep_us", None),
        ("(e) GET /info, kept-alive (us)", "/info_keep_us", None),
        ("(e) GET /info, new connection (us)", "/info_new_us", None),
        ("(e) Engine(root), once per request (us)", "engine_us", None),
        (f"(e) server core: {args.cp_mb} MB streamed out (MB/s)", "core_out_mbs", None),
        (f"(e) server core: {args.cp_mb} MB body in (MB/s)", "core_in_mbs", None),
        ("(e) server core: peak RSS grew by (MB)", "core_rss_grew_mb", None),
    ]
    if "run_s" in theirs:
        rows.insert(1, ("(a) goal: a third of Docker's (s)", "run_goal", None))
        theirs["run_goal"] = theirs["run_s"] / 3
    print(f"{'figure':52} {'dockerlab':>10} {'goal':>6} {'docker':>10} {'ratio':>7}")
    seen = set()
    for label, key, goal in rows:
        if key in seen or (key not in mine and key not in theirs):
            continue
        seen.add(key)
        a, b = mine.get(key), theirs.get(key)
        ratio = f"{a / b:.2f}" if a and b else "-"
        fa = "-" if a is None else f"{a:.3f}"
        fb = "-" if b is None else f"{b:.3f}"
        print(f"{label:52} {fa:>10} {goal or '-':>6} {fb:>10} {ratio:>7}")
    for m in missing:
        print(f"not measured: {m}")
    if docker is None:
        print("(no Docker engine with busybox:latest here: ../shared/tools/real-docker.sh)")
    print(json.dumps({"dockerlab": mine, "docker": theirs}, separators=(",", ":")))


if __name__ == "__main__":
    main()
