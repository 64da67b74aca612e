"""Published ports, for real: busybox httpd in a container answers HTTP from the host on
127.0.0.1, [::1], and from another network namespace through a host address; UDP; -P with an
image's EXPOSE; ranges and random ports; Docker's errors for a port held by a host socket or
by another container (exit 125, container left Created); and nothing left listening after
stop, rm, a monitor killed with -9, or across restarts by policy."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest
from conftest import held_host_ports
from helpers import cli, wait_until

from dockerlab.engine.network import ports as P

pytestmark = pytest.mark.integration

WEB = ["sh", "-c", "mkdir -p /www; echo hello-$HOSTNAME > /www/index.html; httpd -f -p 80 -h /www"]


def free_port(family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM) -> int:
    """A host port nobody holds now (the kernel's pick, given back at once)."""
    with socket.socket(family, kind) as s:
        s.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout: float = 2.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def served(url: str) -> str:
    """The page once the container's httpd answers (bounded)."""

    def attempt() -> str:
        try:
            return get(url)
        except OSError:
            return ""

    return wait_until(attempt, what=url)


def web(engine, *bindings: str, name: str | None = None, **host) -> str:
    from dockerlab.format.ports import parse_publish

    exposed, port_bindings = parse_publish(list(bindings), [])
    cid, _ = engine.run(
        {
            "Image": "busybox",
            "Cmd": WEB,
            "Hostname": name or "web",
            "ExposedPorts": exposed,
            "HostConfig": {"PortBindings": port_bindings, **host},
        },
        name=name,
        attach="",
    )
    return cid


def listeners(port: int) -> list[str]:
    """Who listens on host port ``port`` (tcp and udp, both families)."""
    out = subprocess.run(["ss", "-Htulnp", f"sport = :{port}"], capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if line.strip()]


def proxies_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{entry}/comm") as f:
                    comm = f.read().strip()
            except OSError:
                continue
            if comm == "dockerlab-proxy" and int(fields[1]) == pid:
                found.append(int(entry))
    return found


def monitor_of(engine, cid: str) -> int:
    with open(os.path.join(engine.paths.container(cid), "state.json")) as f:
        return int(json.load(f)["MonitorPid"])


def test_http_reaches_the_container_on_loopback_v6_and_another_address(engine, tmp_path):
    host = free_port()
    cid = web(engine, f"{host}:80")
    assert served(f"http://127.0.0.1:{host}/") == "hello-web\n"
    assert get(f"http://[::1]:{host}/") == "hello-web\n"  # the [::] binding
    # a client in another network namespace, through a host address that is not loopback
    ns, veth, tag = f"dlpt{os.getpid()}", f"vpt{os.getpid() % 100000}", os.getpid() % 250 + 1
    host_ip, client_ip = f"10.231.{tag}.1", f"10.231.{tag}.2"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(
            ["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns],
            check=True,
        )
        subprocess.run(["ip", "addr", "add", f"{host_ip}/30", "dev", veth], check=True)
        subprocess.run(["ip", "link", "set", veth, "up"], check=True)
        for cmd in (
            ["ip", "addr", "add", f"{client_ip}/30", "dev", "eth0"],
            ["ip", "link", "set", "eth0", "up"],
            ["ip", "link", "set", "lo", "up"],
        ):
            subprocess.run(["ip", "netns", "exec", ns, *cmd], check=True)
        fetch = (
            "import urllib.request,sys;"
            "print(urllib.request.urlopen(sys.argv[1],timeout=5).read().decode(),end='')"
        )
        out = subprocess.run(
            ["ip", "netns", "exec", ns, sys.executable, "-c", fetch, f"http://{host_ip}:{host}/"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.stdout == "hello-web\n", out.stderr
    finally:
        subprocess.run(["ip", "link", "del", veth], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    info = engine.inspect(cid)
    assert info["HostConfig"]["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": str(host)}]}
    assert info["Config"]["ExposedPorts"] == {"80/tcp": {}}
    assert info["NetworkSettings"]["Ports"] == {
        "80/tcp": [
            {"HostIp": "0.0.0.0", "HostPort": str(host)},
            {"HostIp": "::", "HostPort": str(host)},
        ]
    }
    (row,) = engine.containers()
    assert row["Ports"] == [
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": host, "Type": "tcp"},
        {"IP": "::", "PrivatePort": 80, "PublicPort": host, "Type": "tcp"},
    ]
    found = listeners(host)
    assert len(found) == 2 and all("dockerlab-proxy" in line for line in found), found
    (proxy,) = proxies_of(monitor_of(engine, cid))
    with open(f"/proc/{proxy}/status") as f:
        status = dict(line.split(":", 1) for line in f.read().splitlines())
    assert status["Uid"].split() == ["65534"] * 4 and status["Gid"].split() == ["65534"] * 4
    assert int(status["CapEff"], 16) == int(status["CapPrm"], 16) == 0
    assert sorted(os.listdir(f"/proc/{proxy}/fd"), key=int)[:3] == ["0", "1", "2"]


def test_udp_is_relayed_both_ways(engine):
    host = free_port(kind=socket.SOCK_DGRAM)
    cid, _ = engine.run(
        {
            "Image": "busybox",
            "Cmd": ["sleep", "60"],
            "ExposedPorts": {"5353/udp": {}},
            "HostConfig": {"PortBindings": {"5353/udp": [{"HostIp": "", "HostPort": str(host)}]}},
        },
        attach="",
    )
    pid = engine.inspect(cid)["State"]["Pid"]
    echo = (  # a UDP echo server inside the container's network namespace
        "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
        "s.bind(('0.0.0.0',5353));print('up',flush=True)\n"
        "while True:\n d,a=s.recvfrom(2048);s.sendto(b'echo:'+d,a)"
    )
    server = subprocess.Popen(
        ["nsenter", f"--net=/proc/{pid}/ns/net", sys.executable, "-c", echo],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline() == "up\n"
        for family, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            with socket.socket(family, socket.SOCK_DGRAM) as c:
                c.settimeout(2)
                c.sendto(b"ping", (addr, host))
                assert c.recvfrom(2048)[0] == b"echo:ping"
    finally:
        server.kill()
        server.wait()
    lines = cli(engine.paths.root, "port", cid, "5353/udp", text=True).stdout
    assert lines == f"0.0.0.0:{host}\n[::]:{host}\n"


def test_publish_all_with_the_image_s_expose_and_random_ports(engine, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nEXPOSE 80 5353/udp\nRUN mkdir /www && echo exposed > /www/index.html\n"
        'CMD ["httpd", "-f", "-p", "80", "-h", "/www"]\n'
    )
    for _ in engine.build(str(ctx), tags=["exposed:1"]):
        pass
    r = cli(engine.paths.root, "run", "-d", "--name", "pub", "-P", "exposed:1", text=True)
    assert r.returncode == 0, r.stderr
    info = engine.inspect("pub")
    assert info["HostConfig"]["PublishAllPorts"] is True
    assert info["HostConfig"]["PortBindings"] == {}
    assert info["Config"]["ExposedPorts"] == {"5353/udp": {}, "80/tcp": {}}
    found = info["NetworkSettings"]["Ports"]
    lo, hi = P.local_port_range()
    tcp = int(found["80/tcp"][0]["HostPort"])
    udp = int(found["5353/udp"][0]["HostPort"])
    assert lo <= tcp <= hi and lo <= udp <= hi
    assert [b["HostPort"] for b in found["80/tcp"]] == [str(tcp)] * 2  # same port, v4 and v6
    assert served(f"http://127.0.0.1:{tcp}/") == "exposed\n"
    ps = cli(engine.paths.root, "ps", "--format", "{{.Ports}}", text=True).stdout
    assert ps == (
        f"0.0.0.0:{tcp}->80/tcp, [::]:{tcp}->80/tcp, "
        f"0.0.0.0:{udp}->5353/udp, [::]:{udp}->5353/udp\n"
    )
    # a second start takes the next random port: the counter goes on upward
    assert cli(engine.paths.root, "restart", "-t", "0", "pub").returncode == 0
    again = int(engine.inspect("pub")["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"])
    assert again != tcp
    assert served(f"http://127.0.0.1:{again}/") == "exposed\n"


def test_ranges_and_an_ip_bound_random_port(engine):
    first = free_port()
    while any(listeners(first + 1)):
        first = free_port()
    cid, _ = engine.run(
        {
            "Image": "busybox",
            "Cmd": [
                "sh",
                "-c",
                "mkdir /a /b; echo a > /a/index.html; echo b > /b/index.html; "
                "httpd -p 80 -h /a; httpd -f -p 81 -h /b",
            ],
            "ExposedPorts": {"80/tcp": {}, "81/tcp": {}},
            "HostConfig": {
                "PortBindings": {
                    "80/tcp": [
                        {"HostIp": "", "HostPort": str(first)},
                        {"HostIp": "127.0.0.1", "HostPort": ""},
                    ],
                    "81/tcp": [{"HostIp": "", "HostPort": str(first + 1)}],
                }
            },
        },
        attach="",
    )
    assert served(f"http://127.0.0.1:{first}/") == "a\n"
    assert served(f"http://127.0.0.1:{first + 1}/") == "b\n"
    loop = engine.inspect(cid)["NetworkSettings"]["Ports"]["80/tcp"][-1]
    assert loop["HostIp"] == "127.0.0.1"
    assert served(f"http://127.0.0.1:{loop['HostPort']}/") == "a\n"
    with pytest.raises(OSError):  # bound to 127.0.0.1 only
        get(f"http://[::1]:{loop['HostPort']}/", timeout=1)


def test_port_held_by_a_host_socket_fails_the_start_with_docker_s_words(engine):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        r = cli(
            engine.paths.root, "run", "-d", "--name", "held", "-p", f"127.0.0.1:{port}:80",
            "busybox", "sleep", "30", text=True,
        )  # fmt: skip
    assert r.returncode == 125
    assert r.stderr.startswith(
        "dockerlab: Error response from daemon: driver failed programming external "
        "connectivity on endpoint held ("
    )
    assert (
        f"): Error starting userland proxy: listen tcp4 127.0.0.1:{port}: bind: "
        "address already in use" in r.stderr
    )
    state = engine.inspect("held")["State"]
    assert state["Status"] == "created" and state["ExitCode"] == 128
    assert "address already in use" in state["Error"]
    assert engine.inspect("held")["NetworkSettings"]["Ports"] == {}
    assert held_host_ports(engine.paths.root) == []


def test_port_held_by_another_container_is_already_allocated(engine):
    port = free_port()
    web(engine, f"{port}:80", name="first")
    r = cli(
        engine.paths.root, "run", "-d", "--name", "second", "-p", f"{port}:80", "busybox",
        "sleep", "30", text=True,
    )  # fmt: skip
    assert r.returncode == 125
    assert r.stdout == engine.inspect("second")["Id"] + "\n"  # created: docker prints its ID
    assert f"): Bind for 0.0.0.0:{port} failed: port is already allocated" in r.stderr
    assert engine.inspect("second")["State"]["Status"] == "created"
    assert cli(engine.paths.root, "ps", "-a", "--filter", "name=second", "--format",
               "[{{.Ports}}]", text=True).stdout == "[]\n"  # fmt: skip
    assert served(f"http://127.0.0.1:{port}/") == "hello-first\n"  # the first one goes on


def test_stop_frees_the_port_and_rm_leaves_no_listener(engine):
    port = free_port()
    cid = web(engine, f"{port}:80")
    served(f"http://127.0.0.1:{port}/")
    monitor = monitor_of(engine, cid)
    (proxy,) = proxies_of(monitor)
    assert cli(engine.paths.root, "stop", "-t", "0", cid).returncode == 0
    assert wait_until(lambda: not os.path.exists(f"/proc/{proxy}"), timeout=10)
    assert listeners(port) == []
    r = cli(engine.paths.root, "port", cid, text=True)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert engine.inspect(cid)["NetworkSettings"]["Ports"] == {}
    assert held_host_ports(engine.paths.root) == []
    with socket.socket() as again:  # the port is the host's again (as a server binds it)
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # (TIME_WAIT of our GET)
        again.bind(("0.0.0.0", port))
        again.listen()
    assert cli(engine.paths.root, "start", cid).returncode == 0
    assert served(f"http://127.0.0.1:{port}/") == "hello-web\n"
    assert cli(engine.paths.root, "rm", "-f", cid).returncode == 0
    assert wait_until(lambda: listeners(port) == [], timeout=10)
    assert held_host_ports(engine.paths.root) == []


def test_a_monitor_killed_with_9_takes_its_proxy_and_sockets_along(engine):
    port = free_port()
    cid = web(engine, f"{port}:80")
    served(f"http://127.0.0.1:{port}/")
    monitor = monitor_of(engine, cid)
    (proxy,) = proxies_of(monitor)
    os.kill(monitor, signal.SIGKILL)
    assert wait_until(lambda: not os.path.exists(f"/proc/{proxy}"), timeout=10)
    assert wait_until(lambda: listeners(port) == [], timeout=10)
    assert wait_until(lambda: not engine.inspect(cid)["State"]["Running"], timeout=10)
    assert held_host_ports(engine.paths.root) == []  # released when the engine saw it


def test_a_restart_by_policy_publishes_again(engine):
    port = free_port()
    cid = web(engine, f"{port}:80", RestartPolicy={"Name": "always", "MaximumRetryCount": 0})
    served(f"http://127.0.0.1:{port}/")
    first = engine.inspect(cid)["State"]["Pid"]
    os.kill(first, signal.SIGKILL)  # not by the user: the policy restarts it
    assert wait_until(
        lambda: (
            engine.inspect(cid)["State"]["Running"]
            and engine.inspect(cid)["State"]["Pid"] not in (0, first)
        ),
        timeout=20,
    )
    assert served(f"http://127.0.0.1:{port}/") == "hello-web\n"
    assert len(proxies_of(monitor_of(engine, cid))) == 1  # the old proxy is gone
    assert cli(engine.paths.root, "rm", "-f", cid).returncode == 0
    assert wait_until(lambda: listeners(port) == [], timeout=10)


RANGES = "invalid ranges specified for container and host Ports: 80-81 and 9100-9102"


def test_cli_port_ps_and_parse_errors(engine):
    root = engine.paths.root
    port = free_port()
    r = cli(root, "run", "-d", "--name", "pp", "-p", f"{port}:80", "--expose", "7000-7001",
            "busybox", *WEB, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = cli(root, "port", "pp", text=True).stdout
    assert out == f"80/tcp -> 0.0.0.0:{port}\n80/tcp -> [::]:{port}\n"
    assert cli(root, "container", "port", "pp", "80/tcp", text=True).stdout == (
        f"0.0.0.0:{port}\n[::]:{port}\n"
    )
    r = cli(root, "port", "pp", "7000", text=True)
    assert (r.returncode, r.stderr) == (1, "Error: No public port '7000' published for pp\n")
    r = cli(root, "port", "nothere", text=True)
    assert (r.returncode, r.stderr) == (
        1,
        "Error response from daemon: No such container: nothere\n",
    )
    ps = cli(root, "ps", "--format", "{{.Ports}}", text=True).stdout
    assert ps == f"7000-7001/tcp, 0.0.0.0:{port}->80/tcp, [::]:{port}->80/tcp\n"
    before = engine.container_ids()
    for spec, message in (
        ("70000:80", "invalid hostPort: 70000"),
        ("1.2.3:80:80", "invalid IP address: 1.2.3"),
        ("9100-9102:80-81", RANGES),
    ):  # fmt: skip
        r = cli(root, "run", "-p", spec, "busybox", "true", text=True)
        assert r.returncode == 125
        assert (
            r.stderr == f"dockerlab: {message}\n\nRun 'dockerlab run --help' for more information\n"
        )
    assert engine.container_ids() == before  # refused before anything was created
    r = cli(root, "run", "--network", "host", "-p", "9:9", "busybox", "true", text=True)
    assert r.returncode == 0
    assert r.stderr == "WARNING: Published ports are discarded when using host network mode\n"


def test_none_network_keeps_the_bindings_but_publishes_nothing(engine):
    port = free_port()
    cid = web(engine, f"{port}:80", NetworkMode="none")
    info = engine.inspect(cid)
    assert info["HostConfig"]["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": str(port)}]}
    assert info["NetworkSettings"]["Ports"] == {}
    assert listeners(port) == []


def test_a_port_published_on_a_user_network_is_served_and_shown(engine):
    """``--network NAME -p``: the proxy reaches the user network's address, and ports, ps and
    inspect show the binding as on the default bridge."""
    engine.network_create({"Name": "pubnet", "Driver": "bridge"})
    try:
        port = free_port()
        cid = web(engine, f"127.0.0.1:{port}:80", name="pubweb", NetworkMode="pubnet")
        assert served(f"http://127.0.0.1:{port}/") == "hello-pubweb\n"
        want = {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
        assert engine.inspect(cid)["NetworkSettings"]["Ports"] == want
        assert "Ports" not in engine.inspect(cid)["State"]
        engine.remove(cid, force=True)
    finally:
        engine.network_remove("pubnet")
