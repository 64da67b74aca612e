"""The classroom server (issue 13): deploy/jupyterhub/ run for real. JupyterHub starts on
127.0.0.1 (its own ports, database and cookie secret in a temporary folder) with the deployed
config; scripts/add-students.sh makes a student with subordinate ID ranges and a password;
the login page lets the student in and keeps out an account outside the students' group;
the student logs in through the hub's REST API (a token for username + password, PAM),
spawns a server (LocalProcessSpawner, as the student) and runs the course's chapter 3 through
that server's session and kernel API (websocket): images built with `%%dockerfile`, containers
run, committed and saved, all rootless in the student's own store. The chapter is the students'
copy (scripts/course_copies.py): no solution cells, so its exercise checks say ✗, never an
error. Afterwards the student's own CLI sees the images and containers, and every process of
the server ran as the student.
Everything (hub, proxy, the student's processes and containers, the account) is removed even
when the test fails. The script's own behaviour (ranges, idempotence, bad names, removal) is
tested at the end without a hub."""

from __future__ import annotations

import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from helpers import wait_until
from users import (
    SUBGID,
    SUBUID,
    _end_processes,
    _processes_of,
    _ranges_of,
    _scrub,
    missing_tools,
    temp_user,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY = os.path.join(REPO, "deploy", "jupyterhub")
ADD_STUDENTS = os.path.join(REPO, "scripts", "add-students.sh")
BIN = os.path.dirname(sys.executable)
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"
CHAPTER = "03-images-layers-containers.ipynb"


def needs() -> str | None:
    """Why the classroom server cannot run here, or None."""
    why = missing_tools()
    if why:
        return why
    for tool in ("jupyterhub", "jupyterhub-singleuser", "configurable-http-proxy"):
        if not os.path.exists(os.path.join(BIN, tool)):
            return f"{tool} is not in {BIN}: scripts/setup.sh installs it (the `hub` extra, npm)"
    if not shutil.which("node"):
        return "node is missing (Debian package nodejs): configurable-http-proxy needs it"
    return None


def free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return not any(x.startswith("State:") and x.split()[1] in "ZX" for x in f)
    except FileNotFoundError:
        return False


# ---- the student account ------------------------------------------------------------------
@dataclass
class Student:
    name: str
    password: str
    group: str
    uid: int = 0
    home: str = ""
    ranges: list[tuple[int, int]] = field(default_factory=list)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """This tree's dockerlab as the student (as the server's kernel runs it)."""
        env = {
            "HOME": self.home,
            "USER": self.name,
            "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "PYTHONPATH": REPO,
        }
        argv = [RUNUSER, "-u", self.name, "--", sys.executable, "-m", "dockerlab", *args]
        return subprocess.run(argv, env=env, cwd="/", capture_output=True, text=True, timeout=60)


def add_students(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ADD_STUDENTS, *args], input=input, capture_output=True, text=True, timeout=60
    )


@contextmanager
def student_account() -> Iterator[Student]:
    """A student made by scripts/add-students.sh (its own group), removed by it afterwards;
    whatever the script leaves behind is removed here too, so a failing script leaks nothing."""
    token = secrets.token_hex(4)
    s = Student("dlt" + token, secrets.token_urlsafe(12), "dltg" + token)
    made = add_students("--group", s.group, "--passwords", "-", input=f"{s.name}:{s.password}\n")
    try:
        assert made.returncode == 0, made.stderr
        pw = pwd.getpwnam(s.name)
        s.uid, s.home = pw.pw_uid, pw.pw_dir
        s.ranges = _ranges_of(SUBUID, s.name) + _ranges_of(SUBGID, s.name)
        yield s
    finally:
        gone = add_students("--remove", "--group", s.group, s.name)
        try:
            pw = pwd.getpwnam(s.name)
        except KeyError:
            pw = None
        if pw is not None:  # the script failed: clean up by hand, then say so
            _end_processes(pw.pw_uid, s.ranges)
            subprocess.run(["userdel", "--remove", "--force", s.name], capture_output=True)
            for path in (SUBUID, SUBGID):
                _scrub(path, s.name)
            shutil.rmtree(f"/tmp/dockerlab-{pw.pw_uid}", ignore_errors=True)
        subprocess.run(["groupdel", s.group], capture_output=True)
        if made.returncode == 0:
            assert gone.returncode == 0 and pw is None, gone.stderr
            assert not _processes_of(s.uid, s.ranges)
            assert not os.path.exists(f"/tmp/dockerlab-{s.uid}")


# ---- the hub ------------------------------------------------------------------------------
@dataclass
class Hub:
    url: str
    admin_token: str
    proc: subprocess.Popen[bytes]
    log: str

    def api(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        import requests

        token = self.admin_token if token is None else token
        headers = {"Authorization": f"token {token}"} if token else {}
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kw)

    def form_login(self, username: str, password: str) -> Any:
        """The login page as a browser uses it (its _xsrf field and cookie); no redirect
        followed, so a login does not start the server."""
        import requests

        session = requests.Session()
        page = session.get(self.url + "/hub/login", timeout=30)
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
        assert xsrf, page.text[:2000]
        form = {"username": username, "password": password, "_xsrf": xsrf.group(1)}
        return session.post(self.url + "/hub/login", data=form, allow_redirects=False, timeout=30)

    def logs(self) -> str:
        with open(self.log, errors="replace") as f:
            return f.read()[-4000:]


@contextmanager
def jupyterhub(state: str, student: Student) -> Iterator[Hub]:
    """The deployed config, started as root on free loopback ports; stopped (hub, proxy, the
    student's server) even when the test fails."""
    os.makedirs(state, mode=0o700)
    port, hub_port, proxy_api = free_ports(3)
    token = secrets.token_hex(32)
    config = os.path.join(state, "test_config.py")
    with open(config, "w") as f:
        f.write(
            f"load_subconfig({os.path.join(DEPLOY, 'jupyterhub_config.py')!r})\n"
            "c = get_config()\n"
            f"c.JupyterHub.hub_port = {hub_port}\n"
            f"c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{proxy_api}'\n"
            # the test's admin: a service with a token, allowed to manage users and servers
            f"c.JupyterHub.services = [{{'name': 'classroom-test', 'api_token': {token!r}}}]\n"
            "c.JupyterHub.load_roles = [{'name': 'classroom-test', 'services': "
            "['classroom-test'], 'scopes': ['admin:users', 'admin:servers', "
            "'admin:server_state']}]\n"
            # this tree's dockerlab in the student's kernel (the venv's install may be another)
            f"c.Spawner.environment['PYTHONPATH'] = {REPO!r}\n"
        )
    env = {
        "PATH": f"{BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "HOME": "/root",
        "DOCKERLAB_HUB_STATE": state,
        "DOCKERLAB_HUB_PORT": str(port),
        "DOCKERLAB_STUDENTS": student.group,
    }
    log = os.path.join(state, "jupyterhub.log")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [os.path.join(BIN, "jupyterhub"), "-f", config],
            cwd=state,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    hub = Hub(f"http://127.0.0.1:{port}", token, proc, log)
    try:

        def up() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"jupyterhub exited ({proc.returncode}):\n{hub.logs()}")
            try:
                return hub.api("GET", "/hub/api/").status_code == 200
            except OSError:
                return False

        wait_until(up, timeout=90, interval=0.2, what="JupyterHub answering on its public port")
        yield hub
    finally:
        proxy_pid = None
        try:
            with open(os.path.join(state, "jupyterhub-proxy.pid")) as f:
                proxy_pid = int(f.read().strip() or 0) or None
        except (FileNotFoundError, ValueError):
            pass
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # the hub stops the servers and its proxy
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if proxy_pid and alive(proxy_pid):
            with open(f"/proc/{proxy_pid}/cmdline", "rb") as f:
                if b"configurable-http-proxy" in f.read():
                    os.kill(proxy_pid, signal.SIGKILL)
        shutil.rmtree(state, ignore_errors=True)


# ---- running a notebook through the server's kernel API -----------------------------------
@dataclass
class Ran:
    source: str
    status: str = ""
    text: str = ""
    error: str = ""


def run_cells(ws_url: str, token: str, cells: list[str], timeout: float = 90) -> list[Ran]:
    """Execute each cell in the kernel behind `ws_url` (Jupyter's kernel websocket, JSON
    messages), as a notebook front end does, going on after errors (as nbclient's
    allow_errors). Returns each cell's outputs as text."""
    import websocket

    ws = websocket.create_connection(
        ws_url, header=[f"Authorization: token {token}"], timeout=timeout
    )
    session = uuid.uuid4().hex
    out = []
    try:
        for source in cells:
            msg_id = uuid.uuid4().hex
            ws.send(
                json.dumps(
                    {
                        "header": {
                            "msg_id": msg_id,
                            "msg_type": "execute_request",
                            "session": session,
                            "username": "test",
                            "version": "5.3",
                        },
                        "parent_header": {},
                        "metadata": {},
                        "content": {
                            "code": source,
                            "silent": False,
                            "store_history": True,
                            "user_expressions": {},
                            "allow_stdin": False,
                            "stop_on_error": False,
                        },
                        "channel": "shell",
                        "buffers": [],
                    }
                )
            )
            ran = Ran(source)
            idle = False
            deadline = time.monotonic() + timeout
            while not (idle and ran.status):
                if time.monotonic() > deadline:
                    raise AssertionError(f"cell did not finish in {timeout} s:\n{source}")
                msg = json.loads(ws.recv())
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "execute_reply":
                    ran.status = content["status"]
                elif kind == "status" and content["execution_state"] == "idle":
                    idle = True
                elif kind == "stream":
                    ran.text += content["text"]
                elif kind in ("execute_result", "display_data"):
                    ran.text += content["data"].get("text/plain", "") + "\n"
                elif kind == "error":
                    ran.error = f"{content['ename']}: {content['evalue']}"
            out.append(ran)
    finally:
        ws.close()
    return out


def failed(ran: Ran) -> bool:
    """An error raised, or a %docker magic's Docker-style error printed."""
    return ran.status != "ok" or "Error response from daemon" in ran.text or "Error:" in ran.text


# ---- the test -----------------------------------------------------------------------------
def test_classroom_hub_runs_the_course_rootless(tmp_path: Any) -> None:
    why = needs()
    if why:
        pytest.skip(why)
    with student_account() as student:
        # the spawner runs this tree's singleuser.sh and the venv as the student
        for path in (os.path.join(DEPLOY, "singleuser.sh"), os.path.join(BIN, "python")):
            r = subprocess.run([RUNUSER, "-u", student.name, "--", "test", "-x", path])
            if r.returncode != 0:
                pytest.fail(
                    f"student {student.name} cannot run {path}: put the tree where"
                    " every user may enter (scripts/setup.sh warns)"
                )
        with jupyterhub(str(tmp_path / "hub"), student) as hub:
            # the login page: the student gets in, an account outside the group does not,
            # even with its right password
            r = hub.form_login(student.name, student.password)
            assert r.status_code == 302 and "jupyterhub-session-id" in r.cookies, r.text
            with temp_user() as outsider:
                password = secrets.token_urlsafe(12)
                pw_line = f"{outsider.name}:{password}\n"
                subprocess.run(["chpasswd"], input=pw_line, text=True, check=True)
                r = hub.form_login(outsider.name, password)
                assert r.status_code == 403, (r.status_code, r.text[:500])
            classroom(hub, student)


def classroom(hub: Hub, student: Student) -> None:
    """Log in, spawn, run the chapter, check (the body of the test above)."""
    name = student.name
    # the hub knows the student since the login page let them in, as a user, not an admin
    r = hub.api("GET", f"/hub/api/users/{name}")
    assert r.status_code == 200 and r.json()["admin"] is False, r.text
    # logging in through the REST API: a token for the student's username and password
    # (PAM checks them); a wrong password gets none
    body = {"auth": {"username": name, "password": "not " + student.password}}
    r = hub.api("POST", f"/hub/api/users/{name}/tokens", token="", json=body)
    assert r.status_code == 403, r.text
    body = {"auth": {"username": name, "password": student.password}, "note": "test"}
    r = hub.api("POST", f"/hub/api/users/{name}/tokens", token="", json=body)
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    # the student spawns their server, and waits for it (a bounded poll)
    r = hub.api("POST", f"/hub/api/users/{name}/server", token=token)
    assert r.status_code in (201, 202), r.text

    def ready() -> bool:
        model = hub.api("GET", f"/hub/api/users/{name}", token=token).json()
        server = model.get("servers", {}).get("")
        if server is None and model.get("pending") is None:
            pytest.fail(f"the server did not start:\n{hub.logs()}")
        return bool(server and server.get("ready"))

    wait_until(ready, timeout=120, interval=0.2, what="the student's server")
    base = f"/user/{name}/api"
    # the course was copied into the student's home, owned by the student
    r = hub.api("GET", f"{base}/contents/{CHAPTER}", token=token)
    assert r.status_code == 200, r.text
    notebook = r.json()["content"]
    copied = os.path.join(student.home, "dockerlab-course", CHAPTER)
    assert os.stat(copied).st_uid == student.uid
    # a session for the chapter: its kernel starts in the notebook's folder
    body = {"path": CHAPTER, "name": CHAPTER, "type": "notebook", "kernel": {"name": "python3"}}
    r = hub.api("POST", f"{base}/sessions", token=token, json=body)
    assert r.status_code == 201, r.text
    kernel = r.json()["kernel"]["id"]
    ws_url = hub.url.replace("http", "ws", 1) + f"{base}/kernels/{kernel}/channels"
    # the students' copy: the teacher's solutions are not in it, the exercises are empty
    tags = [c.get("metadata", {}).get("tags", []) for c in notebook["cells"]]
    assert not [t for t in tags if "solution" in t] and [t for t in tags if "exercise" in t]
    cells = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    probe = "import os; print(os.getuid(), os.geteuid(), os.getcwd())"
    ran = run_cells(ws_url, token, [probe, *cells])
    who = ran.pop(0)
    assert who.text.split() == [str(student.uid)] * 2 + [os.path.dirname(copied)], who
    # the first cell's probe tells the student the truth: containers run (rootless, no limits)
    assert "无法创建容器" not in ran[0].text and "rootless" in ran[0].text, ran[0].text
    bad = [r for r in ran if failed(r)]  # every cell of the chapter works rootless
    assert not bad, "\n\n".join(f"{r.source}\n--> {r.error}\n{r.text}" for r in bad)
    build = next(r for r in ran if r.source.startswith("%%dockerfile"))
    assert "Successfully tagged ch3-steps:v1" in build.text, build.text
    checks = [r for r in ran if r.source.startswith("# 检查")]
    assert checks and all(r.text.startswith("✗") for r in checks), checks  # nothing answered

    # every process of the student's server (the server, its kernel) runs as the student
    def of_student_server() -> list[int]:
        pids = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if f"JUPYTERHUB_USER={name}".encode() in f.read().split(b"\0"):
                        pids.append(int(pid))
            except OSError:
                pass
        return pids

    server_pids = of_student_server()
    assert len(server_pids) >= 2, server_pids  # the server and the kernel at least
    for pid in server_pids:
        with open(f"/proc/{pid}/status") as f:
            ids = next(x for x in f if x.startswith("Uid:")).split()[1:]
        assert ids == [str(student.uid)] * 4, (pid, ids)
    # the student's own CLI, on the chapter's state root, sees what the notebook made
    root = os.path.join(os.path.dirname(copied), ".dockerlab-root")
    images = student.cli("--root", root, "images", "--format", "{{.Repository}}:{{.Tag}}")
    assert images.returncode == 0, images.stderr
    assert {"busybox:latest", "ch3-happy:v1", "ch3-steps:v1"} <= set(images.stdout.split())
    ps = student.cli("--root", root, "ps", "-a", "--format", "{{.Names}} {{.Status}}")
    assert ps.returncode == 0, ps.stderr
    states = dict(line.split(" ", 1) for line in ps.stdout.splitlines())
    assert states["ch3-box"].startswith("Exited (0)"), states
    assert states["ch3-web"].startswith("Exited"), states
    info = student.cli("--root", root, "info", "--format", "{{.SecurityOptions}}")
    assert "rootless" in info.stdout, info.stdout + info.stderr
    # the chapter leaves its containers for its widgets; its first cell, run again, cleans up
    rest = run_cells(ws_url, token, cells[:1])
    assert not [r for r in rest if r.status != "ok"], rest
    ps = student.cli("--root", root, "ps", "-a", "-q")
    assert ps.returncode == 0 and ps.stdout.strip() == "", ps
    images = student.cli("--root", root, "images", "--format", "{{.Repository}}:{{.Tag}}")
    assert images.stdout.split() == ["busybox:latest"], images
    # the student stops their server through the API
    r = hub.api("DELETE", f"/hub/api/users/{name}/server", token=token)
    assert r.status_code in (202, 204), r.text
    wait_until(lambda: not of_student_server(), timeout=60, interval=0.1, what="the server to stop")


# ---- scripts/add-students.sh on its own -----------------------------------------------------
def test_add_students_ranges_idempotence_bad_names_and_removal() -> None:
    why = missing_tools()
    if why:
        pytest.skip(why)
    token = secrets.token_hex(3)
    group, a, b = f"dltg{token}", f"dlt{token}a", f"dlt{token}b"
    try:
        for bad in ("Alice", "1abc", "a b", "_x", "a" * 33, "x;rm", "../x"):
            r = add_students("--group", group, bad)
            assert r.returncode == 1 and f"invalid name '{bad}'" in r.stderr, r.stderr
            assert "Traceback" not in r.stderr
        r = add_students("--group", group)
        assert r.returncode == 1 and "no student names" in r.stderr
        r = add_students("--group", group, a, b)
        assert r.returncode == 0, r.stderr
        spans = {}
        for n in (a, b):
            u, g = _ranges_of(SUBUID, n), _ranges_of(SUBGID, n)
            assert u == g and len(u) == 1 and u[0][1] == 65536, (u, g)
            spans[n] = u[0]
            assert group in subprocess.run(["id", "-nG", n], capture_output=True, text=True).stdout
        # no overlap with any other line of the files
        for path in (SUBUID, SUBGID):
            with open(path) as f:
                lines = [x.split(":") for x in f.read().splitlines() if x.count(":") == 2]
            for n, (first, count) in spans.items():
                for other, f2, c2 in lines:
                    if other != n:
                        assert int(f2) + int(c2) <= first or first + count <= int(f2), other
        # a second run changes nothing but sets a password
        r = add_students("--group", group, "--passwords", "-", input=f"{a}:secret-pw\n")
        assert r.returncode == 0, r.stderr
        assert _ranges_of(SUBUID, a) == [spans[a]] and _ranges_of(SUBGID, a) == [spans[a]]
        shadow = subprocess.run(["getent", "shadow", a], capture_output=True, text=True).stdout
        assert shadow.split(":")[1].startswith("$"), "no password was set"
        # removal refuses what is not a student account
        r = add_students("--remove", "--group", group, "root")
        assert r.returncode == 1 and "system account" in r.stderr
        r = add_students("--remove", "--group", group, a, b)
        assert r.returncode == 0, r.stderr
        for n in (a, b):
            with pytest.raises(KeyError):
                pwd.getpwnam(n)
            assert _ranges_of(SUBUID, n) == [] and _ranges_of(SUBGID, n) == []
        r = add_students("--remove", "--group", group, a)
        assert r.returncode == 0 and "nothing to remove" in r.stdout
    finally:
        for n in (a, b):  # what a failing script left
            subprocess.run(["userdel", "--remove", "--force", n], capture_output=True)
            for path in (SUBUID, SUBGID):
                _scrub(path, n)
        subprocess.run(["groupdel", group], capture_output=True)
