"""Several processes on one state root at once (a notebook, a terminal, a script) stay correct.

test_engine_concurrency.py covers threads in one process; here each worker is its own
interpreter (multiprocessing with spawn, or the CLI), so only the on-disk locks keep them apart.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import traceback

import helpers
import pytest

from dockerlab import errors

pytestmark = pytest.mark.integration

WORKERS = 4
ROUNDS = 3


def _worker(root: str, i: int, barrier, results) -> None:
    """Create, run, commit, tag and remove, racing the other workers; report what it got."""
    from dockerlab.engine import Engine

    got: dict = {"i": i, "errors": [], "outputs": [], "kept": [], "images": [], "shared": None}
    try:
        engine = Engine(root)
        barrier.wait(60)
        for k in range(ROUNDS):
            # a container that runs and is removed
            cid, att = engine.run(
                {"Image": "busybox", "Cmd": ["echo", f"w{i}-{k}"]}, name=f"w{i}-{k}"
            )
            got["outputs"].append(att.collect())
            engine.remove(cid)
            # --rm: the monitor removes it as it exits
            _, att = engine.run(
                {
                    "Image": "busybox",
                    "Cmd": ["echo", f"rm{i}-{k}"],
                    "HostConfig": {"AutoRemove": True},
                }
            )
            got["outputs"].append(att.collect())
            # a detached one, killed and removed with force
            cid, _ = engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, attach="")
            engine.remove(cid, force=True)
        # one name contested by every worker: exactly one may have it
        try:
            got["shared"] = engine.create({"Image": "busybox", "Cmd": ["true"]}, name="shared")[
                "Id"
            ]
        except errors.Conflict:
            pass
        # images: each commits its own, tags one name all share, removes one of its own
        cid, att = engine.run({"Image": "busybox", "Cmd": ["sh", "-c", f"echo {i} > /who"]})
        att.collect()
        keep = engine.commit(cid, f"keep{i}:v1")
        gone = engine.commit(cid, f"gone{i}:v1")
        engine.image_tag(f"keep{i}:v1", "common:latest")
        engine.image_remove(f"gone{i}:v1")
        engine.remove(cid)
        got["images"] = [keep, gone]
        kept, _ = engine.run({"Image": "busybox", "Cmd": ["true"]}, name=f"kept{i}", attach="")
        got["kept"].append(kept)
    except Exception as exc:  # noqa: BLE001 - the parent reports it
        got["errors"].append(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
    results.put(got)


def test_processes_share_a_root_without_corrupting_it(engine):
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(engine.paths.root, i, barrier, results))
        for i in range(WORKERS)
    ]
    for p in procs:
        p.start()
    got = sorted((results.get(timeout=240) for _ in procs), key=lambda g: g["i"])
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert [g["errors"] for g in got] == [[]] * WORKERS
    for g in got:
        i = g["i"]
        assert g["outputs"] == [
            (0, f"{w}{i}-{k}\n".encode(), b"") for k in range(ROUNDS) for w in ("w", "rm")
        ]
    winners = [g["shared"] for g in got if g["shared"]]
    assert len(winners) == 1

    # the root is consistent: what each kept, nothing else, and every name once
    kept = {cid for g in got for cid in g["kept"]}
    helpers.wait_until(lambda: set(engine.container_ids()) == kept | set(winners))
    assert set(engine.container_ids()) == kept | set(winners)
    names = [engine.inspect(c)["Name"] for c in engine.container_ids()]
    assert sorted(names) == sorted(["/shared"] + [f"/kept{i}" for i in range(WORKERS)])
    tags = sorted(t for img in engine.images() for t in img.get("RepoTags") or [])
    assert tags == sorted(
        ["busybox:latest", "common:latest"] + [f"keep{i}:v1" for i in range(WORKERS)]
    )
    assert engine.image_inspect("common:latest")["Id"] in {g["images"][0] for g in got}
    for g in got:
        assert engine.image_inspect(f"keep{g['i']}:v1")["Id"] == g["images"][0]
        with pytest.raises(errors.NotFound):
            engine.image_inspect(f"gone{g['i']}:v1")
    tmp = os.path.join(engine.paths.root, "tmp")
    assert not os.path.isdir(tmp) or os.listdir(tmp) == []


def test_cli_processes_run_and_remove_at_once(engine):
    """The same through the CLI: `run --rm`, `run -d` + `rm -f`, `rmi`, four at a time."""
    root = engine.paths.root
    script = (
        "set -e; i=$1; {cli} run --rm --name r$i busybox echo out$i; "
        "id=$({cli} run -d busybox sleep 30); {cli} rm -f $id >/dev/null; "
        "{cli} create --name c$i busybox true >/dev/null; {cli} rm c$i >/dev/null; "
        "{cli} tag busybox b$i:x; {cli} rmi b$i:x >/dev/null"
    )
    cli = f"{sys.executable} -m dockerlab"
    procs = [
        subprocess.Popen(
            ["sh", "-c", script.format(cli=cli), "sh", str(i)],
            env=helpers.cli_env(root),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(WORKERS)
    ]
    done = [(p.communicate(timeout=240), p.returncode) for p in procs]
    for i, ((out, err), code) in enumerate(done):
        assert (code, out, err) == (0, f"out{i}\n".encode(), b""), err.decode()
    helpers.wait_until(lambda: engine.container_ids() == [])
    assert engine.container_ids() == []
    tags = sorted(t for img in engine.images() for t in img.get("RepoTags") or [])
    assert tags == ["busybox:latest"]
