"""The default bridge network, for real: eth0 on the root's own bridge, addresses from the
engine's IPAM, Docker's /etc/hosts and resolv.conf and inspect fields, containers reaching
each other, and nothing left behind (rm, a failed start, a monitor killed with -9)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request

import pytest
from conftest import bridge_ports
from helpers import cli, daemon, wait_until

from dockerlab.engine.network import etcfiles, ipam, record

pytestmark = pytest.mark.integration


def run(engine, script, **body):
    _, att = engine.run({"Image": "busybox", "Cmd": ["sh", "-c", script], **body})
    code, out, err = att.collect()
    return code, out.decode(), err.decode()


def net(engine):
    return record.default_bridge(engine.paths)


def held(engine) -> dict[str, str]:
    return record.allocator(engine.paths, net(engine)).holders()


def ports(engine) -> list[str]:
    return bridge_ports(engine.paths.root)


def test_eth0_address_route_mac_mtu(engine):
    code, out, err = run(
        engine,
        "ip -o -4 addr show eth0; ip route; cat /sys/class/net/eth0/mtu "
        "/sys/class/net/eth0/address; ip -o addr show lo",
    )
    assert code == 0, err
    n = net(engine)
    gw, prefix = n["Gateway"], n["Subnet"].split("/")[1]
    first = ipam.lowest_free(n["Subnet"], [])
    lines = out.splitlines()
    assert f"inet {first}/{prefix} brd {ipam.broadcast_of(n['Subnet'])}" in lines[0]
    assert lines[1].split() == ["default", "via", gw, "dev", "eth0"]
    assert lines[2].split()[0] == n["Subnet"]
    assert lines[3] == "1500"
    assert lines[4] == ipam.mac_for(first)
    assert "inet6" not in out  # IPv6 off on the network, as Docker's
    assert n["Bridge"] != "docker0" and not n["Subnet"].startswith("172.17.")


def test_hosts_and_resolv_conf_as_docker_writes_them(engine):
    cid, att = engine.run(
        {"Image": "busybox", "Cmd": ["sh", "-c", "cat /etc/hosts; echo ==; cat /etc/resolv.conf"]}
    )
    code, out, _ = att.collect()
    hosts, resolv = out.decode().split("==\n")
    ip = ipam.lowest_free(net(engine)["Subnet"], [])
    assert hosts == etcfiles.HOSTS_HEAD.decode() + f"{ip}\t{cid[:12]}\n"
    with open("/etc/resolv.conf", "rb") as f:
        assert resolv == etcfiles.resolv_conf(f.read()).decode()
    code, out, _ = run(engine, "tail -1 /etc/hosts", Hostname="web")
    assert out == f"{ip}\tweb\n"


def test_inspect_and_ps_show_the_bridge_endpoint(engine):
    cid = daemon(engine)
    info = engine.inspect(cid)
    n = net(engine)
    assert info["HostConfig"]["NetworkMode"] == "default"
    ns = info["NetworkSettings"]
    ip = ipam.lowest_free(n["Subnet"], [])
    assert (ns["IPAddress"], ns["Gateway"], ns["IPPrefixLen"], ns["MacAddress"]) == (
        ip,
        n["Gateway"],
        int(n["Subnet"].partition("/")[2]),  # a /16, or a /20 when 172.x is taken
        ipam.mac_for(ip),
    )
    assert list(ns) == [
        "Bridge", "SandboxID", "HairpinMode", "LinkLocalIPv6Address", "LinkLocalIPv6PrefixLen",
        "Ports", "SandboxKey", "SecondaryIPAddresses", "SecondaryIPv6Addresses", "EndpointID",
        "Gateway", "GlobalIPv6Address", "GlobalIPv6PrefixLen", "IPAddress", "IPPrefixLen",
        "IPv6Gateway", "MacAddress", "Networks",
    ]  # fmt: skip
    bridge = ns["Networks"]["bridge"]
    assert list(bridge) == [
        "IPAMConfig", "Links", "Aliases", "NetworkID", "EndpointID", "Gateway", "IPAddress",
        "IPPrefixLen", "IPv6Gateway", "GlobalIPv6Address", "GlobalIPv6PrefixLen", "MacAddress",
        "DriverOpts",
    ]  # fmt: skip
    assert bridge["NetworkID"] == n["Id"] and bridge["EndpointID"] == ns["EndpointID"]
    assert bridge["IPAddress"] == ip and len(ns["EndpointID"]) == 64
    (row,) = engine.containers()
    assert list(row["NetworkSettings"]["Networks"]) == ["bridge"]
    assert engine.containers(filters={"network": ["bridge"]})[0]["Id"] == cid
    engine.stop(cid, timeout=0)
    ns = engine.inspect(cid)["NetworkSettings"]
    assert (ns["IPAddress"], ns["Networks"]["bridge"]["IPAddress"]) == ("", "")
    assert ns["Networks"]["bridge"]["NetworkID"] == n["Id"]
    assert held(engine) == {}  # Docker frees the address on stop
    assert wait_until(lambda: ports(engine) == [], timeout=10)  # the veth, with the netns


def test_lowest_free_address_and_reuse(engine):
    a, b = daemon(engine), daemon(engine)
    ips = [engine.inspect(c)["NetworkSettings"]["IPAddress"] for c in (a, b)]
    base = ipam.lowest_free(net(engine)["Subnet"], [])
    assert ips == [base, ipam.lowest_free(net(engine)["Subnet"], [base])]
    engine.remove(a, force=True)
    c = daemon(engine)
    assert engine.inspect(c)["NetworkSettings"]["IPAddress"] == base
    assert sorted(held(engine).values()) == sorted([b, c])
    assert wait_until(lambda: len(ports(engine)) == 2, timeout=10)


def test_host_and_containers_reach_a_container_by_ip(engine):
    web = daemon(
        engine,
        ["sh", "-c", "echo hello-bridge > /index.html; exec httpd -f -p 8000 -h /"],
    )
    ip = engine.inspect(web)["NetworkSettings"]["IPAddress"]

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"http://{ip}:8000/", timeout=2) as r:
                return r.read() == b"hello-bridge\n"
        except OSError:
            return False

    assert wait_until(answers, timeout=10)  # the host, through the gateway
    code, out, _ = run(engine, f"ping -c1 -W2 {net(engine)['Gateway']}")
    assert code == 0, out
    code, out, err = run(engine, f"wget -qO- http://{ip}:8000/")  # (-T: busybox wget segfaults)
    assert (code, out) == (0, "hello-bridge\n"), err


def test_rm_and_rm_flag_leave_no_veth_nor_address(engine):
    cid = daemon(engine)
    assert len(ports(engine)) == 1 and len(held(engine)) == 1
    engine.remove(cid, force=True)
    assert wait_until(lambda: ports(engine) == [] and held(engine) == {}, timeout=10)
    _, att = engine.run({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"AutoRemove": True}})
    att.collect()
    assert wait_until(lambda: ports(engine) == [] and held(engine) == {}, timeout=10)


def test_a_failed_start_leaves_no_veth_nor_address(engine):
    from dockerlab.errors import DockerlabError

    with pytest.raises(DockerlabError):
        engine.run({"Image": "busybox", "Cmd": ["/no/such/command"]})
    assert held(engine) == {}
    assert wait_until(lambda: ports(engine) == [], timeout=10)


def test_a_killed_monitor_is_cleaned_up_by_the_next_verb(engine):
    cid = daemon(engine)
    with open(os.path.join(engine.paths.container(cid), "state.json")) as f:
        monitor = json.load(f)["MonitorPid"]
    veth = ports(engine)
    assert len(veth) == 1
    os.kill(monitor, signal.SIGKILL)
    assert wait_until(lambda: not engine.inspect(cid)["State"]["Running"], timeout=10)
    assert wait_until(lambda: ports(engine) == [] and held(engine) == {}, timeout=10)


def test_the_bridge_is_recreated_after_deletion_by_hand(engine):
    daemon(engine)
    name = net(engine)["Bridge"]
    subprocess.run(["ip", "link", "del", name], check=True)
    code, out, err = run(engine, f"ping -c1 -W2 {net(engine)['Gateway']}")
    assert code == 0, out + err
    shown = json.loads(
        subprocess.run(["ip", "-j", "addr", "show", name], capture_output=True).stdout
    )
    assert f"{net(engine)['Gateway']}" in [a["local"] for a in shown[0]["addr_info"]]


def test_the_network_is_rebuilt_when_its_namespace_was_unmounted(engine):
    """As after a reboot, or an unmount by hand: the next start makes it again."""
    daemon(engine)
    gw = net(engine)["Gateway"]
    subprocess.run(["umount", "-l", net(engine)["NetNS"]], check=True)
    code, out, err = run(engine, f"ping -c1 -W2 {gw}")
    assert code == 0, out + err


def test_none_and_host_keep_working(engine):
    code, out, _ = run(engine, "ip -o link | cut -d: -f2", HostConfig={"NetworkMode": "none"})
    assert out.split() == ["lo"]
    code, out, _ = run(engine, "cat /etc/hosts", HostConfig={"NetworkMode": "none"})
    assert out == etcfiles.HOSTS_HEAD.decode()
    assert held(engine) == {}


# ---- attacks: what a container must not do to the host's network ---------------------------
def test_a_container_cannot_make_or_change_links_or_addresses(engine):
    code, out, err = run(
        engine,
        "ip link add evil0 type dummy; echo $?; ip addr add 10.9.9.9/32 dev eth0; echo $?; "
        "ip link set eth0 down; echo $?",
    )
    assert "0" not in out.split() and len(out.split()) == 3, err  # no CAP_NET_ADMIN


def test_net_admin_stays_inside_the_containers_namespace(engine):
    """With --cap-add NET_ADMIN a container changes its own namespace only: a link it makes
    never appears on the host, and its eth0 cannot be moved out (there is no host netns
    reachable from inside: /proc/1 is its own pid 1)."""
    name = f"evil{os.getpid() % 100000}"
    code, out, err = run(
        engine,
        f"ip link add {name} type veth peer name {name}p && echo made; "
        "ip link set eth0 netns 1; echo $?",
        HostConfig={"CapAdd": ["NET_ADMIN"]},
    )
    assert out.split()[0] == "made", err
    assert not os.path.exists(f"/sys/class/net/{name}")
    assert held(engine) == {}
    assert wait_until(lambda: ports(engine) == [], timeout=10)  # (with its namespace)


def test_cli_ps_inspect_and_network_bridge(engine):
    root = engine.paths.root
    r = cli(root, "run", "-d", "--name", "named", "--network", "bridge", "busybox", "sleep", "30")
    assert r.returncode == 0, r.stderr
    r = cli(root, "run", "-d", "--name", "plain", "busybox", "sleep", "30", text=True)
    assert r.returncode == 0, r.stderr
    r = cli(root, "ps", "--format", "{{.Names}} {{.Networks}}", text=True, clean=True)
    assert sorted(r.stdout.splitlines()) == ["named bridge", "plain bridge"]
    fmt = "{{.HostConfig.NetworkMode}} {{.NetworkSettings.Networks.bridge.IPAddress}}"
    r = cli(root, "inspect", "-f", fmt, "plain", "named", text=True, clean=True)
    base = ipam.lowest_free(net(engine)["Subnet"], [])
    assert r.stdout.split("\n")[:2] == [
        f"default {ipam.lowest_free(net(engine)['Subnet'], [base])}",
        f"bridge {base}",
    ]


def test_a_host_without_nft_gets_an_error_naming_it(engine, monkeypatch):
    from dockerlab.engine.network import bridge
    from dockerlab.errors import SystemFailure

    monkeypatch.setattr(bridge, "nft_path", lambda: None)
    with pytest.raises(SystemFailure, match="nft not found"):
        bridge.firewall(net(engine))
