"""User-defined networks, for real: `network create/ls/inspect/rm/connect/disconnect/prune`
with Docker's outputs and errors, containers finding each other by name through the embedded
DNS server at 127.0.0.11, isolation between networks, and nothing left behind. DNS lookups
only ever ask for lab names."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess

import pytest
from helpers import cli, daemon, private_subnet, wait_until

from dockerlab.engine.network import bridge, dns, networks

pytestmark = pytest.mark.integration


def D(engine, *args, **kw):  # noqa: N802 - reads as the command line
    return cli(engine.paths.root, *args, text=True, clean=True, **kw)


def ok(engine, *args) -> str:
    r = D(engine, *args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def sh(engine, container, script):
    return D(engine, "exec", container, "sh", "-c", script)


def create(engine, *args) -> str:
    """`network create` on a subnet of its own (see private_subnet)."""
    return ok(engine, "network", "create", "--subnet", private_subnet(), *args)


def rec_of(engine, name):
    return networks.find(engine.paths, name)


def host_links() -> set[str]:
    return set(os.listdir("/sys/class/net"))


def nft_tables() -> str:
    return subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout


def test_create_ls_inspect_rm_outputs(engine):
    nid = ok(engine, "network", "create", "--label", "a=b", "lab-a").strip()
    assert len(nid) == 64
    ok(engine, "network", "create", "--subnet", "10.77.0.0/24", "--gateway", "10.77.0.254", "lab-b")
    out = ok(engine, "network", "ls")
    lines = out.splitlines()
    assert lines[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    rows = [line.split() for line in lines[1:]]
    assert [r[1:] for r in rows] == [
        ["bridge", "bridge", "local"],
        ["host", "host", "local"],
        ["lab-a", "bridge", "local"],
        ["lab-b", "bridge", "local"],
        ["none", "null", "local"],
    ]
    assert rows[2][0] == nid[:12]
    assert ok(engine, "network", "ls", "-q").split()[2] == nid[:12]
    assert nid in ok(engine, "network", "ls", "--no-trunc")
    assert ok(engine, "network", "ls", "--filter", "type=custom", "--format", "{{.Name}}") == (
        "lab-a\nlab-b\n"
    )
    assert ok(engine, "network", "ls", "-f", "type=builtin", "--format", "{{.Name}}") == (
        "bridge\nhost\nnone\n"
    )
    assert ok(engine, "network", "ls", "-f", "label=a", "--format", "{{.Name}} {{.Labels}}") == (
        "lab-a a=b\n"
    )
    assert ok(engine, "network", "ls", "-f", "driver=null", "-q") == (
        rec_of(engine, "none")["Id"][:12] + "\n"
    )
    r = D(engine, "network", "ls", "-f", "foo=bar")
    assert (r.returncode, r.stderr) == (1, "Error response from daemon: Invalid filter 'foo'\n")

    doc = json.loads(ok(engine, "network", "inspect", "lab-b"))[0]
    assert list(doc) == [
        "Name", "Id", "Created", "Scope", "Driver", "EnableIPv6", "IPAM", "Internal",
        "Attachable", "Ingress", "ConfigFrom", "ConfigOnly", "Containers", "Options", "Labels",
    ]  # fmt: skip
    assert doc["IPAM"] == {
        "Driver": "default",
        "Options": {},
        "Config": [{"Subnet": "10.77.0.0/24", "Gateway": "10.77.0.254"}],
    }
    assert (doc["Containers"], doc["Options"], doc["Labels"]) == ({}, {}, {})
    bridge = json.loads(ok(engine, "network", "inspect", "bridge"))[0]
    assert bridge["IPAM"]["Options"] is None and "Gateway" not in bridge["IPAM"]["Config"][0]
    assert ok(engine, "network", "inspect", "-f", "{{.Name}} {{.Driver}}", nid[:5]) == (
        "lab-a bridge\n"
    )
    r = D(engine, "network", "inspect", "nosuch")
    assert (r.returncode, r.stdout, r.stderr) == (1, "[]\n", "Error: No such network: nosuch\n")

    br = rec_of(engine, "lab-a")["Bridge"]
    assert br == f"br-{nid[:12]}" and br in host_links()
    assert ok(engine, "network", "rm", "lab-a", "lab-b") == "lab-a\nlab-b\n"
    assert br not in host_links()
    assert "lab-a" not in ok(engine, "network", "ls")


def test_create_errors_as_docker(engine):
    ok(engine, "network", "create", "--subnet", "10.77.0.0/24", "lab-c")
    cases = [
        (["-d", "foo", "x"], 'Error response from daemon: plugin "foo" not found'),
        (["lab-c"], "Error response from daemon: network with name lab-c already exists"),
        (["bridge"], "Error response from daemon: network with name bridge already exists"),
        (
            ["--subnet", "10.77.0.0/16", "x"],
            "Error response from daemon: Pool overlaps with other one on this address space",
        ),
        (
            ["--gateway", "10.1.1.1", "x"],
            "every ip-range or gateway must have a corresponding subnet",
        ),
        (
            ["--subnet", "10.88.0.0/24", "--gateway", "10.99.0.1", "x"],
            "no matching subnet for gateway 10.99.0.1",
        ),
        (
            ["--subnet", "bad", "x"],
            "Error response from daemon: Invalid subnet bad : invalid CIDR address: bad",
        ),
    ]
    for args, message in cases:
        r = D(engine, "network", "create", *args)
        assert (r.returncode, r.stderr) == (1, message + "\n"), args
    r = D(engine, "network", "rm", "bridge", "none", "nosuch")
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        "Error response from daemon: bridge is a pre-defined network and cannot be removed",
        "Error response from daemon: none is a pre-defined network and cannot be removed",
        "Error response from daemon: network nosuch not found",
    ]


def test_run_errors_as_docker(engine):
    ok(engine, "network", "create", "--subnet", "10.77.0.0/24", "lab-d")
    cases = [
        (["--network", "nosuch"], "network nosuch not found"),
        (
            ["--ip", "172.17.0.9"],
            "user specified IP address is supported on user defined networks only",
        ),
        (
            ["--network", "lab-d", "--ip", "10.99.0.5"],
            "Invalid address 10.99.0.5: It does not belong to any of this network's subnets",
        ),
    ]
    for args, message in cases:
        r = D(engine, "run", "--rm", *args, "busybox", "true")
        assert r.returncode == 125, args
        assert r.stderr.startswith(f"dockerlab: Error response from daemon: {message}."), r.stderr
    ok(engine, "run", "-d", "--name", "holder", "--network", "lab-d", "--ip", "10.77.0.50",
       "busybox", "sleep", "60")  # fmt: skip
    r = D(engine, "run", "--rm", "--network", "lab-d", "--ip", "10.77.0.50", "busybox", "true")
    assert r.returncode == 125
    assert r.stderr.startswith("dockerlab: Error response from daemon: Address already in use.")
    out = ok(engine, "run", "--rm", "--network", "lab-d", "--ip", "10.77.0.51", "busybox",
             "ip", "-o", "-4", "addr", "show", "eth0")  # fmt: skip
    assert "inet 10.77.0.51/24 brd 10.77.0.255" in out
    r = D(engine, "network", "rm", "lab-d")
    nid = rec_of(engine, "lab-d")["Id"]
    assert (r.returncode, r.stderr) == (
        1,
        f"Error response from daemon: error while removing network: network lab-d id {nid} "
        "has active endpoints\n",
    )


def test_inspect_of_a_container_on_a_user_network(engine):
    ok(engine, "network", "create", "lab-e")
    cid = ok(engine, "run", "-d", "--name", "alpha1", "--network", "lab-e", "--network-alias",
             "alpha", "busybox", "sleep", "60").strip()  # fmt: skip
    info = json.loads(ok(engine, "inspect", "alpha1"))[0]
    assert info["HostConfig"]["NetworkMode"] == "lab-e"
    ns = info["NetworkSettings"]
    assert (ns["IPAddress"], ns["Gateway"], ns["MacAddress"], ns["EndpointID"]) == ("",) * 4
    assert list(ns["Networks"]) == ["lab-e"]
    ep = ns["Networks"]["lab-e"]
    rec = rec_of(engine, "lab-e")
    assert ep["Aliases"] == ["alpha", cid[:12]]
    assert ep["IPAMConfig"] is None and ep["NetworkID"] == rec["Id"]
    assert ep["Gateway"] == rec["Gateway"]
    assert ep["MacAddress"] == "02:42:" + ":".join(
        f"{b:02x}" for b in socket.inet_aton(ep["IPAddress"])
    )
    doc = json.loads(ok(engine, "network", "inspect", "lab-e"))[0]
    assert doc["Containers"] == {
        cid: {
            "Name": "alpha1",
            "EndpointID": ep["EndpointID"],
            "MacAddress": ep["MacAddress"],
            "IPv4Address": f"{ep['IPAddress']}/{ep['IPPrefixLen']}",
            "IPv6Address": "",
        }
    }
    assert sh(engine, "alpha1", "cat /etc/resolv.conf").stdout == (
        "nameserver 127.0.0.11\noptions ndots:0\n"
    )
    assert ok(engine, "ps", "--format", "{{.Names}} {{.Networks}}") == "alpha1 lab-e\n"


def test_names_aliases_and_short_ids_resolve_on_the_same_network_only(engine):
    create(engine, "lab-f")
    create(engine, "lab-g")
    a = ok(engine, "run", "-d", "--name", "fa", "--network", "lab-f", "--network-alias", "web",
           "busybox", "sleep", "120").strip()  # fmt: skip
    ok(engine, "run", "-d", "--name", "fb", "--network", "lab-f", "busybox", "sleep", "120")
    ok(engine, "run", "-d", "--name", "ga", "--network", "lab-g", "busybox", "sleep", "120")
    ip_a = json.loads(ok(engine, "inspect", "fa"))[0]["NetworkSettings"]["Networks"]["lab-f"][
        "IPAddress"
    ]
    for name in ("fa", "web", a[:12], "fa.lab-f", "FA"):
        r = sh(engine, "fb", f"nslookup -type=a {name}")
        assert r.returncode == 0, (name, r.stdout, r.stderr)
        assert f"Address: {ip_a}" in r.stdout, name
    r = sh(engine, "fb", "ping -c1 -W1 fa")
    assert r.returncode == 0 and f"PING fa ({ip_a})" in r.stdout, r.stdout
    r = sh(engine, "fb", "nslookup -type=aaaa fa")  # an empty NOERROR, as Docker's
    assert r.returncode == 0 and "Address:" not in r.stdout.split("127.0.0.11:53")[1]
    # from another network: an NXDOMAIN (a lab name: never forwarded to the host's resolvers)
    r = sh(engine, "ga", "nslookup -type=a fa")
    assert r.returncode != 0 and "NXDOMAIN" in r.stdout + r.stderr, r.stdout + r.stderr


def test_networks_are_isolated_from_each_other_and_from_the_default_bridge(engine):
    create(engine, "lab-h")
    create(engine, "lab-i")
    ok(engine, "run", "-d", "--name", "h1", "--network", "lab-h", "busybox", "sleep", "120")
    ok(engine, "run", "-d", "--name", "h2", "--network", "lab-h", "busybox", "sleep", "120")
    ok(engine, "run", "-d", "--name", "i1", "--network", "lab-i", "busybox", "sleep", "120")
    ok(engine, "run", "-d", "--name", "d1", "busybox", "sleep", "120")

    def ip(name, net):
        doc = json.loads(ok(engine, "inspect", name))[0]
        return doc["NetworkSettings"]["Networks"][net]["IPAddress"]

    h2, i1, d1 = ip("h2", "lab-h"), ip("i1", "lab-i"), ip("d1", "bridge")
    assert sh(engine, "h1", f"ping -c1 -W1 {h2}").returncode == 0
    assert sh(engine, "h1", f"ping -c1 -W1 {rec_of(engine, 'lab-h')['Gateway']}").returncode == 0
    for src, dst in (("h1", i1), ("i1", h2), ("h1", d1), ("d1", h2)):
        assert sh(engine, src, f"ping -c1 -W1 {dst}").returncode == 1, (src, dst)


def test_internal_network_and_a_bridge_name_of_ones_own(engine):
    create(engine, "--internal", "-o", "com.docker.network.bridge.name=dltestbr0", "lab-u")
    rec = rec_of(engine, "lab-u")
    assert rec["Bridge"] == "dltestbr0" and "dltestbr0" in host_links()
    doc = json.loads(ok(engine, "network", "inspect", "lab-u"))[0]
    assert doc["Internal"] is True
    assert doc["Options"] == {"com.docker.network.bridge.name": "dltestbr0"}
    assert ok(engine, "network", "ls", "-f", "name=lab-u", "--format", "{{.Internal}}") == "true\n"
    ok(engine, "run", "-d", "--name", "u1", "--network", "lab-u", "busybox", "sleep", "60")
    ok(engine, "run", "-d", "--name", "d2", "busybox", "sleep", "60")
    d2 = json.loads(ok(engine, "inspect", "d2"))[0]["NetworkSettings"]["IPAddress"]
    assert sh(engine, "u1", f"ping -c1 -W1 {rec['Gateway']}").returncode == 0
    assert sh(engine, "u1", f"ping -c1 -W1 {d2}").returncode == 1
    script = subprocess.run(
        ["nft", "list", "table", "ip", rec["Table"]], capture_output=True, text=True
    ).stdout
    assert "masquerade" not in script
    ok(engine, "rm", "-f", "u1")
    ok(engine, "network", "rm", "lab-u")
    assert "dltestbr0" not in host_links()


def test_connect_and_disconnect_a_running_container(engine):
    create(engine, "lab-j")
    ok(engine, "run", "-d", "--name", "j1", "--network", "lab-j", "busybox", "sleep", "120")
    cid = ok(engine, "run", "-d", "--name", "web", "busybox", "sleep", "120").strip()
    assert ok(engine, "network", "connect", "--alias", "webalias", "lab-j", "web") == ""
    r = D(engine, "network", "connect", "lab-j", "web")
    assert (r.returncode, r.stderr) == (
        1,
        "Error response from daemon: endpoint with name web already exists in network lab-j\n",
    )
    ep = json.loads(ok(engine, "inspect", "web"))[0]["NetworkSettings"]["Networks"]
    assert sorted(ep) == ["bridge", "lab-j"]
    assert ep["lab-j"]["Aliases"] == ["webalias", cid[:12]]
    assert (ep["lab-j"]["IPAMConfig"], ep["lab-j"]["DriverOpts"]) == ({}, {})
    out = sh(engine, "web", "ip -o -4 addr show eth1").stdout
    assert f"inet {ep['lab-j']['IPAddress']}/{ep['lab-j']['IPPrefixLen']}" in out
    r = sh(engine, "j1", "nslookup -type=a webalias")
    assert f"Address: {ep['lab-j']['IPAddress']}" in r.stdout, r.stdout
    j1 = json.loads(ok(engine, "inspect", "j1"))[0]["NetworkSettings"]["Networks"]["lab-j"]
    assert sh(engine, "web", f"ping -c1 -W1 {j1['IPAddress']}").returncode == 0
    # started on the default bridge alone, it has no DNS server of its own until it restarts
    # (a difference: Docker's points its resolv.conf at 127.0.0.11 at once)
    ok(engine, "restart", "-t", "0", "web")
    out = sh(engine, "web", "cat /etc/resolv.conf; ip -o -4 addr show eth1").stdout
    assert out.startswith("nameserver 127.0.0.11\noptions ndots:0\n")
    assert sh(engine, "web", "ping -c1 -W1 j1").returncode == 0

    # connected while it runs: its own answers follow (lab-j2's names), and others' too
    create(engine, "lab-j2")
    ok(engine, "run", "-d", "--name", "j2", "--network", "lab-j2", "busybox", "sleep", "120")
    ok(engine, "network", "connect", "--alias", "webalias", "lab-j2", "web")
    assert sh(engine, "web", "nslookup -type=a j2").returncode == 0
    assert sh(engine, "j2", "nslookup -type=a webalias").returncode == 0
    assert ok(engine, "network", "disconnect", "lab-j", "web") == ""
    assert sh(engine, "web", "ip link show eth1").returncode != 0
    assert sh(engine, "web", "ip link show eth2").returncode == 0
    r = sh(engine, "j1", "nslookup -type=a webalias")
    assert r.returncode != 0 and "NXDOMAIN" in r.stdout + r.stderr
    ok(engine, "network", "disconnect", "lab-j2", "web")
    r = D(engine, "network", "disconnect", "lab-j", "web")
    assert (r.returncode, r.stderr) == (
        1,
        f"Error response from daemon: container {cid} is not connected to network lab-j\n",
    )
    assert sorted(json.loads(ok(engine, "inspect", "web"))[0]["NetworkSettings"]["Networks"]) == [
        "bridge"
    ]
    r = D(engine, "network", "connect", "nosuch", "web")
    assert r.stderr == "Error response from daemon: network nosuch not found\n"
    r = D(engine, "network", "connect", "lab-j", "nosuch")
    assert r.stderr == "Error response from daemon: No such container: nosuch\n"


def test_connect_a_stopped_container_gives_it_two_interfaces_at_start(engine):
    create(engine, "lab-k")
    create(engine, "lab-l")
    ok(engine, "create", "--name", "two", "--network", "lab-k", "busybox", "sleep", "120")
    ok(engine, "network", "connect", "--ip", "", "lab-l", "two")
    ok(engine, "start", "two")
    out = sh(engine, "two", "ip -o -4 addr; ip route").stdout
    k, l_ = rec_of(engine, "lab-k"), rec_of(engine, "lab-l")
    assert " eth0 " in out and " eth1 " in out
    assert f"default via {k['Gateway']} dev eth0" in out
    assert l_["Subnet"] in out
    ok(engine, "network", "disconnect", "lab-l", "two")
    ok(engine, "stop", "-t", "0", "two")
    ok(engine, "start", "two")
    assert sh(engine, "two", "ip link show eth1").returncode != 0


def test_answers_follow_stop_and_rm(engine):
    create(engine, "lab-m")
    create(engine, "lab-m2")  # m2 stays a lab name: never forwarded
    ok(
        engine,
        "run",
        "-d",
        "--network",
        "lab-m2",
        "--network-alias",
        "m2",
        "busybox",
        "sleep",
        "120",
    )
    ok(engine, "run", "-d", "--name", "m1", "--network", "lab-m", "busybox", "sleep", "120")
    ok(engine, "run", "-d", "--name", "m2", "--network", "lab-m", "busybox", "sleep", "120")
    assert sh(engine, "m1", "nslookup -type=a m2").returncode == 0
    ok(engine, "stop", "-t", "0", "m2")
    assert sh(engine, "m1", "nslookup -type=a m2").returncode != 0
    ok(engine, "start", "m2")
    assert sh(engine, "m1", "nslookup -type=a m2").returncode == 0
    ok(engine, "rm", "-f", "m2")
    assert sh(engine, "m1", "nslookup -type=a m2").returncode != 0


def test_rm_and_prune_leave_nothing_behind(engine):
    create(engine, "lab-n")
    create(engine, "--label", "keep=1", "lab-o")
    create(engine, "lab-p")
    ok(engine, "create", "--name", "user", "--network", "lab-p", "busybox", "true")
    recs = [rec_of(engine, n) for n in ("lab-n", "lab-o", "lab-p")]
    ok(engine, "run", "--rm", "--network", "lab-n", "busybox", "true")
    ok(engine, "run", "-d", "--network", "lab-o", "busybox", "sleep", "60")
    r = D(engine, "network", "prune", "-f", "--filter", "label!=keep")
    # a created (stopped) container's network goes too, as Docker's; its start then fails
    assert (r.returncode, r.stdout) == (0, "Deleted Networks:\nlab-n\nlab-p\n\n")
    r = D(engine, "start", "user")
    assert (r.returncode, r.stderr) == (
        1,
        "Error response from daemon: network lab-p not found\n"
        "Error: failed to start containers: user\n",
    )
    assert D(engine, "network", "prune", "-f").stdout == ""  # lab-o is in use
    ok(engine, "rm", "-f", *ok(engine, "ps", "-aq").split())
    r = D(engine, "network", "prune", "-f")
    assert r.stdout == "Deleted Networks:\nlab-o\n\n"
    assert D(engine, "network", "prune", "-f").stdout == ""
    links, tables = host_links(), nft_tables()
    for rec in recs:
        assert rec["Bridge"] not in links
        assert not os.path.exists(rec["NetNS"])
        assert rec["Table"] not in tables
        assert not [
            f for f in os.listdir(networks.folder(engine.paths)) if f.startswith(rec["Name"])
        ]
    assert ok(engine, "network", "ls", "-q").count("\n") == 3


def test_system_prune_removes_unused_networks(engine):
    create(engine, "lab-v")
    create(engine, "lab-w")
    ok(engine, "run", "-d", "--network", "lab-w", "busybox", "sleep", "60")
    out = D(engine, "system", "prune", input="n\n").stdout
    assert out.startswith(
        "WARNING! This will remove:\n  - all stopped containers\n"
        "  - all networks not used by at least one container\n"
    )
    out = ok(engine, "system", "prune", "-f")
    assert out.startswith("Deleted Networks:\nlab-v\n\n"), out
    assert [n.split()[0] for n in ok(engine, "network", "ls", "--format", "{{.Name}}").split()] == [
        "bridge",
        "host",
        "lab-w",
        "none",
    ]


def test_a_killed_monitor_frees_its_user_network_endpoints(engine):
    create(engine, "lab-q")
    create(engine, "lab-r")
    cid = ok(engine, "create", "--name", "kk", "--network", "lab-q", "busybox", "sleep", "120")
    ok(engine, "network", "connect", "lab-r", "kk")
    ok(engine, "start", "kk")
    folder = networks.folder(engine.paths)
    assert cid.strip() in open(os.path.join(folder, "lab-r.names")).read()
    with open(os.path.join(engine.paths.container(cid.strip()), "state.json")) as f:
        monitor = json.load(f)["MonitorPid"]
    os.kill(monitor, signal.SIGKILL)
    assert wait_until(lambda: not engine.inspect("kk")["State"]["Running"], timeout=10)
    for net in ("lab-q", "lab-r"):
        assert wait_until(
            lambda n=net: not open(os.path.join(folder, f"{n}.ipam")).read().strip(), timeout=10
        )
        assert cid.strip() not in open(os.path.join(folder, f"{net}.names")).read()


# ---- the DNS server is no way out ----------------------------------------------------------


def _query(name: str, ident: int = 0x1234, qtype: int = 1) -> bytes:
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", qtype, 1)


def test_attack_the_dns_server_with_bad_packets_and_from_outside(engine):
    """Malformed packets sent to a container's DNS server from inside its network namespace
    (busybox has no UDP sender: the test process enters the namespace, as any process of
    the container would be there): compression loops, truncated and oversized names,
    answers instead of queries, path-like names, floods. The server (the container's
    monitor) must survive and answer the next good query, only to its sender. The socket
    lives in the container's namespace only: the host has no 127.0.0.11:53, and the
    monitor shares none of the container's other namespaces (no way out through it)."""
    create(engine, "lab-s")
    cid = daemon(engine, ["sleep", "120"], name="s1", HostConfig={"NetworkMode": "lab-s"})
    cid2 = daemon(engine, ["sleep", "120"], name="s2", HostConfig={"NetworkMode": "lab-s"})
    pid = engine.inspect(cid)["State"]["Pid"]
    with open(os.path.join(engine.paths.container(cid), "state.json")) as f:
        monitor = json.load(f)["MonitorPid"]
    header = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0)
    bad = (
        [
            header + b"\xc0\x0c" + b"\0\1\0\1",  # a pointer to itself
            header + b"\x3f" + b"a" * 10,  # truncated label
            header + (b"\x3f" + b"a" * 63) * 5 + b"\0\0\1\0\1",  # a name over 255 bytes
            struct.pack("!HHHHHH", 1, 0x8100, 1, 0, 0, 0) + b"\2s2\0\0\1\0\1",  # an answer
            header[:6],
            b"\xff" * 600,
            _query("s2", qtype=255),
            _query("s2") + b"\0" * 400,
        ]
        + [_query("s2", ident=i) for i in range(200)]
    )  # a flood
    with bridge.Inside(f"/proc/{pid}/ns/net"):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # stays in the container's netns
    with s:
        for pkt in bad:
            s.sendto(pkt, ("127.0.0.11", 53))
        s.settimeout(0.2)
        try:
            while True:
                s.recvfrom(4096)  # (drain what it answered)
        except OSError:
            pass
        s.settimeout(10)
        s.sendto(_query("s2", ident=0xBEEF), ("127.0.0.11", 53))
        while True:
            data, peer = s.recvfrom(4096)
            if data[:2] == b"\xbe\xef":
                break
    ip2 = engine.inspect(cid2)["NetworkSettings"]["Networks"]["lab-s"]["IPAddress"]
    assert peer == ("127.0.0.11", 53)
    assert data[-4:] == socket.inet_aton(ip2)
    assert os.path.exists(f"/proc/{monitor}") and engine.inspect(cid)["State"]["Running"]
    r = sh(engine, "s1", "nslookup -type=a s2")
    assert r.returncode == 0 and f"Address: {ip2}" in r.stdout, r.stdout + r.stderr

    def udp_53(pid_: int) -> bool:
        with open(f"/proc/{pid_}/net/udp") as f:
            return any(line.split()[1] == "0B00007F:0035" for line in f.readlines()[1:])

    assert udp_53(pid)  # in the container's namespace
    assert not udp_53(monitor)  # not in the monitor's (the host's)
    for kind in ("mnt", "pid", "uts", "ipc"):
        assert os.readlink(f"/proc/{monitor}/ns/{kind}") != os.readlink(f"/proc/{pid}/ns/{kind}")
    assert os.readlink(f"/proc/{monitor}/ns/net") == os.readlink("/proc/self/ns/net")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as host:
        host.settimeout(0.5)  # nobody answers on the host's 127.0.0.11:53
        host.sendto(_query("s2"), ("127.0.0.11", 53))
        with pytest.raises(OSError):
            host.recvfrom(512)
    table = dns.table(networks.folder(engine.paths), ["lab-s"])
    assert sorted(names for _, _, names in table) == [["s1", cid[:12]], ["s2", cid2[:12]]]


def test_network_ls_and_inspect_in_ipython(engine, monkeypatch):
    pytest.importorskip("IPython")
    from IPython.testing.globalipapp import get_ipython
    from IPython.utils.capture import capture_output

    ip = get_ipython()  # (the session's, if test_magics started it)
    ip.run_line_magic("load_ext", "dockerlab")
    monkeypatch.setenv("DOCKERLAB_ROOT", engine.paths.root)
    create(engine, "lab-t")
    with capture_output():
        listing = ip.run_line_magic("docker", "network ls")
        doc = ip.run_line_magic("docker", "network inspect lab-t")
    assert [row["NAME"] for row in listing.rows] == ["bridge", "host", "lab-t", "none"]
    assert doc["Name"] == "lab-t" and doc["IPAM"]["Config"][0]["Subnet"]


def test_create_and_connect_from_a_worker_thread_stay_in_their_namespaces(engine):
    """The daemon runs verbs on threads: a namespace a thread enters or makes is that
    thread's alone, so the bridge made there must be a new namespace (not the host's bound
    under the network's name) and the host's links must stay where they were."""
    import threading

    before = host_links()
    host_ns = os.stat("/proc/self/ns/net").st_ino
    cid = daemon(engine, name="thr")
    failures: list[BaseException] = []

    def work() -> None:
        try:
            engine.network_create(
                {"Name": "lab-thr", "IPAM": {"Config": [{"Subnet": private_subnet()}]}}
            )
            engine.network_connect("lab-thr", cid)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)

    t = threading.Thread(target=work)
    t.start()
    t.join(120)
    assert not failures, failures
    rec = rec_of(engine, "lab-thr")
    assert bridge.is_netns(rec["NetNS"]) and os.stat(rec["NetNS"]).st_ino != host_ns
    assert os.stat("/proc/self/ns/net").st_ino == host_ns
    assert sh(engine, "thr", "ip link show eth1").returncode == 0
    assert "br0" not in host_links() - before  # the bridge is not in the host's namespace
