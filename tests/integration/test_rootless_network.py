"""Rootless networking (engine/network/usermode.py), run for real as temporary unprivileged
users: the default bridge with outbound through slirp4netns, published ports served from
the host, ports below ip_unprivileged_port_start refused with the kernel's rule, user
networks with DNS and links, two users kept apart, and nothing left once the holder goes."""

from __future__ import annotations

import http.server
import ipaddress
import os
import secrets
import signal
import socket
import subprocess
import threading
import urllib.request

import pytest
from helpers import wait_until
from test_rootless import MISSING, _make_user, image_tar  # noqa: F401  (image_tar: fixture)

from dockerlab.engine import rootless

pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

TUN = "/dev/net/tun"


@pytest.fixture(scope="module", autouse=True)
def usable_tun():
    """slirp4netns opens /dev/net/tun as the user: Debian's udev makes it 0666; this VM has
    no udev (0600), so the module gives it Debian's mode and puts its own back after."""
    if rootless.tool("slirp4netns") is None:
        pytest.skip("slirp4netns is not installed (Debian package slirp4netns)")
    if not os.path.exists(TUN):
        pytest.skip("the kernel has no /dev/net/tun (CONFIG_TUN)")
    mode = os.stat(TUN).st_mode & 0o777
    os.chmod(TUN, 0o666)
    yield
    os.chmod(TUN, mode)


@pytest.fixture(scope="module")
def alice(image_tar):  # noqa: F811
    user = _make_user(image_tar)
    yield user
    user.remove()


@pytest.fixture(scope="module")
def bob(image_tar):  # noqa: F811
    user = _make_user(image_tar)
    yield user
    user.remove()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _procs(uid: int, comm: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/comm") as f:
                c = f.read().strip()
            if c == comm and os.stat(f"/proc/{name}").st_uid == uid:
                found.append(int(name))
        except OSError:
            continue
    return found


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


def test_default_bridge_reaches_a_server_on_the_hosts_loopback(alice):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"from the host\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        got = alice.cli("run", "--rm", "busybox", "wget", "-qO-", f"http://10.0.2.2:{port}/")
        assert got.returncode == 0, got.stderr
        assert got.stdout == "from the host\n"
        assert "network none" not in got.stderr  # no fallback any more
        got = alice.cli("run", "--rm", "busybox", "ip", "-o", "-4", "addr", "show", "eth0")
        assert got.returncode == 0, got.stderr
        subnet = alice.cli(
            "network", "inspect", "--format", "{{(index .IPAM.Config 0).Subnet}}", "bridge"
        ).stdout.strip()
        ip = got.stdout.split(" inet ")[1].split("/")[0]
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(subnet)  # the user's bridge
    finally:
        server.shutdown()
        server.server_close()


def test_published_port_serves_http_from_the_host(alice):
    port = _free_port()
    name = f"web{secrets.token_hex(3)}"
    script = "mkdir /www && echo hello rootless > /www/index.html && httpd -f -p 80 -h /www"
    got = alice.cli("run", "-d", "--name", name, "-p", f"{port}:80", "busybox", "sh", "-c", script)
    assert got.returncode == 0, got.stderr
    try:
        answer: list[str] = []

        def served() -> bool:
            try:
                answer.append(_get(f"http://127.0.0.1:{port}/"))
                return True
            except OSError:
                return False

        assert wait_until(served, timeout=20), "no HTTP answer through the published port"
        assert answer[-1] == "hello rootless\n"
        got = alice.cli("port", name)
        assert got.returncode == 0, got.stderr
        assert f"80/tcp -> 0.0.0.0:{port}" in got.stdout.splitlines()
        got = alice.cli("ps", "--format", "{{.Ports}}", "--filter", f"name={name}")
        assert f"0.0.0.0:{port}->80/tcp" in got.stdout
        # a killed proxy is noticed by the monitor and replaced on the same sockets
        proxies = _procs(alice.subuid + 65533, "dockerlab-proxy")  # nobody of the namespace
        assert len(proxies) == 1
        os.kill(proxies[0], signal.SIGKILL)
        assert wait_until(
            lambda: _procs(alice.subuid + 65533, "dockerlab-proxy") not in ([], proxies),
            timeout=10,
        )
        assert wait_until(served, timeout=20)
        assert answer[-1] == "hello rootless\n"
    finally:
        alice.cli("rm", "-f", name)
    assert wait_until(lambda: _refused(port), timeout=10), "the port is still served after rm"


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True


def test_port_below_unprivileged_start_refused_with_the_rule(alice):
    with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
        start = int(f.read())
    if start <= 80:
        pytest.skip(f"net.ipv4.ip_unprivileged_port_start is {start}: port 80 is allowed")
    name = f"low{secrets.token_hex(3)}"
    got = alice.cli("run", "-d", "--name", name, "-p", "80:80", "busybox", "sleep", "30")
    try:
        assert got.returncode == 125, got.stderr
        assert "driver failed programming external connectivity on endpoint " + name in got.stderr
        assert (
            "cannot expose privileged port 80, you can add "
            "'net.ipv4.ip_unprivileged_port_start=80' to /etc/sysctl.conf "
            f"(currently {start})" in got.stderr
        )
        assert "listen tcp4 0.0.0.0:80: bind: permission denied" in got.stderr
        assert "Traceback" not in got.stderr
        state = alice.cli("inspect", "--format", "{{.State.Status}}", name)
        assert state.stdout.strip() == "created"
    finally:
        alice.cli("rm", "-f", name)


def test_user_network_dns_links_and_network_verbs(alice):
    net = f"n{secrets.token_hex(3)}"
    got = alice.cli("network", "create", net)
    assert got.returncode == 0, got.stderr
    server, parent = f"srv{secrets.token_hex(3)}", f"lnk{secrets.token_hex(3)}"
    try:
        got = alice.cli("network", "ls", "--format", "{{.Name}} {{.Driver}}")
        assert f"{net} bridge" in got.stdout.splitlines()
        assert "bridge bridge" in got.stdout.splitlines()
        got = alice.cli("run", "-d", "--name", server, "--network", net, "busybox", "sleep", "60")
        assert got.returncode == 0, got.stderr
        got = alice.cli("run", "--rm", "--network", net, "busybox", "ping", "-c1", "-W5", server)
        assert got.returncode == 0, got.stdout + got.stderr
        got = alice.cli(
            "network", "inspect", "--format", "{{range .Containers}}{{.Name}}{{end}}", net
        )
        assert got.stdout.strip() == server
        # a legacy link on the default bridge: the name in /etc/hosts, the address reached
        got = alice.cli("run", "-d", "--name", parent, "busybox", "sleep", "60")
        assert got.returncode == 0, got.stderr
        got = alice.cli("run", "--rm", "--link", f"{parent}:bee", "busybox", "ping", "-c1", "bee")
        assert got.returncode == 0, got.stdout + got.stderr
        # connect and disconnect while it runs (a helper in the user's namespaces)
        got = alice.cli("network", "connect", net, parent)
        assert got.returncode == 0, got.stderr
        ip = alice.cli(
            "inspect",
            "--format",
            f'{{{{(index .NetworkSettings.Networks "{net}").IPAddress}}}}',
            server,
        ).stdout.strip()
        got = alice.cli("exec", parent, "ping", "-c1", "-W5", ip)
        assert got.returncode == 0, got.stdout + got.stderr
        got = alice.cli("network", "disconnect", net, parent)
        assert got.returncode == 0, got.stderr
        got = alice.cli("exec", parent, "ip", "-o", "link")
        assert "eth1" not in got.stdout
    finally:
        alice.cli("rm", "-f", server, parent)
        nid = alice.cli("network", "inspect", "--format", "{{.Id}}", net).stdout.strip()
        got = alice.cli("network", "rm", net)
    assert got.returncode == 0, got.stderr
    assert net not in alice.cli("network", "ls", "--format", "{{.Name}}").stdout.split()
    # its namespace went with it (the file beside the bind mount, seen from the host)
    base = f"/tmp/dockerlab-{alice.uid}"
    assert not any(
        os.path.exists(os.path.join(base, folder, f"net-{nid[:12]}.netns"))
        for folder in os.listdir(base)
    )


def test_another_user_cannot_reach_or_join_the_network(alice, bob):
    """The attack: bob knows alice's container address, network and holder; from his own
    containers and as himself on the host he can neither reach nor join them."""
    net = f"a{secrets.token_hex(3)}"
    name = f"victim{secrets.token_hex(3)}"
    assert alice.cli("network", "create", net).returncode == 0
    try:
        got = alice.cli(
            "run",
            "-d",
            "--name",
            name,
            "--network",
            net,
            "busybox",
            "nc",
            "-ll",
            "-p",
            "7777",
            "-e",
            "echo",
            "secret",
        )
        assert got.returncode == 0, got.stderr
        ip = alice.cli(
            "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name
        ).stdout.strip()
        assert ip
        # from a container of bob's, on his own default bridge
        got = bob.cli(
            "run", "--rm", "busybox", "sh", "-c", f"echo | nc -w 2 {ip} 7777; ping -c1 -W2 {ip}"
        )
        assert "secret" not in got.stdout
        assert got.returncode != 0
        # by alice's network's name or ID: not bob's
        nid = alice.cli("network", "inspect", "--format", "{{.Id}}", net).stdout.strip()
        for ref in (net, nid):
            got = bob.cli("run", "--rm", "--network", ref, "busybox", "true")
            assert got.returncode == 125
            assert f"network {ref} not found" in got.stderr
        # as bob on the host: the address is not routed there, the holder's namespaces closed
        got = bob.user.run(["/bin/sh", "-c", f"echo | timeout 3 nc -w 2 {ip} 7777"])
        assert "secret" not in got.stdout
        holders = _procs(alice.uid, "dockerlab-netns")
        assert holders
        probe = (
            "import os, sys\n"
            "try:\n"
            f"    os.open('/proc/{holders[0]}/ns/user', os.O_RDONLY)\n"
            "    print('opened')\n"
            "except OSError as e:\n"
            "    print(e.errno)\n"
        )
        got = bob.user.run(["/usr/bin/python3", "-c", probe])
        assert got.stdout.strip() == "13", got.stdout + got.stderr  # EACCES
    finally:
        alice.cli("rm", "-f", name)
        alice.cli("network", "rm", net)


def test_killed_slirp4netns_is_noticed_and_replaced(alice):
    got = alice.cli("run", "--rm", "busybox", "true")  # the holder runs
    assert got.returncode == 0, got.stderr
    before = _procs(alice.uid, "slirp4netns")
    assert len(before) == 1
    os.kill(before[0], signal.SIGKILL)
    assert wait_until(lambda: _procs(alice.uid, "slirp4netns") not in ([], before), timeout=10)
    # and the way out works again
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(30)
    heard: list[bytes] = []

    def answer() -> None:
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            heard.append(conn.recv(16))
            conn.sendall(b"back\n")

    server = threading.Thread(target=answer, daemon=True)
    server.start()
    try:
        port = srv.getsockname()[1]
        got = alice.cli("run", "--rm", "busybox", "sh", "-c", f"echo hi | nc -w 3 10.0.2.2 {port}")
        assert got.returncode == 0, got.stderr
        assert got.stdout == "back\n"
        server.join(10)
        assert heard == [b"hi\n"]
    finally:
        srv.close()


def _forkservers(uid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{name}/comm") as f:
                comm = f.read()  # its forks (holder, monitors) rename themselves dockerlab-*
            if (
                b"forkserver.py" in cmd
                and not comm.startswith("dockerlab")
                and os.stat(f"/proc/{name}").st_uid == uid
            ):
                found.append(int(name))
        except (OSError, ValueError):
            continue
    return found


def test_a_later_forkserver_joins_the_holder(image_tar):  # noqa: F811
    """The first forkserver retires while a container runs; the next one joins the holder's
    namespaces, so a new container is on the same bridge as the first."""
    user = _make_user(image_tar)
    env = {"DOCKERLAB_FORKSERVER_IDLE": "1"}
    try:
        got = user.user.dockerlab("run", "-d", "--name", "first", "busybox", "sleep", "60", env=env)
        assert got.returncode == 0, got.stderr
        holder = _procs(user.uid, "dockerlab-netns")
        assert len(holder) == 1
        assert wait_until(lambda: not _forkservers(user.uid), timeout=30)
        ip = user.user.dockerlab(
            "inspect", "--format", "{{.NetworkSettings.IPAddress}}", "first", env=env
        ).stdout.strip()
        got = user.user.dockerlab("run", "--rm", "busybox", "ping", "-c1", "-W5", ip, env=env)
        assert got.returncode == 0, got.stdout + got.stderr
        assert _procs(user.uid, "dockerlab-netns") == holder  # the same holder, joined
    finally:
        user.user.dockerlab("rm", "-f", "first", env=env)
        user.remove()


def test_nothing_left_after_rm_and_the_holder_exits(image_tar):  # noqa: F811
    user = _make_user(image_tar)
    env = {"DOCKERLAB_FORKSERVER_IDLE": "1"}
    try:
        port = _free_port()
        got = user.user.dockerlab(
            "run", "-d", "--name", "leakweb", "-p", f"{port}:80", "busybox", "sleep", "60", env=env
        )
        assert got.returncode == 0, got.stderr
        assert _procs(user.uid, "slirp4netns")
        assert _procs(user.uid, "dockerlab-proxy") or _procs(user.subuid + 65533, "dockerlab-proxy")
        got = user.user.dockerlab("rm", "-f", "leakweb", env=env)
        assert got.returncode == 0, got.stderr

        def gone() -> bool:
            return not any(
                _procs(uid, comm)
                for uid in (user.uid, user.subuid + 65533)
                for comm in ("slirp4netns", "dockerlab-netns", "dockerlab-proxy", "dockerlab-mon")
            )

        assert wait_until(gone, timeout=30), "slirp4netns, holder or proxy left"
        assert _refused(port)
        run_base = f"/tmp/dockerlab-{user.uid}"
        left = [
            name
            for folder in os.listdir(run_base)
            for name in os.listdir(os.path.join(run_base, folder))
            if name.endswith(".netns") or name == "rootless.pid"
        ]
        assert left == []
        # and the next run makes them again
        got = user.user.dockerlab("run", "--rm", "busybox", "true", env=env)
        assert got.returncode == 0, got.stderr
    finally:
        user.remove()
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert "tap0" not in out  # (never in the host's namespace)
