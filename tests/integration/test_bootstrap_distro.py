"""`image bootstrap debian|ubuntu|web|db`: images made offline (issue 11).

debian is made for real with debootstrap from the host's apt mirror (about 30 s and 50 MB the
first time on these machines). Its layer is cached in a stable folder, /var/cache/dockerlab-test
(override with DOCKERLAB_TEST_CACHE), so CI downloads it once and later runs import the cached
tar in a second. When the mirror is unreachable and nothing is cached, the test is skipped."""

from __future__ import annotations

import functools
import os
import re
import shutil
import stat
import urllib.request

import pytest
from conftest import _mounts_under
from helpers import cli

from dockerlab.engine.images import distro

pytestmark = pytest.mark.integration

CACHE = os.environ.get("DOCKERLAB_TEST_CACHE", "/var/cache/dockerlab-test")
debootstrap = shutil.which("debootstrap", path="/usr/sbin:/usr/bin:/sbin:/bin")


@pytest.fixture
def run(engine):
    return functools.partial(cli, engine.paths.root, clean=True, text=True)


def _mirror() -> tuple[str, str]:
    return distro.choose_mirror("debian", distro.host_sources())


def _reachable(mirror: str, suite: str) -> bool:
    try:
        url = f"{mirror.rstrip('/')}/dists/{suite}/InRelease"
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=15):
            return True
    except OSError:
        return False


@pytest.fixture
def debian_cache():
    if debootstrap is None:
        pytest.skip("debootstrap is not installed (apt-get install debootstrap)")
    try:
        mirror, suite = _mirror()
    except LookupError:
        pytest.skip("the host's apt sources list no Debian archive")
    arch = distro.host_platform()[0]
    cached = os.path.join(CACHE, "bootstrap", f"debian-{suite}-{arch}.tar")
    if not os.path.exists(cached) and not _reachable(mirror, suite):
        pytest.skip(f"the Debian mirror {mirror} is unreachable and nothing is cached")
    return suite


@pytest.mark.timeout(900)
def test_debian_is_bootstrapped_cached_and_runs(run, engine, debian_cache):
    suite = debian_cache
    env = {"DOCKERLAB_CACHE": CACHE}
    r = run("image", "bootstrap", "debian", env=env, timeout=900)
    assert r.returncode == 0, r.stderr
    image_id = r.stdout.strip()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", image_id), r.stdout  # the ID alone on stdout
    assert re.search(
        r"Bootstrapping debian from http\S+ \(debootstrap |Using the cached bootstrap", r.stderr
    )
    assert f"Status: Bootstrapped debian:{suite} and debian:latest" in r.stderr
    assert "\x1b[" not in r.stderr  # no terminal: finished steps only
    # nothing left mounted or in scratch space
    assert _mounts_under(engine.paths.root) == []
    assert os.listdir(engine.paths.tmp) == []
    tags = run("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "debian").stdout.split(
        "\n"
    )
    assert f"debian:{suite} {image_id[7:19]}" in tags and f"debian:latest {image_id[7:19]}" in tags
    config = engine.image_inspect("debian:latest")
    assert config["Config"]["Cmd"] == ["bash"]
    assert config["Config"]["Env"][0].startswith("PATH=/usr/local/sbin")
    assert len(config["RootFS"]["Layers"]) == 1
    history = run("history", "--no-trunc", "--format", "{{.CreatedBy}}", "debian").stdout
    assert re.search(
        rf"dockerlab image bootstrap debian: debootstrap \S+ --variant=minbase {suite} http",
        history,
    )
    # a real userland
    r = run("run", "--rm", "debian", "cat", "/etc/debian_version")
    assert r.returncode == 0 and re.fullmatch(r"\d+(\.\d+)*\n|[a-z]+/sid\n", r.stdout), r
    r = run("run", "--rm", "debian", "apt-get", "--version")
    assert r.returncode == 0 and r.stdout.startswith("apt "), r
    r = run("run", "--rm", "debian", "sh", "-c", "ls /var/cache/apt/archives/*.deb; echo $?")
    assert r.stdout.strip().endswith("2")  # no package cache shipped
    # the second time comes from the cache, as the same image
    r = run("image", "bootstrap", "debian", env=env)
    assert r.returncode == 0 and r.stdout.strip() == image_id
    assert "Using the cached bootstrap" in r.stderr


FAKE = """#!/bin/sh
# debootstrap's shape: it mounts proc in its target, works, then fails
for target; do :; done
for a; do [ "$a" = "$target" ] && break; t=$a; done
target=$t
mkdir -p "$target/proc" "$target/sys"
mount -t proc proc "$target/proc"
mount -t tmpfs tmpfs "$target/sys"
echo "I: Retrieving InRelease"
echo "I: Retrieving libc6 2.36-9"
echo "E: Couldn't download packages: libc6" >&2
exit 1
"""


def test_a_failed_debootstrap_leaves_no_mount_nor_temp_dir(run, engine, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "debootstrap"
    fake.write_text(FAKE)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    env = {"DOCKERLAB_CACHE": str(tmp_path / "cache"), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    try:
        mirror, suite = _mirror()
    except LookupError:
        pytest.skip("the host's apt sources list no Debian archive")
    r = run("image", "bootstrap", "debian", env=env)
    assert r.returncode == 1
    assert f"{suite}: Bootstrapping debian from {mirror}" in r.stderr
    assert "Retrieved 1 package\n" in r.stderr
    assert "E: Couldn't download packages: libc6\n" in r.stderr
    assert r.stderr.endswith(
        "Error response from daemon: debootstrap failed (exit status 1): I: Retrieving "
        "InRelease / I: Retrieving libc6 2.36-9 / E: Couldn't download packages: libc6\n"
    )
    assert _mounts_under(engine.paths.root) == []
    assert os.listdir(engine.paths.tmp) == []
    assert not any(n.endswith(".tar") for n in os.listdir(tmp_path / "cache" / "bootstrap"))
    assert "debian" not in run("images", "--format", "{{.Repository}}").stdout


def test_ubuntu_without_an_ubuntu_archive_says_what_is_missing(run):
    if any(distro._is_distro_uri("ubuntu", u) for e in distro.host_sources() for u in e["URIs"]):
        pytest.skip("this host's apt sources do list an Ubuntu archive")
    if debootstrap is None:
        pytest.skip("debootstrap is not installed")
    r = run("image", "bootstrap", "ubuntu")
    assert r.returncode == 1
    assert r.stderr.startswith("Error response from daemon: cannot bootstrap ubuntu: the host's ")
    assert "list no Ubuntu archive to debootstrap from" in r.stderr
    assert "deb http://archive.ubuntu.com/ubuntu jammy main" in r.stderr


def _poll(script: str) -> str:
    """A bounded retry inside a container while a server comes up (no fixed sleeps)."""
    return f"for i in $(seq 100); do {script} && exit 0; sleep 0.1; done; exit 1"


def test_web_serves_its_page(run, engine):
    r = run("image", "bootstrap", "web")
    assert r.returncode == 0, r.stderr
    assert "Successfully tagged web:latest" in r.stderr
    image = engine.image_inspect("web")
    assert image["Config"]["ExposedPorts"] == {"80/tcp": {}}
    assert run("run", "-d", "--name", "lab-web", "web").returncode == 0
    ip = engine.inspect("lab-web")["NetworkSettings"]["IPAddress"]
    r = run("run", "--rm", "busybox", "sh", "-c", _poll(f"wget -qO- http://{ip}/"))
    assert r.returncode == 0, r.stderr
    assert "<h1>Hello from the web container</h1>" in r.stdout


def test_db_stores_keys_and_shows_its_env(run, engine):
    r = run("image", "bootstrap", "db")
    assert r.returncode == 0, r.stderr
    image = engine.image_inspect("db")
    assert image["Config"]["ExposedPorts"] == {"3306/tcp": {}}
    assert "DB_PASSWORD=labpass" in image["Config"]["Env"]
    assert run("run", "-d", "--name", "lab-db", "db").returncode == 0
    ip = engine.inspect("lab-db")["NetworkSettings"]["IPAddress"]
    talk = "printf 'PING\\nSET course docker lab\\nGET course\\nGET ../x\\nQUIT\\n'"
    r = run("run", "--rm", "busybox", "sh", "-c", _poll(f"{talk} | nc {ip} 3306"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-5:] == [
        "PONG",
        "OK",
        "docker lab",
        "ERR invalid key '../x'",
        "BYE",
    ]


HANGS = """#!/bin/sh
for a; do [ -n "$prev" ] && t=$prev; prev=$a; done
target=$t
mkdir -p "$target/proc"
mount -t proc proc "$target/proc"
echo "I: Retrieving libc6 2.36-9"
echo $$ > "$DOCKERLAB_CACHE/fake.pid"  # exec keeps the pid
exec sleep 120
"""


def test_an_interrupted_debootstrap_is_stopped_and_leaves_nothing(engine, tmp_path):
    import signal
    import subprocess

    from helpers import cli_popen, pid_ended, wait_until

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "debootstrap"
    fake.write_text(HANGS)
    fake.chmod(0o755)
    try:
        _mirror()
    except LookupError:
        pytest.skip("the host's apt sources list no Debian archive")
    env = {"DOCKERLAB_CACHE": str(tmp_path / "cache"), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    proc = cli_popen(
        engine.paths.root,
        "image",
        "bootstrap",
        "debian",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: _mounts_under(engine.paths.tmp), timeout=30, what="debootstrap's mount")
        pidfile = tmp_path / "cache" / "fake.pid"
        wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), timeout=30)
        sleeper = int(pidfile.read_text())
        proc.send_signal(signal.SIGINT)  # ^C
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    assert wait_until(lambda: pid_ended(sleeper), timeout=10)
    assert _mounts_under(engine.paths.root) == []
    assert os.listdir(engine.paths.tmp) == []
    assert not any(n.endswith(".tar") for n in os.listdir(tmp_path / "cache" / "bootstrap"))
