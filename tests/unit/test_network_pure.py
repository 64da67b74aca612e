"""The bridge network's pure parts: subnet choice, addresses, the IPAM file, the files a
container gets (against network.md's measured strings), and our nftables rules."""

from __future__ import annotations

import threading

from dockerlab.engine.network import bridge, etcfiles, ipam


def net(text: str) -> tuple[int, int]:
    addr, _, plen = text.partition("/")
    return ipam._ip(addr), int(plen)


def test_subnet_is_dockers_first_free_pool():
    assert ipam.pick_subnet([]) == "172.17.0.0/16"
    # Docker's docker0 and this host's eth0, as measured here
    assert ipam.pick_subnet([net("172.17.0.0/16"), net("192.0.2.0/24")]) == "172.18.0.0/16"
    # a route covering a pool (here a /12 over all of 172.16-31) moves on to 192.168/20s
    assert ipam.pick_subnet([net("172.16.0.0/12")]) == "192.168.0.0/20"
    assert ipam.pick_subnet([net("172.16.0.0/12"), net("192.168.0.0/24")]) == "192.168.16.0/20"
    assert ipam.pick_subnet([net("172.18.5.0/24")], taken=["172.17.0.0/16"]) == "172.19.0.0/16"


def test_host_routes_read_proc_net_route(tmp_path):
    table = tmp_path / "route"
    table.write_text(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
        "docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
        "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
        "dockerlab0\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
    )
    routes = ipam.host_routes(str(table), skip="dockerlab0")
    assert routes == [net("172.17.0.0/16"), net("192.0.2.0/24")]  # no default, not ours


def test_addresses_gateway_broadcast_mac():
    assert ipam.gateway_of("172.18.0.0/16") == "172.18.0.1"
    assert ipam.broadcast_of("172.18.0.0/16") == "172.18.255.255"
    assert ipam.broadcast_of("192.168.16.0/20") == "192.168.31.255"
    assert ipam.mac_for("172.17.0.2") == "02:42:ac:11:00:02"  # network.md §1.3
    assert ipam.lowest_free("172.18.0.0/16", []) == "172.18.0.2"
    assert ipam.lowest_free("172.18.0.0/16", ["172.18.0.2", "172.18.0.4"]) == "172.18.0.3"
    assert ipam.lowest_free("10.0.0.0/30", ["10.0.0.2"]) is None  # .3 is the broadcast


def test_allocator_lowest_free_reuse_release_and_leftovers(tmp_path):
    a = ipam.Allocator(str(tmp_path), "bridge", "172.18.0.0/16")
    assert [a.allocate(o) for o in ("c1", "c2", "c3")] == [
        "172.18.0.2",
        "172.18.0.3",
        "172.18.0.4",
    ]
    assert a.allocate("c2") == "172.18.0.3"  # its own again
    a.release("c1")
    assert a.allocate("c4") == "172.18.0.2"  # a freed address is reused, as Docker's
    a.release("c1")  # twice: nothing
    # a holder that no longer exists (a crash's leftover) is dropped
    assert a.allocate("c5", alive=lambda o: o != "c3") == "172.18.0.4"
    assert a.holders() == {"172.18.0.2": "c4", "172.18.0.3": "c2", "172.18.0.4": "c5"}
    assert (tmp_path / "bridge.ipam").stat().st_mode & 0o777 == 0o600


def test_allocator_under_concurrency_gives_distinct_addresses(tmp_path):
    got: list[str] = []

    def take(i: int) -> None:
        got.append(ipam.Allocator(str(tmp_path), "bridge", "172.18.0.0/16").allocate(f"c{i}"))

    threads = [threading.Thread(target=take, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 20


def test_hosts_file_as_docker_writes_it():
    head = (
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
        "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
    )
    assert (
        etcfiles.hosts("172.17.0.2", "3eec18189a07")
        == (head + "172.17.0.2\t3eec18189a07\n").encode()
    )
    assert etcfiles.hosts("172.17.0.8", "myhost", "example.test").endswith(
        b"\n172.17.0.8\tmyhost.example.test myhost\n"
    )


def test_resolv_conf_for_the_default_bridge():
    assert etcfiles.resolv_conf(b"nameserver 10.255.255.53\n") == b"nameserver 10.255.255.53\n"
    host = b"# made by hand\nsearch lab\nnameserver 127.0.0.53\nnameserver ::1\noptions ndots:1\n"
    assert etcfiles.resolv_conf(host) == (
        b"# made by hand\nsearch lab\noptions ndots:1\n"
        # none left: libnetwork appends "\n" + its defaults (IPv4 and IPv6 at sandbox
        # creation); the bridge's join drops the IPv6 pair with its newline
        b"\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
    )
    assert etcfiles.resolv_conf(b"nameserver 10.0.0.1\nnameserver fd00::1\n") == (
        b"nameserver 10.0.0.1\n"
    )


def test_nft_rules_are_our_own_table_only():
    script = bridge.nft_script(
        {"Table": "dockerlab", "Subnet": "172.18.0.0/16", "Bridge": "dockerlab0"}
    )
    assert script.splitlines() == [
        "add table ip dockerlab",
        "add chain ip dockerlab postrouting "
        "{ type nat hook postrouting priority srcnat; policy accept; }",
        "flush chain ip dockerlab postrouting",
        'add rule ip dockerlab postrouting ip saddr 172.18.0.0/16 oifname != "dockerlab0" '
        "masquerade",
    ]
    assert all(" ip dockerlab " in line + " " for line in script.splitlines())
