"""Symlink-swap races against ``cp`` and ``export`` (the CVE-2018-15664 class), run for real.

A container swaps its folder ``/w/real`` for a symlink to ``/`` in a tight loop while the host
copies from it, into it, or exports it. Every path below the container root must be resolved
and opened through file descriptors, so the host's own files are never read or written, however
the race falls. Each test runs under both resolvers: ``openat2`` (RESOLVE_IN_ROOT) and the
``O_NOFOLLOW`` component walk used where the kernel has no ``openat2``.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import signal
import tarfile
import time

import pytest

from dockerlab.engine.runtime import inroot
from dockerlab.errors import DockerlabError, InvalidParameter, NotFound

SECRET = b"HOST-SECRET-never-in-a-container\n"


def swap(folder: str = "/w/real", link: str = "/") -> str:
    """Shell loop: ``folder`` is a folder, then (for a moment) a symlink to ``link`` (a path
    that, read on the host instead of in the container, is the host's own)."""
    return (
        f"ln -s {link} /w/evil && touch /ready && while :; do mv {folder} /w/tmp; "
        f"mv /w/evil {folder}; mv {folder} /w/evil; mv /w/tmp {folder}; done"
    )


@pytest.fixture(params=["openat2", "walk"])
def resolver(request, monkeypatch):
    """Run the test with the kernel's openat2 and with the fallback walk forced."""
    if request.param == "openat2" and not inroot.HAVE_OPENAT2:
        pytest.skip("the kernel has no openat2 (Linux 5.6)")
    if request.param == "walk":
        monkeypatch.setattr(inroot, "HAVE_OPENAT2", False)
    return request.param


@contextlib.contextmanager
def hard_timeout(seconds: int):
    def expired(*_):
        raise TimeoutError(f"test took more than {seconds}s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def swapping(engine, setup: str, loop: str | None = None) -> str:
    """A running container that ran ``setup`` and now swaps a folder for a link (``loop``,
    by default /w/real for a link to /)."""
    cid, _ = engine.run(
        {"Image": "busybox", "Cmd": ["sh", "-c", f"{setup} && {loop or swap()}"]}, attach=""
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            engine.path_stat(cid, "/ready")
            return cid
        except NotFound:
            time.sleep(0.02)
    raise AssertionError("container did not get ready")


def test_cp_out_never_reads_a_host_file_through_a_swapped_symlink(engine, tmp_path, resolver):
    secret = tmp_path / "secret"
    secret.write_bytes(SECRET)
    path = f"/w/real{secret}"
    cid = swapping(engine, f"mkdir -p /w/real{tmp_path} && echo inside > {path}")
    got = {"inside": 0, "error": 0}
    with hard_timeout(120):
        for _ in range(300):
            out = io.BytesIO()
            try:
                engine.copy_from(cid, path, out)
            except DockerlabError:
                got["error"] += 1
                continue
            out.seek(0)
            with tarfile.open(fileobj=out) as tf:
                for m in tf:
                    data = tf.extractfile(m).read() if m.isreg() else b""
                    assert SECRET not in data, f"cp read the host's {secret}"
            got["inside"] += 1
    assert got["inside"] > 0


def test_cp_in_never_writes_into_a_host_folder_through_a_swapped_symlink(
    engine, tmp_path, resolver
):
    host_dir = tmp_path / "hostdir"
    host_dir.mkdir()
    cid = swapping(engine, f"mkdir -p /w/real{host_dir}")
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w") as tf:
        ti = tarfile.TarInfo("pwned")
        ti.size = 3
        tf.addfile(ti, io.BytesIO(b"pwn"))
    ok = 0
    with hard_timeout(120):
        for _ in range(300):
            payload.seek(0)
            try:
                engine.copy_to(cid, f"/w/real{host_dir}", payload)
                ok += 1
            except DockerlabError:
                pass
            assert list(host_dir.iterdir()) == [], "cp wrote into the host's folder"
    assert ok > 0


def test_export_never_packs_a_host_file_through_a_swapped_symlink(engine, tmp_path, resolver):
    # /w/x holds secret0..secret299; for moments it is a link to a host folder holding files
    # of the same names. Packing by host path would read those between listing and opening.
    host = tmp_path / "h"
    host.mkdir()
    for i in range(300):
        (host / f"secret{i}").write_bytes(SECRET)
    cid = swapping(
        engine,
        "mkdir -p /w/x && for i in $(seq 0 299); do echo inside > /w/x/secret$i; done",
        swap("/w/x", str(host)),
    )
    with hard_timeout(180):
        for _ in range(30):
            out = io.BytesIO()
            engine.export(cid, out)
            out.seek(0)
            with tarfile.open(fileobj=out) as tf:
                for m in tf:
                    if m.isreg() and m.size == len(SECRET):
                        assert tf.extractfile(m).read() != SECRET, (
                            f"export packed a host file as {m.name}"
                        )


def test_diff_never_lists_host_names_through_a_swapped_symlink(engine, tmp_path):
    # /w/x holds folders d0..d499 of the writable layer; for moments /w/x is a link to a host
    # folder holding folders of the same names, each with a file hostonly: walking the layer
    # by host path would list those.
    host = tmp_path / "h"
    for i in range(500):
        (host / f"d{i}").mkdir(parents=True)
        (host / f"d{i}" / "hostonly").write_text("")
    cid = swapping(
        engine,
        "mkdir -p /w/x && cd /w/x && for i in $(seq 0 499); do mkdir d$i; done && cd /",
        swap("/w/x", str(host)),
    )
    with hard_timeout(120):
        for _ in range(100):
            paths = [c["Path"] for c in engine.diff(cid)]
            assert not [p for p in paths if "hostonly" in p], "diff listed a host folder"


# ---- GNU sparse tars: a few KB must not become a GB file ------------------------------------


def _sparse_tar() -> bytes:
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[1] / "unit"))
    from test_archive import _gnu_sparse_tar

    return _gnu_sparse_tar(1 << 30).getvalue()


def test_import_of_a_gnu_sparse_tar_is_refused_as_docker_does(engine):
    data = _sparse_tar()
    assert len(data) < 10_000
    with pytest.raises(
        InvalidParameter,
        match=r"^Error processing tar file\(exit status 1\): "
        r"unhandled tar header type 83$",
    ):
        engine.import_image(io.BytesIO(data), "sparse:bomb")
    assert not any("sparse" in t for i in engine.images() for t in i.get("RepoTags") or [])


def test_build_add_of_a_gnu_sparse_tar_is_refused_as_docker_does(engine, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "bomb.tar").write_bytes(_sparse_tar())
    (ctx / "Dockerfile").write_text("FROM busybox\nADD bomb.tar /x/\n")
    with pytest.raises(
        DockerlabError,
        match=r"^failed to copy files: Error processing tar file"
        r"\(exit status 1\): unhandled tar header type 83$",
    ):
        for _ in engine.build(str(ctx)):
            pass


def _remove_exited(engine, name: str) -> None:
    """Wait for ``name`` to end, then remove it. Retries around two engine races that are not
    this file's subject: reading the freezer of a cgroup being removed (ENODEV) and a forced
    remove of a container that is just exiting (Conflict)."""
    from dockerlab.errors import Conflict, SystemFailure

    for _ in range(20):
        try:
            with contextlib.suppress(NotFound):
                engine.wait(name)
                engine.remove(name, force=True)
            return
        except Conflict:
            time.sleep(0.02)
        except SystemFailure as exc:  # an OSError, converted at the engine's boundary
            if exc.errno != errno.ENODEV:
                raise
            time.sleep(0.02)
    raise AssertionError(f"{name} could not be removed")


# ---- bind-mount targets (CVE-2021-30465's class) ---------------------------------------------


def test_bind_target_never_lands_on_the_host_through_a_swapped_volume_folder(engine, tmp_path):
    # Container A makes /v/d (in a volume) appear as a link to "/" and vanish, in a loop;
    # container B mounts the same volume at /mnt and host folders at /mnt/d/<name>/<j>. A
    # target resolved to a host path and created or mounted on later would be the host's
    # own /<name>/<j> whenever the link appeared in between.
    name = f"dockerlab-escape-{os.getpid()}-{tmp_path.name}"
    (tmp_path / "src").mkdir()
    engine.run(
        {
            "Image": "busybox",
            "HostConfig": {"Binds": ["shared:/v"]},
            "Cmd": [
                "sh",
                "-c",
                "touch /v/ready && while :; do rm -rf /v/d; ln -s / /v/d; rm -f /v/d; done",
            ],
        },
        attach="",
    )
    deadline = time.monotonic() + 10
    while not os.path.exists(engine.volume_inspect("shared")["Mountpoint"] + "/ready"):
        assert time.monotonic() < deadline, "container A did not start swapping"
        time.sleep(0.02)
    escaped = f"/{name}"
    try:
        with hard_timeout(180):
            for i in range(150):
                body = {
                    "Image": "busybox",
                    "Cmd": ["true"],
                    "HostConfig": {
                        "Binds": [
                            "shared:/mnt",
                            *(f"{tmp_path / 'src'}:/mnt/d/{name}/{j}" for j in range(8)),
                        ]
                    },
                }
                with contextlib.suppress(DockerlabError):  # the race may break a start
                    engine.run(body, name=f"b{i}", attach="")
                _remove_exited(engine, f"b{i}")
                assert not os.path.lexists(escaped), "a bind target was made on the host"
    finally:
        if os.path.isdir(escaped):
            shutil.rmtree(escaped)
