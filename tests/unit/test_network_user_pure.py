"""The pure parts of user networks: DNS packets, subnet planning and Docker's refusals,
`network ls` filters and rows, the embedded resolv.conf, the isolation rules."""

from __future__ import annotations

import socket
import struct

import pytest

from dockerlab.cli.network import NetworkRow, go_time
from dockerlab.engine.network import bridge, dns, etcfiles, ipam
from dockerlab.engine.network.networks import filter_networks, in_subnet, plan_ipam
from dockerlab.errors import Conflict, InvalidParameter


def query(name: str, qtype: int = 1, ident: int = 7, flags: int = 0x0100) -> bytes:
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", ident, flags, 1, 0, 0, 0) + q + struct.pack("!HH", qtype, 1)


# ---- DNS ----------------------------------------------------------------------------------


def test_a_query_is_parsed_and_answered():
    q = dns.parse_query(query("Web.Lab", ident=0x1234))
    assert q is not None
    assert (q.id, q.name, q.qtype, q.qclass) == (0x1234, "web.lab", 1, 1)
    out = dns.response(q, ["172.18.0.3", "172.18.0.4"])
    ident, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", out)
    assert (ident, qd, an, ns, ar) == (0x1234, 1, 2, 0, 0)
    assert flags == 0x8180  # QR, RD echoed, RA, NOERROR, not authoritative
    assert out[12 : 12 + len(q.question)] == q.question
    rr = out[12 + len(q.question) :]
    assert rr[:12] == struct.pack("!HHHIH", 0xC00C, 1, 1, 600, 4)
    assert rr[12:16] == socket.inet_aton("172.18.0.3")
    assert rr[-4:] == socket.inet_aton("172.18.0.4")


def test_empty_answers_and_errors():
    q = dns.parse_query(query("x", qtype=28))
    assert q is not None
    empty = dns.response(q)
    assert struct.unpack_from("!HHHHHH", empty)[1:4] == (0x8180, 1, 0)
    nx = dns.response(q, rcode=dns.NXDOMAIN)
    assert struct.unpack_from("!H", nx, 2)[0] & 0xF == 3


@pytest.mark.parametrize(
    "packet",
    [
        b"",
        b"\0" * 11,
        query("a")[:-2],  # no class
        struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\0\1\0\1",  # a pointer
        struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\x05ab",  # truncated label
        struct.pack("!HHHHHH", 1, 0x0100, 2, 0, 0, 0) + b"\1a\0\0\1\0\1",  # two questions
        query("a", flags=0x8100),  # an answer, not a query
        query("a", flags=0x2900),  # an UPDATE (opcode 5)
        query(".".join(["a" * 63] * 5)),  # a name over 255 bytes
        b"\xff" * 600,
    ],
)
def test_malformed_packets_are_dropped(packet):
    assert dns.parse_query(packet) is None


def test_resolve_names_aliases_and_name_dot_network():
    table = [
        ("lab", "10.0.0.2", ["web", "0123456789ab", "alpha"]),
        ("lab", "10.0.0.3", ["db", "ba9876543210"]),
        ("other", "10.1.0.2", ["web", "0123456789ab"]),
    ]

    def ask(name):
        q = dns.parse_query(query(name))
        assert q is not None
        return dns.resolve(q, table)

    assert ask("web") == ["10.0.0.2", "10.1.0.2"]
    assert ask("ALPHA") == ["10.0.0.2"]
    assert ask("db.lab") == ["10.0.0.3"]
    assert ask("web.other") == ["10.1.0.2"]
    assert ask("ba9876543210") == ["10.0.0.3"]
    assert ask("nope") is None and ask("db.other") is None


def test_names_files_follow_the_ipam(tmp_path):
    folder = str(tmp_path)
    alloc = ipam.Allocator(folder, "lab", "10.0.0.0/24")
    ip = alloc.allocate("c1")
    dns.register(folder, "lab", ip, "c1", ["web", "Alias", "bad name"])
    dns.register(folder, "lab", "10.0.0.9", "c2", ["ghost"])  # no address held: ignored
    assert dns.table(folder, ["lab"]) == [("lab", ip, ["web", "alias"])]
    dns.register(folder, "lab", ip, "c1", ["web2"])  # replaces its line
    assert dns.table(folder, ["lab"]) == [("lab", ip, ["web2"])]
    alloc.release("c1")
    assert dns.table(folder, ["lab"]) == []
    dns.unregister(folder, "lab", "c1")
    ipam.release_all(folder, "c2")
    assert open(dns.names_path(folder, "lab")).read() == ""


def test_upstreams_skip_loopback_and_ipv6():
    resolv = b"nameserver 127.0.0.53\nnameserver ::1\nnameserver 10.255.255.53\nsearch x\n"
    assert dns.upstreams(resolv) == ["10.255.255.53"]
    assert dns.upstreams(b"") == []


def test_embedded_resolv_conf():
    assert etcfiles.embedded_resolv_conf() == b"nameserver 127.0.0.11\noptions ndots:0\n"


# ---- subnets ------------------------------------------------------------------------------


def test_plan_picks_the_next_free_pool_avoiding_routes_and_networks():
    routes = [(ipam._ip("172.17.0.0"), 16), (ipam._ip("172.19.0.0"), 16)]
    assert plan_ipam("", "", "", routes, ["172.18.0.0/16"]) == (
        "172.20.0.0/16",
        "172.20.0.1",
        "",
    )
    assert plan_ipam("", "", "", [], ["172.18.0.0/24"])[0] == "172.17.0.0/16"


def test_plan_with_a_subnet_and_gateway():
    assert plan_ipam("10.77.0.0/24", "10.77.0.254", "", [], []) == (
        "10.77.0.0/24",
        "10.77.0.254",
        "",
    )
    assert plan_ipam("10.77.0.9/24", "", "", [], [])[:2] == ("10.77.0.0/24", "10.77.0.1")


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (("10.77.0.0/16", "", ""), Conflict, "Pool overlaps with other one on this address space"),
        (("", "10.1.1.1", ""), InvalidParameter, "every ip-range or gateway must have"),
        (("10.88.0.0/24", "10.99.0.1", ""), InvalidParameter, "no matching subnet for gateway"),
        (("bad", "", ""), InvalidParameter, "Invalid subnet bad : invalid CIDR address: bad"),
        (("10.0.0.0/40", "", ""), InvalidParameter, "invalid CIDR address"),
    ],
)
def test_plan_refusals(args, error, message):
    with pytest.raises(error, match=message):
        plan_ipam(*args, [], ["10.77.0.0/24"])


def test_in_subnet():
    assert in_subnet("10.77.0.50", "10.77.0.0/24")
    assert not in_subnet("10.99.0.50", "10.77.0.0/24")
    assert not in_subnet("nonsense", "10.77.0.0/24")


def test_reserve_refuses_an_address_in_use(tmp_path):
    alloc = ipam.Allocator(str(tmp_path), "lab", "10.0.0.0/24")
    assert alloc.reserve("c1", "10.0.0.50") == "10.0.0.50"
    with pytest.raises(Conflict, match="^Address already in use$"):
        alloc.reserve("c2", "10.0.0.50")
    assert alloc.reserve("c2", "10.0.0.50", alive=lambda cid: False) == "10.0.0.50"
    assert alloc.allocate("c3") == "10.0.0.2"


# ---- ls -----------------------------------------------------------------------------------


def doc(name, driver="bridge", labels=None, containers=None):
    return {
        "Name": name,
        "Id": name * 8,
        "Driver": driver,
        "Scope": "local",
        "Labels": labels or {},
        "Containers": containers or {},
        "Created": "2026-12-03T02:05:42.418574670Z",
    }


def test_filters():
    docs = [doc("bridge"), doc("host", "host"), doc("lab", labels={"a": "b"}), doc("none", "null")]

    def names(**f):
        return [d["Name"] for d in filter_networks(docs, {k: v for k, v in f.items()})]

    assert names(type=["custom"]) == ["lab"]
    assert names(type=["builtin"]) == ["bridge", "host", "none"]
    assert names(driver=["null"]) == ["none"]
    assert names(label=["a=b"]) == ["lab"] and names(label=["a=c"]) == []
    assert names(name=["^la"]) == ["lab"]
    assert names(id=["host"]) == ["host"]
    assert names(dangling=["true"]) == ["lab"]
    assert names(dangling=["false"]) == ["bridge", "host", "none"]
    with pytest.raises(InvalidParameter, match="^Invalid filter 'foo'$"):
        filter_networks(docs, {"foo": ["x"]})
    with pytest.raises(InvalidParameter, match="invalid filter: 'type'='x'"):
        filter_networks(docs, {"type": ["x"]})


def test_ls_row_fields():
    row = NetworkRow(doc("lab", labels={"a": "b"}))
    assert (row.ID, row.Name, row.Driver, row.Scope) == ("lablablablab", "lab", "bridge", "local")
    assert (row.IPv6, row.Internal, row.Labels, row.Label("a")) == ("false", "false", "a=b", "b")
    assert row.CreatedAt == "2026-12-03 02:05:42.41857467 +0000 UTC"
    assert NetworkRow(doc("x"), trunc=False).ID == "x" * 8
    assert go_time("2026-12-03T02:05:42Z") == "2026-12-03 02:05:42 +0000 UTC"


# ---- the isolation rules ------------------------------------------------------------------


def test_a_user_networks_table_isolates_it():
    net = {
        "Table": "dl_abc",
        "Bridge": "br-abc",
        "Subnet": "172.20.0.0/16",
        "User": True,
        "DefaultBridge": "dockerlab0",
    }
    script = bridge.nft_script(net)
    assert (
        'add rule ip dl_abc postrouting ip saddr 172.20.0.0/16 oifname != "br-abc" masquerade'
        in script
    )
    assert 'add rule ip dl_abc forward oifname "br-abc" iifname != "br-abc" drop' in script
    assert 'add rule ip dl_abc forward iifname "br-abc" oifname "dockerlab0" drop' in script
    internal = bridge.nft_script({**net, "Internal": True})
    assert "masquerade" not in internal
    assert 'forward iifname "br-abc" oifname != "br-abc" drop' in internal
    assert "forward" not in bridge.nft_script({**net, "User": False})
