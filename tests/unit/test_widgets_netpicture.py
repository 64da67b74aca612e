"""NetworkView's picture as a pure function of Docker-shaped documents (network.md's)."""

from __future__ import annotations

import re

from dockerlab.widgets import netpicture as npic

BRIDGE_RECORD = {  # the engine's record (engine/network/record.py)
    "Name": "bridge",
    "Id": "8d8dd1bc10587fa4f4843e5885c082b95416ddbc915fd72fd1fbae34e57096a2",
    "Driver": "bridge",
    "Subnet": "172.18.0.0/16",
    "Gateway": "172.18.0.1",
    "Bridge": "dockerlab0",
}
NET_LAB = {  # `docker network inspect net-lab` (network.md §4.5), abridged
    "Name": "net-lab",
    "Id": "56f81c9be3263b4b43077afdda7edb1def9c15445b6203ea129e7ab1324972b7",
    "Driver": "bridge",
    "IPAM": {"Driver": "default", "Options": {}, "Config": [
        {"Subnet": "172.19.0.0/16", "Gateway": "172.19.0.1"}
    ]},
    "Options": {},
}  # fmt: skip


def endpoint(net_id, ip, prefix=16, gateway="", aliases=None):
    return {
        "IPAMConfig": None,
        "Links": None,
        "Aliases": aliases,
        "NetworkID": net_id,
        "EndpointID": "e" * 64 if ip else "",
        "Gateway": gateway,
        "IPAddress": ip,
        "IPPrefixLen": prefix if ip else 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "MacAddress": "02:42:" + ":".join(f"{int(b):02x}" for b in ip.split(".")) if ip else "",
        "DriverOpts": None,
    }


def container(name, cid, networks, *, mode="default", ports=None, links=None, status="running"):
    return {
        "Id": cid * 64 if len(cid) == 1 else cid,
        "Name": "/" + name,
        "State": {"Status": status},
        "Config": {"Image": "busybox"},
        "HostConfig": {"NetworkMode": mode, "Links": links},
        "NetworkSettings": {"Ports": ports or {}, "Networks": networks},
    }


WEB = container(  # -p 8080:80 -p 127.0.0.1:8081:81, EXPOSE 5353/udp (network.md §2.2)
    "net-web",
    "a",
    {"bridge": endpoint(BRIDGE_RECORD["Id"], "172.18.0.2", gateway="172.18.0.1")},
    ports={
        "80/tcp": [
            {"HostIp": "0.0.0.0", "HostPort": "8080"},
            {"HostIp": "::", "HostPort": "8080"},
        ],
        "81/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8081"}],
        "5353/udp": None,
    },
)
DB = container(
    "net-db", "b", {"bridge": endpoint(BRIDGE_RECORD["Id"], "172.18.0.3", gateway="172.18.0.1")}
)
LINKC = container(  # --link net-db:aliasdb (network.md §3)
    "net-linkc",
    "c",
    {"bridge": endpoint(BRIDGE_RECORD["Id"], "172.18.0.4", gateway="172.18.0.1")},
    links=["/net-db:/net-linkc/aliasdb"],
)
ALPHA = container(  # on net-lab only, with an alias (network.md §4.2, §4.5)
    "net-a",
    "d",
    {"net-lab": endpoint(NET_LAB["Id"], "172.19.0.2", gateway="172.19.0.1",
                         aliases=["alpha", "dddddddddddd"])},
    mode="net-lab",
)  # fmt: skip
NONE = container("quiet", "e", {"none": endpoint("", "")}, mode="none")
HOST = container("hosty", "f", {"host": endpoint("", "")}, mode="host")


def test_networks_from_the_engines_record_and_dockers_inspect_shape():
    b, lab = npic.network_of(BRIDGE_RECORD), npic.network_of(NET_LAB)
    assert (b.name, b.subnet, b.gateway, b.device) == (
        "bridge", "172.18.0.0/16", "172.18.0.1", "dockerlab0",
    )  # fmt: skip
    assert (lab.name, lab.subnet, lab.gateway, lab.device) == (
        "net-lab", "172.19.0.0/16", "172.19.0.1", "",
    )  # fmt: skip
    docker0 = npic.network_of(
        {"Name": "bridge", "IPAM": {"Config": [{"Subnet": "172.17.0.0/16"}]},
         "Options": {"com.docker.network.bridge.name": "docker0"}}
    )  # fmt: skip
    assert (docker0.subnet, docker0.gateway, docker0.device) == ("172.17.0.0/16", "", "docker0")


def test_ports_one_arrow_per_binding_with_the_ipv6_twin_folded_in():
    ports = npic.ports_of(WEB)
    assert [(p.port, p.host, p.also) for p in ports] == [
        ("80/tcp", "0.0.0.0:8080", "[::]:8080"),
        ("81/tcp", "127.0.0.1:8081", ""),
        ("5353/udp", ":", ""),
    ]
    assert ports[2].host_port == ""  # exposed, not published
    odd = container("x", "9", {}, ports={"80/tcp": [{"HostIp": "::1", "HostPort": "9"}]})
    assert npic.ports_of(odd)[0].host == "[::1]:9"


def test_links_parse_dockers_hostconfig_form():
    assert npic.parse_link("/net-db:/net-linkc/aliasdb") == ("aliasdb", "net-db")
    assert npic.parse_link("/net-db:/net-linkc/net-db") == ("net-db", "net-db")
    assert npic.parse_link("garbage") is None


def test_the_picture_of_the_default_bridge_user_networks_and_special_modes():
    p = npic.build([WEB, DB, LINKC, ALPHA, NONE, HOST], [BRIDGE_RECORD])
    assert [n.name for n in p.nets] == ["bridge", "net-lab"]  # bridge first, then by name
    lab = p.nets[1]  # known only from its container's endpoint: subnet from the address
    assert (lab.subnet, lab.gateway) == ("172.19.0.0/16", "172.19.0.1")
    assert npic.text_lines(p) == [
        "network bridge (dockerlab0) 172.18.0.0/16 gateway 172.18.0.1: net-db, net-linkc, net-web",
        "network net-lab 172.19.0.0/16 gateway 172.19.0.1: net-a",
        "hosty (running, --network host)",
        "net-a (running, --network net-lab); net-lab 172.19.0.2/16",
        "net-db (running, --network bridge); bridge 172.18.0.2/16".replace("2/16", "3/16"),
        "net-linkc (running, --network bridge); bridge 172.18.0.4/16; link aliasdb -> net-db",
        "net-web (running, --network bridge); bridge 172.18.0.2/16; 0.0.0.0:8080 -> 80/tcp; "
        "127.0.0.1:8081 -> 81/tcp; 5353/udp exposed",
        "quiet (running, --network none)",
    ]
    by = {b.name: b for b in p.boxes}
    assert npic.iface_lines(by["net-web"]) == ["lo 127.0.0.1/8", "eth0 172.18.0.2/16"]
    assert npic.iface_lines(by["quiet"]) == ["lo 127.0.0.1/8"]
    assert npic.iface_lines(by["hosty"]) == ["the host's own interfaces"]
    assert by["net-a"].ifaces[0].aliases == ["alpha", "dddddddddddd"]


def test_the_svg_draws_buses_wires_arrows_and_links_deterministically():
    docs = [WEB, DB, LINKC, ALPHA, NONE, HOST]
    out = npic.svg(npic.build(docs, [BRIDGE_RECORD, NET_LAB]))
    assert out == npic.svg(npic.build(list(reversed(docs)), [NET_LAB, BRIDGE_RECORD]))
    assert out.startswith('<svg xmlns="http://www.w3.org/2000/svg" class="dl-network"')
    # two rows of four: the second row draws the host strip and the buses again
    assert out.count('class="dl-host"') == 2 and out.count('class="dl-net"') == 4
    assert out.count('class="dl-container"') == 6
    assert out.count('class="dl-wire"') == 5  # web, db, linkc; net-a; hosty to the host
    assert out.count('class="dl-port"') == 2  # 8080 (its [::] twin in the title) and 8081
    assert "0.0.0.0:8080 and [::]:8080 -&gt; 80/tcp" in out
    assert ">5353/udp (not published)<" in out
    assert out.count('class="dl-link"') == 1 and ">aliasdb<" in out
    assert "172.18.0.0/16 gw 172.18.0.1" in out and "bridge (dockerlab0)" in out


def test_a_removed_container_is_drawn_greyed_without_wires():
    before = npic.build([WEB, DB], [BRIDGE_RECORD])
    after = npic.build([DB], [BRIDGE_RECORD], removed=[before.boxes[1]])
    web = [b for b in after.boxes if b.name == "net-web"][0]
    assert web.state == "removed" and web.ifaces == [] and web.ports == []
    out = npic.svg(after)
    assert 'data-name="net-web" data-state="removed"' in out
    assert out.count('class="dl-wire"') == 1 and 'class="dl-port"' not in out
    assert "net-web (removed, --network bridge)" in npic.text_lines(after)
    # a container back under the same ID is live again, not removed
    again = npic.build([WEB, DB], [BRIDGE_RECORD], removed=[before.boxes[1]])
    assert [b.state for b in again.boxes] == ["running", "running"]


def test_stopped_containers_keep_their_network_without_an_address():
    stopped = container("old", "7", {"bridge": endpoint(BRIDGE_RECORD["Id"], "")}, status="exited")
    p = npic.build([stopped], [BRIDGE_RECORD])
    assert npic.iface_lines(p.boxes[0]) == ["lo 127.0.0.1/8", "eth0 no address"]
    assert 'stroke-dasharray="3 3"' in npic.svg(p)  # a dashed wire


def test_sizes_and_counts_are_bounded_and_text_is_escaped():
    many = [
        container(f"c{i:03d}", f"{i:064x}", {"bridge": endpoint(BRIDGE_RECORD["Id"], "10.0.0.2")})
        for i in range(npic.MAX_CONTAINERS + 5)
    ]
    evil = container(
        "<script>" + "x" * 5000,
        "8",
        {f"n{i}": endpoint("", f"10.{i}.0.2") for i in range(40)},
        ports={f"{p}/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(p)}] for p in range(1, 300)},
        links=[f"/c{i}:/x/a{i}" for i in range(100)],
    )
    p = npic.build([*many, evil], [BRIDGE_RECORD])
    assert len(p.boxes) == npic.MAX_CONTAINERS and p.hidden == 6
    assert len(p.nets) == npic.MAX_NETWORKS and p.hidden_nets > 0
    out = npic.svg(p, per_row=100)
    assert "<script>" not in out and "&lt;script&gt;" in out
    texts = re.findall(r">([^<>]*)</text>", out)
    assert max(len(t) for t in texts if not t.startswith("…")) <= 40
    assert f"… 6 more containers and {p.hidden_nets} more networks not drawn" in texts
    assert int(re.search(r'width="(\d+)"', out).group(1)) <= npic.LEFT + 12 * npic.COL
    assert len(out) < 400_000
    assert npic.clip("a\nb\x00c") == "a?b?c"


def test_garbage_documents_do_not_break_the_picture():
    junk = [
        {"Id": "z" * 64},
        {"Id": "y" * 64, "NetworkSettings": {"Networks": {"x": "not a dict"}, "Ports": []}},
        {"Id": "w" * 64, "NetworkSettings": {"Networks": {"x": {"IPPrefixLen": "nan"}}},
         "HostConfig": {"Links": ["nocolon"]}},
    ]  # fmt: skip
    p = npic.build(junk, [{"Name": None}, {}])
    assert len(p.boxes) == 3
    assert npic.svg(p).endswith("</svg>")
    assert npic.subnet_of("bad", 16) == "" and npic.subnet_of("10.1.2.3", 8) == "10.0.0.0/8"
