"""Benchmark: the notebook face. `%docker ps` with 50 running containers (value and its HTML
and text renderings) and `%docker run --rm busybox true` (in-process, streamed), both through
a real IPython shell with the extension loaded.

    sudo .venv/bin/python benchmarks/bench_magics.py [-n 20]

Budgets (DESIGN.md): ps ≤ 0.2 s, run --rm busybox true ≤ 0.05 s. Uses a temporary
DOCKERLAB_ROOT with busybox bootstrapped, so it never touches your state.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile

from common import median_time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--containers", type=int, default=50)
    args = ap.parse_args()

    root = tempfile.mkdtemp(prefix="dockerlab-bench-")
    os.environ["DOCKERLAB_ROOT"] = root
    from IPython.testing.globalipapp import start_ipython
    from IPython.utils.capture import capture_output

    from dockerlab.engine import Engine

    eng = Engine(root)
    eng.image_bootstrap("busybox")
    ip = start_ipython()
    ip.run_line_magic("load_ext", "dockerlab")
    ip.display_formatter.formatters["text/html"].enabled = True

    def ps() -> None:
        with capture_output():
            value = ip.run_line_magic("docker", "ps")
            ip.display_formatter.format(value)  # text/plain and text/html, as shown
        assert len(value.rows) == args.containers

    def run() -> None:
        with capture_output():
            result = ip.run_line_magic("docker", "run --rm busybox true")
        assert result.exit_code == 0

    def engine_run() -> None:
        _, att = eng.run({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"AutoRemove": True}})
        att.collect()

    try:
        t_run = median_time(run, args.n)  # before the 50 containers: an idle engine
        t_api = median_time(engine_run, args.n)
        for i in range(args.containers):
            eng.run({"Image": "busybox", "Cmd": ["sleep", "600"]}, name=f"c{i}", attach="")

        t_ps = median_time(ps, args.n)
        print(
            f"%docker ps ({args.containers} running)      {t_ps * 1000:7.1f} ms  "
            f"(budget 200 ms: {'ok' if t_ps <= 0.2 else 'OVER'})"
        )
        print(
            f"%docker run --rm busybox true    {t_run * 1000:7.1f} ms  "
            f"(budget 50 ms: {'ok' if t_run <= 0.05 else 'OVER'})"
        )
        print(
            f"Engine.run + collect (no magic)  {t_api * 1000:7.1f} ms  "
            f"(magic overhead: {1000 * (t_run - t_api):+.1f} ms)"
        )
    finally:
        for cid in eng.container_ids():
            try:
                eng.remove(cid, force=True)
            except Exception:  # noqa: BLE001
                pass
        shutil.rmtree(eng.paths.run, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
