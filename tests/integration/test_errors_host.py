"""When the host refuses (a read-only state root, a full disk, a file where a folder should
be), every command says so in Docker's words with Docker's exit code: the CLI runs as a
subprocess, and its stderr never holds ``[Errno N]`` or a traceback. (The notebook's
``%docker`` shows the same message: see test_magics.py.)"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from dockerlab.engine import Engine

HEX12 = "[0-9a-f]{12}"


def dockerlab(
    root, *args: str, input: bytes | None = None, stdout=subprocess.PIPE, timeout: float = 60
) -> subprocess.CompletedProcess:
    env = {**os.environ, "DOCKERLAB_ROOT": str(root)}
    return subprocess.run(
        [sys.executable, "-m", "dockerlab", *args],
        env=env,
        input=input,
        stdout=stdout,
        stderr=subprocess.PIPE,
        timeout=timeout,
    )


def says(r: subprocess.CompletedProcess, code: int, pattern: str) -> None:
    """``r`` exited ``code`` and its whole stderr matches ``pattern``, in Docker's words."""
    err = r.stderr.decode()
    assert "[Errno" not in err and "Traceback" not in err, err
    assert r.returncode == code, err
    assert re.fullmatch(pattern, err), err


def run_says(r: subprocess.CompletedProcess, verb: str, message: str) -> None:
    """A ``run``/``create`` failure: Docker's client wording, exit 125."""
    says(
        r,
        125,
        f"dockerlab: Error response from daemon: {message}\\.\n\n"
        f"Run 'dockerlab {verb} --help' for more information\n",
    )


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def umount(path) -> None:
    subprocess.run(["umount", "-l", str(path)], check=False)


def fill(folder) -> None:
    """Fill the filesystem of ``folder`` to its last block."""
    fd = os.open(os.path.join(folder, "filler"), os.O_WRONLY | os.O_CREAT)
    try:
        for chunk in (1 << 16, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError:
                pass
    finally:
        os.close(fd)


def _seed(busybox_root, root) -> Engine:
    """A copy of the busybox root at ``root`` holding a created container "c1"."""
    shutil.copytree(busybox_root, root, symlinks=True)
    eng = Engine(str(root))
    eng.create({"Image": "busybox", "Cmd": ["true"]}, name="c1")
    return eng


def _forget(eng: Engine) -> None:
    from dockerlab.engine.network import record

    record.remove_default_bridge(eng.paths)  # the root's network, if it ran a container
    shutil.rmtree(eng.paths.run, ignore_errors=True)


@pytest.fixture
def archive(busybox_root, tmp_path):
    """busybox:latest as a docker-save archive."""
    path = tmp_path / "busybox.tar"
    with open(path, "wb") as f:
        Engine(str(busybox_root)).save(["busybox"], f)
    return path


@pytest.fixture
def readonly_root(busybox_root, tmp_path):
    """A state root (busybox, container c1) on a read-only bind mount."""
    ro = tmp_path / "ro"
    ro.mkdir()
    src = tmp_path / "src"
    src.mkdir()
    mount("--bind", str(src), str(ro))
    try:
        eng = _seed(busybox_root, ro / "root")
        mount("-o", "remount,bind,ro", str(ro))
        yield ro / "root"
    finally:
        umount(ro)
    _forget(eng)


@pytest.fixture
def full_root(busybox_root, tmp_path):
    """A state root (busybox, container c1) on a tmpfs filled to the last block."""
    mnt = tmp_path / "full"
    mnt.mkdir()
    mount("-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt))
    try:
        eng = _seed(busybox_root, mnt / "root")
        fill(mnt)
        yield mnt / "root"
    finally:
        umount(mnt)
    _forget(eng)


@pytest.fixture
def tiny(tmp_path):
    """A 1 MiB tmpfs for the client's own output files."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt))
    yield mnt
    umount(mnt)


# ---- a read-only state root ------------------------------------------------------------------


def test_read_only_state_root(readonly_root, archive, tmp_path):
    root = readonly_root
    ro = "[^\n]+: read-only file system"
    run_says(dockerlab(root, "run", "--rm", "busybox", "true"), "run", f"create: {ro}")
    run_says(dockerlab(root, "create", "busybox"), "create", f"create: {ro}")
    for args, verb in (
        (["tag", "busybox", "other"], "image tag"),
        (["rmi", "-f", "busybox"], "image remove"),
        (["volume", "create", "vol1"], "volume create"),
        (["commit", "c1"], "commit"),
        (["rename", "c1", "c2"], "rename"),
        (["rm", "c1"], "remove"),
        (["container", "prune", "-f"], "prune"),
        (["system", "prune", "-f"], "system prune"),
        (["load", "-i", str(archive)], "load"),
    ):
        says(dockerlab(root, *args), 1, f"Error response from daemon: {verb}: {ro}\n")
    says(
        dockerlab(root, "build", "-", input=b"FROM busybox\n"),
        1,
        f"Error response from daemon: build: {ro}\n",
    )
    says(
        dockerlab(root, "start", "c1"),
        1,
        f"Error response from daemon: start: {ro}\nError: failed to start containers: c1\n",
    )
    # the client's own file on the read-only mount: Go's PathError, printed as is
    says(
        dockerlab(root, "save", "-o", str(root / "busybox.tar"), "busybox"),
        1,
        f"open {root}/\\.dockerlab-\\w+: read-only file system\n",
    )
    # what only reads still works
    assert dockerlab(root, "images", "-q").stdout.strip()
    assert dockerlab(root, "ps", "-aq").returncode == 0


# ---- a full disk -------------------------------------------------------------------------------


def test_full_disk_under_the_state_root(full_root, archive):
    root = full_root
    full = "(?:[^\n]+: )?no space left on device"  # the path, when Python kept it
    run_says(
        dockerlab(root, "run", "--rm", "busybox", "true"),
        "run",
        f"failed to create container {HEX12}: {full}",
    )
    for args, verb in (
        (["tag", "busybox", "other"], "image tag"),
        (["volume", "create", "vol1"], "volume create"),
        (["commit", "c1", "snap"], "commit"),
    ):
        says(dockerlab(root, *args), 1, f"Error response from daemon: {verb}: {full}\n")
    says(
        dockerlab(root, "build", "-", input=b"FROM busybox\nRUN true\n"),
        1,
        f"Error response from daemon: build: {full}\n",
    )
    says(
        dockerlab(root, "load", "-i", str(archive)),
        1,
        "Error response from daemon: Error processing tar file: [^\n]*no space left on "
        "device[^\n]*\n",
    )


def test_full_disk_under_the_clients_output_file(engine, tiny):
    root = engine.paths.root
    engine.create({"Image": "busybox", "Cmd": ["true"]}, name="c1")
    for args in (
        ["save", "-o", f"{tiny}/busybox.tar", "busybox"],
        ["export", "-o", f"{tiny}/c1.tar", "c1"],
    ):
        says(
            dockerlab(root, *args), 1, f"write {tiny}/\\.dockerlab-\\w+: no space left on device\n"
        )
        assert os.listdir(tiny) == []  # the temp file went with the failure
    with open(tiny / "out.tar", "wb") as out:  # save > file: Docker's io.Copy to stdout
        says(
            dockerlab(root, "save", "busybox", stdout=out),
            1,
            "write /dev/stdout: no space left on device\n",
        )
    os.unlink(tiny / "out.tar")
    says(
        dockerlab(root, "cp", "c1:/bin", f"{tiny}/"),
        1,
        f"{tiny}/bin/[^\n]+: no space left on device\n",
    )


def test_a_container_whose_output_outgrows_the_disk_runs_to_its_end(busybox_root, tmp_path):
    """As Docker's json-file logger: lines that cannot be logged are dropped; the container
    and what is attached to it go on."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    mount("-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt))
    try:
        shutil.copytree(busybox_root, mnt / "root", symlinks=True)
        r = dockerlab(
            mnt / "root",
            "run",
            "busybox",
            "sh",
            "-c",
            "head -c 8000000 /dev/zero | tr '\\0' a; echo; echo done",
        )
        assert r.returncode == 0, r.stderr
        assert r.stdout.endswith(b"a\ndone\n") and len(r.stdout) == 8000006
        assert b"[Errno" not in r.stderr
    finally:
        umount(mnt)
        _forget(Engine(str(mnt / "root")))


# ---- a file where a folder is expected -----------------------------------------------------


def test_a_file_where_a_folder_is_expected(engine, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("not a folder\n")
    says(
        dockerlab(afile, "ps"),
        1,
        f"Error response from daemon: state root: {afile}/image: not a directory\n",
    )
    run_says(
        dockerlab(afile, "run", "--rm", "busybox", "true"),
        "run",
        f"state root: {afile}/image: not a directory",
    )
    root = engine.paths.root
    engine.create({"Image": "busybox", "Cmd": ["true"]}, name="c1")
    for args in (["load", "-i", f"{afile}/x.tar"], ["import", f"{afile}/x.tar"]):
        says(dockerlab(root, *args), 1, f"open {afile}/x.tar: not a directory\n")
    says(
        dockerlab(root, "save", "-o", f"{afile}/x.tar", "busybox"),
        1,
        f'failed to save image: invalid output path: directory "{afile}" does not exist\n',
    )
    says(
        dockerlab(root, "run", "--env-file", f"{afile}/env", "busybox"),
        125,
        f"dockerlab: open {afile}/env: not a directory\\.\nSee 'dockerlab run --help'\\.\n",
    )
    says(
        dockerlab(root, "cp", "c1:/etc/hostname", f"{afile}/x"),
        1,
        f'invalid output path: directory "{afile}" does not exist\n',
    )
    # a folder of the state root replaced by a file
    shutil.rmtree(engine.paths.volumes)
    with open(engine.paths.volumes, "w"):
        pass
    says(
        dockerlab(root, "volume", "create", "vol1"),
        1,
        f"Error response from daemon: state root: {engine.paths.volumes}: file exists\n",
    )
