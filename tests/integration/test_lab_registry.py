"""`dockerlab registry start|stop|status`: Debian's docker-registry for real, on loopback,
with and without htpasswd users (issue 11). Each test has its own state root and port;
every test stops what it started and checks that no process or listener is left."""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import urllib.error
import urllib.request

import pytest
from helpers import cli, pid_ended, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not os.access("/usr/bin/docker-registry", os.X_OK),
        reason="Debian's docker-registry is not installed (apt-get install docker-registry)",
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, auth: tuple[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url)
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


class Lab:
    def __init__(self, root: str) -> None:
        self.root = root
        self.folder = os.path.join(root, "registry")
        self.port = free_port()

    def __call__(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return cli(self.root, "registry", *args, text=True, clean=True, **kw)

    def pid(self) -> int:
        return int(self("status", "--format", "{{.Pid}}").stdout)

    def pidfile(self) -> str:
        return os.path.join(self.folder, "registry.pid")


@pytest.fixture
def lab(tmp_path):
    reg = Lab(str(tmp_path / "root"))
    yield reg
    # whatever a test left running is stopped, and must really be gone
    pid = None
    try:
        with open(reg.pidfile()) as f:
            pid = int(f.read())
    except (OSError, ValueError):
        pass
    reg("stop")
    if pid is not None and "docker-registry" in _cmdline(pid):
        os.kill(pid, signal.SIGKILL)
        pytest.fail(f"registry pid {pid} outlived `registry stop`")


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def test_start_status_stop_without_auth(lab):
    r = lab("start", "--port", str(lab.port))
    assert r.returncode == 0, r.stderr
    url = f"http://127.0.0.1:{lab.port}"
    assert f"The lab registry is running on {url} (pid " in r.stdout
    assert f"export DOCKERLAB_MIRROR={url}" in r.stdout
    status, headers, body = get(f"{url}/v2/")
    assert (status, body) == (200, b"{}")
    assert headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    pid = lab.pid()
    assert "docker-registry" in _cmdline(pid)
    s = lab("status").stdout
    assert "Status:   running" in s
    assert f"Address:  127.0.0.1:{lab.port}" in s
    assert f"Pid:      {pid}" in s
    assert f"Storage:  {lab.folder}/data" in s
    assert "Auth:     none" in s
    assert f"not set; to pull Docker Hub images from it first: export DOCKERLAB_MIRROR={url}" in s
    mirrored = lab("status", env={"DOCKERLAB_MIRROR": url}).stdout
    assert f"Mirror:   DOCKERLAB_MIRROR={url} (pulls of Docker Hub images try it first)" in mirrored
    # already running
    again = lab("start", "--port", str(free_port()))
    assert again.returncode == 1
    assert again.stderr == (
        f"Error response from daemon: the lab registry is already running on "
        f"127.0.0.1:{lab.port} (pid {pid}): stop it first with `dockerlab registry stop`\n"
    )
    # stop leaves no process, no listener, no pid file
    r = lab("stop")
    assert r.stdout == f"Stopped the lab registry on 127.0.0.1:{lab.port} (pid {pid})\n"
    assert pid_ended(pid)
    assert refused(lab.port)
    assert not os.path.exists(lab.pidfile())
    assert lab("stop").stdout == "The lab registry is not running\n"
    assert lab("status").stdout.startswith("Status:   not running")
    assert lab("status", "--format", "{{.Running}}").stdout == "false\n"


def test_users_need_basic_auth(lab):
    r = lab("start", "-p", str(lab.port), "-u", "alice:s3cret", "--user", "bob:pa:ss")
    assert r.returncode == 0, r.stderr
    assert f"Log in:      dockerlab login -u alice 127.0.0.1:{lab.port}" in r.stdout
    url = f"http://127.0.0.1:{lab.port}/v2/"
    status, headers, body = get(url)
    assert status == 401
    assert headers["Www-Authenticate"] == 'Basic realm="Registry Realm"'
    assert b'"code":"UNAUTHORIZED"' in body
    assert get(url, ("alice", "wrong"))[0] == 401
    assert get(url, ("alice", "s3cret"))[:3:2] == (200, b"{}")
    assert get(url, ("bob", "pa:ss"))[0] == 200
    assert lab("status", "--format", "{{.Users}}").stdout == "[alice bob]\n"
    assert "(users: alice, bob)" in lab("status").stdout
    # bcrypt entries, private file; the password is on no command line
    with open(os.path.join(lab.folder, "htpasswd")) as f:
        entries = f.read().splitlines()
    assert [e.split(":", 1)[1][:4] for e in entries] == ["$2y$", "$2y$"]
    assert os.stat(os.path.join(lab.folder, "htpasswd")).st_mode & 0o077 == 0
    assert "s3cret" not in _cmdline(lab.pid())


def test_an_htpasswd_file_is_used_in_place_and_md5_entries_refused(lab, tmp_path):
    if shutil.which("htpasswd") is None:
        pytest.skip("htpasswd (apache2-utils) is not installed")
    file = tmp_path / "users"
    subprocess.run(["htpasswd", "-Bbc", str(file), "carol", "pw1"], check=True, capture_output=True)
    r = lab("start", "-p", str(lab.port), "--htpasswd", str(file))
    assert r.returncode == 0, r.stderr
    url = f"http://127.0.0.1:{lab.port}/v2/"
    assert get(url, ("carol", "pw1"))[0] == 200
    # the registry re-reads it: a user added now can log in at once
    subprocess.run(["htpasswd", "-Bb", str(file), "dave", "pw2"], check=True, capture_output=True)
    assert wait_until(lambda: get(url, ("dave", "pw2"))[0] == 200, timeout=10)
    assert lab("status", "--format", "{{.Users}}").stdout == "[carol dave]\n"
    lab("stop")
    md5 = tmp_path / "md5"
    subprocess.run(["htpasswd", "-bc", str(md5), "eve", "pw"], check=True, capture_output=True)
    r = lab("start", "-p", str(lab.port), "--htpasswd", str(md5))
    assert r.returncode == 1
    assert "the entry of user 'eve' is not bcrypt" in r.stderr
    assert refused(lab.port)


def test_a_stale_pid_file_is_noticed(lab):
    assert lab("start", "-p", str(lab.port)).returncode == 0
    pid = lab.pid()
    os.kill(pid, signal.SIGKILL)  # as a reboot or the OOM killer would
    wait_until(lambda: pid_ended(pid), timeout=10, what="the killed registry")
    assert lab("status").stdout.startswith("Status:   not running")
    assert not os.path.exists(lab.pidfile())
    # the pid now belongs to another program: not ours, never signalled
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        os.makedirs(lab.folder, exist_ok=True)
        with open(lab.pidfile(), "w") as f:
            f.write(f"{sleeper.pid}\n")
        assert lab("status").stdout.startswith("Status:   not running")
        with open(lab.pidfile(), "w") as f:
            f.write(f"{sleeper.pid}\n")
        assert lab("stop").stdout == "The lab registry is not running\n"
        r = lab("start", "-p", str(lab.port))
        assert r.returncode == 0, r.stderr
        assert lab.pid() != sleeper.pid
        assert lab("stop").returncode == 0
        assert sleeper.poll() is None  # untouched
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_port_in_use_is_refused_with_dockers_words(lab):
    with socket.socket() as s:
        s.bind(("127.0.0.1", lab.port))
        s.listen()
        r = lab("start", "-p", str(lab.port))
    assert r.returncode == 1
    assert r.stderr == (
        f"Error response from daemon: Bind for 127.0.0.1:{lab.port} failed: "
        "port is already allocated\n"
    )
    assert not os.path.exists(lab.pidfile())
    assert lab("status").stdout.startswith("Status:   not running")


def test_a_missing_binary_names_the_debian_package(lab):
    r = lab("start", "-p", str(lab.port), env={"DOCKERLAB_REGISTRY_BINARY": "/nonexistent/reg"})
    assert r.returncode == 1
    assert r.stderr == (
        "Error response from daemon: the registry binary /nonexistent/reg is missing: install "
        "Debian's docker-registry package (apt-get install docker-registry)\n"
    )


def test_bad_user_and_port_values(lab):
    r = lab("start", "-p", str(lab.port), "-u", "nopassword")
    assert (r.returncode, r.stderr) == (
        1,
        "Error response from daemon: invalid user 'nopassword': expected NAME:PASSWORD\n",
    )
    r = lab("start", "-p", "70000")
    assert r.returncode == 1 and "invalid port 70000" in r.stderr


def test_seed_pushes_the_course_images_and_a_mirror_pull_gets_them(lab, tmp_path):
    """`registry seed` pushes this root's course images as `library/NAME`; another root
    with DOCKERLAB_MIRROR pulls `busybox` from it, with the same image ID."""
    assert lab("seed").returncode == 1  # not running yet
    assert lab("start", "--port", str(lab.port)).returncode == 0
    none = lab("seed")
    assert none.returncode == 1 and "No course image here" in none.stderr
    assert cli(lab.root, "image", "bootstrap").returncode == 0
    r = lab("seed")
    assert r.returncode == 0, r.stderr
    assert f"The push refers to repository [127.0.0.1:{lab.port}/library/busybox]" in r.stdout
    assert "latest: digest: sha256:" in r.stdout
    tags = cli(lab.root, "images", "--format", "{{.Repository}}:{{.Tag}}", text=True).stdout
    assert tags == "busybox:latest\n"  # the registry's name was only lent for the push
    missing = lab("seed", "nope")
    assert missing.returncode == 1
    assert missing.stderr == "An image does not exist locally with the tag: nope\n"
    other = str(tmp_path / "other")
    mirror = {"DOCKERLAB_MIRROR": f"http://127.0.0.1:{lab.port}"}
    pulled = cli(other, "pull", "busybox", env=mirror, text=True, clean=True)
    assert pulled.returncode == 0, pulled.stderr
    assert "Status: Downloaded newer image for busybox:latest" in pulled.stdout
    ids = [cli(root, "images", "-q", "busybox", text=True).stdout for root in (lab.root, other)]
    assert ids[0] == ids[1] != ""
