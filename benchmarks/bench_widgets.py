"""What a ResourceMonitor costs: CPU time of the watching process per watched container at
1 Hz, against the budget of 2 % of one CPU per container.

Two measures, each over ~10 s with 1 and then 3 idle busybox containers:

* in-process: a plain Python process (widgets without a front end: comm messages go
  nowhere), CPU time of the whole process (all threads) minus the same process idle;
* in a kernel: a real ipykernel started with jupyter_client, the monitor made in it, so
  each refresh also serialises its widget updates onto the kernel's IOPub socket (no
  browser attached). CPU time of the kernel process from /proc, minus the idle kernel.

    sudo .venv/bin/python benchmarks/bench_widgets.py [seconds]
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time

BUDGET = 2.0  # % of one CPU per watched container


def _proc_cpu(pid: int) -> float:
    """utime + stime of ``pid`` in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _containers(engine, n: int) -> list[str]:
    return [
        engine.run({"Image": "busybox", "Cmd": ["sleep", "600"]}, attach="")[0] for _ in range(n)
    ]


def in_process(root: str, seconds: float) -> dict[int, float]:
    from dockerlab.engine import Engine
    from dockerlab.widgets import ResourceMonitor

    engine = Engine(root)
    t0, c0 = time.monotonic(), time.process_time()
    time.sleep(seconds)
    idle = (time.process_time() - c0) / (time.monotonic() - t0)
    out = {}
    for n in (1, 3):
        ids = _containers(engine, n)
        mon = ResourceMonitor(*ids, engine=engine, interval=1.0)
        time.sleep(1.5)  # past the first refreshes and imports
        t0, c0, s0 = time.monotonic(), time.process_time(), len(mon.samples)
        time.sleep(seconds)
        cpu = (time.process_time() - c0) / (time.monotonic() - t0)
        rounds = (len(mon.samples) - s0) / n
        mon.close()
        for cid in ids:
            engine.remove(cid, force=True)
        out[n] = max(cpu - idle, 0.0) * 100.0
        print(
            f"  in-process, {n} container(s): {out[n]:.3f} % of one CPU in all, "
            f"{out[n] / n:.3f} % per container ({rounds:.0f} refreshes in {seconds:g} s, "
            f"idle process {idle * 100:.3f} %)"
        )
    return out


KERNEL_CODE = """
import time
from dockerlab.engine import Engine
from dockerlab.widgets import ResourceMonitor
engine = Engine({root!r})
ids = [engine.run({{"Image": "busybox", "Cmd": ["sleep", "600"]}}, attach="")[0]
       for _ in range({n})]
mon = ResourceMonitor(*ids, engine=engine, interval=1.0)
display(mon)
"""

KERNEL_DONE = """
mon.close()
for cid in ids:
    engine.remove(cid, force=True)
"""


def in_kernel(root: str, seconds: float) -> dict[int, float] | None:
    try:
        from jupyter_client.manager import start_new_kernel
    except ImportError:
        print("  in a kernel: skipped (jupyter_client is not installed)")
        return None
    km, kc = start_new_kernel(kernel_name="python3", env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        pid = km.provisioner.process.pid  # type: ignore[union-attr]
        kc.execute_interactive("import ipywidgets, dockerlab.widgets.monitor", timeout=60)
        time.sleep(1.0)
        t0, c0 = time.monotonic(), _proc_cpu(pid)
        time.sleep(seconds)
        idle = (_proc_cpu(pid) - c0) / (time.monotonic() - t0)
        out = {}
        for n in (1, 3):
            kc.execute_interactive(
                KERNEL_CODE.format(root=root, n=n), timeout=60, output_hook=lambda msg: None
            )
            time.sleep(1.5)
            t0, c0 = time.monotonic(), _proc_cpu(pid)
            time.sleep(seconds)
            cpu = (_proc_cpu(pid) - c0) / (time.monotonic() - t0)
            kc.execute_interactive(KERNEL_DONE, timeout=60, output_hook=lambda msg: None)
            out[n] = max(cpu - idle, 0.0) * 100.0
            print(
                f"  in a kernel, {n} container(s): {out[n]:.3f} % of one CPU in all, "
                f"{out[n] / n:.3f} % per container (idle kernel {idle * 100:.3f} %)"
            )
        return out
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    from dockerlab.engine import Engine

    work = tempfile.mkdtemp(prefix="bench-widgets-")
    root = os.path.join(work, "root")
    try:
        Engine(root).image_bootstrap("busybox")
        print(
            f"ResourceMonitor at 1 Hz, CPU over {seconds:g} s (budget {BUDGET:g} % of one "
            "CPU per container)"
        )
        results = {"in-process": in_process(root, seconds), "in a kernel": in_kernel(root, seconds)}
        verdicts = []
        for where, out in results.items():
            if out is None:
                continue
            worst = max(v / n for n, v in out.items())
            verdicts.append(worst <= BUDGET)
            print(
                f"  {where}: worst {worst:.3f} % per container -> "
                f"{'within' if worst <= BUDGET else 'OVER'} budget"
            )
        if not all(verdicts):
            sys.exit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
