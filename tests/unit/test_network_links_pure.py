"""The pure parts of links and name resolution files, against Docker 20.10's outputs
(network.md §1.3, §3) and libnetwork's algorithms: link variables, link syntax, hosts
records and their update, resolv.conf filtering and building, add-host/dns validation,
and the network mode conflicts."""

from __future__ import annotations

import pytest

from dockerlab.cli import parser
from dockerlab.engine.network import etcfiles, links, sandbox
from dockerlab.errors import InvalidParameter

IP = "172.17.0.3"


def test_link_env_of_the_course_example():
    env = links.link_env(
        "/net-linkc/aliasdb",
        IP,
        ["PATH=/usr/bin", "MYSQL_DATABASE=labdb", "DB_VERSION=1.0", "HOME=/root", "NOVALUE"],
        {"3306/tcp": {}, "33060/tcp": {}, "53/udp": {}},
    )
    assert sorted(env) == [
        "ALIASDB_ENV_DB_VERSION=1.0",
        "ALIASDB_ENV_MYSQL_DATABASE=labdb",
        "ALIASDB_NAME=/net-linkc/aliasdb",
        f"ALIASDB_PORT=udp://{IP}:53",  # 20.10: the lowest number wins, udp or not
        f"ALIASDB_PORT_33060_TCP=tcp://{IP}:33060",
        f"ALIASDB_PORT_33060_TCP_ADDR={IP}",
        "ALIASDB_PORT_33060_TCP_PORT=33060",
        "ALIASDB_PORT_33060_TCP_PROTO=tcp",
        f"ALIASDB_PORT_3306_TCP=tcp://{IP}:3306",
        f"ALIASDB_PORT_3306_TCP_ADDR={IP}",
        "ALIASDB_PORT_3306_TCP_PORT=3306",
        "ALIASDB_PORT_3306_TCP_PROTO=tcp",
        f"ALIASDB_PORT_53_UDP=udp://{IP}:53",
        f"ALIASDB_PORT_53_UDP_ADDR={IP}",
        "ALIASDB_PORT_53_UDP_PORT=53",
        "ALIASDB_PORT_53_UDP_PROTO=udp",
    ]
    assert env[0] == f"ALIASDB_PORT=udp://{IP}:53"  # ToEnv's order: _PORT, ports, _NAME, _ENV_
    assert env.index("ALIASDB_NAME=/net-linkc/aliasdb") == 13


def test_link_env_of_a_contiguous_range():
    ip = "172.17.0.7"
    ports = {"7000/tcp": {}, "7001/tcp": {}, "7002/tcp": {}, "7001/udp": {}, "9000/udp": {}}
    env = links.link_env("/p/rg", ip, None, ports)
    assert len(set(env)) == 26  # network.md: 26 distinct RG_* variables in PID 1's environ
    assert env[:7] == [
        f"RG_PORT=tcp://{ip}:7000",
        f"RG_PORT_7000_TCP_START=tcp://{ip}:7000",
        f"RG_PORT_7000_TCP_ADDR={ip}",
        "RG_PORT_7000_TCP_PROTO=tcp",
        "RG_PORT_7000_TCP_PORT_START=7000",
        f"RG_PORT_7000_TCP_END=tcp://{ip}:7002",
        "RG_PORT_7000_TCP_PORT_END=7002",
    ]
    assert f"RG_PORT_7001_UDP=udp://{ip}:7001" in env and env[-1] == "RG_NAME=/p/rg"


def test_link_env_without_ports_nor_env_and_the_prefix():
    assert links.link_env("/eloquent_pare/aliasdb0", IP, None, None) == [
        "ALIASDB0_NAME=/eloquent_pare/aliasdb0"
    ]
    assert links.link_env("/x/net-db", IP, [], {})[0] == "NET_DB_NAME=/x/net-db"
    assert links.env_prefix("a-b.c") == "A_B.C"  # only "-" is replaced


def test_parse_link():
    assert links.parse_link("db:aliasdb") == ("db", "aliasdb")
    assert links.parse_link("net-db") == ("net-db", "net-db")
    assert links.parse_link("db:") == ("db", "")
    assert links.parse_link("/net-db:/net-linkp/aliasdb") == ("net-db", "aliasdb")
    with pytest.raises(ValueError, match="^bad format for links: a:b:c$"):
        links.parse_link("a:b:c")
    with pytest.raises(ValueError, match="^empty string specified for links$"):
        links.parse_link("")


def test_link_hosts_names():
    assert links.host_names("aliasdb", "8592356513e9", "net-db") == "aliasdb 8592356513e9 net-db"
    assert links.host_names("net-db", "8592356513e9", "net-db") == "net-db 8592356513e9"


def test_hosts_records_and_own_line():
    assert etcfiles.own_line(IP, "92a6549330b7") == f"{IP}\t92a6549330b7\n".encode()
    assert etcfiles.own_line(IP, "myhost", "example.test") == (
        f"{IP}\tmyhost.example.test myhost\n".encode()
    )
    assert etcfiles.own_line(IP, "a.b.c") == f"{IP}\ta.b.c a\n".encode()
    extra = etcfiles.extra_hosts(["foo:1.2.3.4", "bar:::1", "gw:host-gateway"], "10.9.0.1")
    assert extra == [("foo", "1.2.3.4"), ("bar", "::1"), ("gw", "10.9.0.1")]
    assert etcfiles.hosts("172.17.0.5", "92a6549330b7", "", [("aliasdb x net-db", IP)]) == (
        etcfiles.HOSTS_HEAD + f"{IP}\taliasdb x net-db\n172.17.0.5\t92a6549330b7\n".encode()
    )


def test_update_hosts_rewrites_the_alias_records_in_place(tmp_path):
    path = tmp_path / "hosts"
    text = etcfiles.HOSTS_HEAD + (
        b"172.17.0.3\taliasdb 8592356513e9 net-db\n172.17.0.4\taliasdb2 x\n"
        b"172.17.0.5\t92a6549330b7\n"
    )
    path.write_bytes(text)
    inode = path.stat().st_ino
    etcfiles.update_hosts(str(path), "172.17.0.6", "aliasdb")
    assert path.read_bytes() == text.replace(b"172.17.0.3\taliasdb ", b"172.17.0.6\taliasdb ")
    assert path.stat().st_ino == inode  # bind-mounted into the parent: same file
    etcfiles.update_hosts(str(tmp_path / "gone"), "1.2.3.4", "x")  # no file: nothing


HOST = "# by hand\nsearch lab\nnameserver 127.0.0.53\nnameserver fd00::1\noptions ndots:1\n"


def test_resolv_conf_of_each_mode():
    assert etcfiles.container_resolv("nameserver 10.255.255.53\n", "bridge") == (
        b"nameserver 10.255.255.53\n"
    )
    assert etcfiles.container_resolv(HOST, "host") == HOST.encode()
    # none: filtered with IPv6 on (no endpoint joins to turn it off)
    assert etcfiles.container_resolv(HOST, "none") == (
        b"# by hand\nsearch lab\nnameserver fd00::1\noptions ndots:1\n"
    )
    # bridge: the IPv6 one goes when the endpoint joins; none left: Google's, appended as
    # libnetwork does ("\n" first, no newline last)
    assert etcfiles.container_resolv(HOST, "bridge") == (
        b"# by hand\nsearch lab\noptions ndots:1\n\nnameserver 8.8.8.8\nnameserver 8.8.4.4"
    )
    assert etcfiles.container_resolv("nameserver 127.0.0.1\n", "none") == (
        b"\nnameserver 8.8.8.8\nnameserver 8.8.4.4"
        b"\nnameserver 2001:4860:4860::8888\nnameserver 2001:4860:4860::8844"
    )


def test_resolv_conf_built_from_the_flags():
    assert etcfiles.container_resolv(HOST, "bridge", ["1.1.1.1"], ["example.com"], ["ndots:2"]) == (
        b"search example.com\nnameserver 1.1.1.1\noptions ndots:2\n"
    )
    # what the flags leave out comes from the host's file, unfiltered
    assert etcfiles.container_resolv(HOST, "bridge", [], ["x.test"], []) == (
        b"search x.test\nnameserver 127.0.0.53\nnameserver fd00::1\noptions ndots:1\n"
    )
    assert etcfiles.container_resolv(HOST, "host", ["1.1.1.1"]) == (
        b"search lab\nnameserver 1.1.1.1\noptions ndots:1\n"
    )
    assert etcfiles.build_resolv(["1.1.1.1"], ["."], [" "]) == "nameserver 1.1.1.1\n"
    assert etcfiles.nameservers("nameserver 1.2.3.4 # x\n#nameserver 5.6.7.8\n") == ["1.2.3.4"]


def test_add_host_validation_cli_and_daemon():
    assert sandbox.normalize_extra_host("foo=1.2.3.4") == "foo:1.2.3.4"
    assert sandbox.normalize_extra_host("bar:[::1]") == "bar:::1"
    assert sandbox.normalize_extra_host("x:host-gateway") == "x:host-gateway"
    assert sandbox.normalize_extra_host("foo:  1.2.3.4") == "foo:  1.2.3.4"  # kept as given
    for spec, message in (
        ("foo", 'bad format for add-host: "foo"'),
        (":1.2.3.4", 'bad format for add-host: ":1.2.3.4"'),
        ("foo:", 'invalid IP address in add-host: ""'),
        ("foo:bar", 'invalid IP address in add-host: "bar"'),
        ("foo:1.2.3.4:5", 'invalid IP address in add-host: "1.2.3.4:5"'),
    ):
        with pytest.raises(ValueError) as exc:
            sandbox.normalize_extra_host(spec)
        assert str(exc.value) == message
    assert sandbox.extra_host_problem("foo", daemon=True) == 'bad format for add-host: "foo"'
    assert sandbox.extra_host_problem("a:b", daemon=True) == 'invalid IP address in add-host: "b"'
    assert sandbox.extra_host_problem("a:::1", daemon=True) == ""


def test_dns_flags_parse_as_docker_cli():
    ns = parser.parse(
        ["run", "--dns", " 0:0::1", "--dns-search", "example.com.", "--dns-search", ".",
         "--dns-option", "ndots:2", "--add-host", "a=1.2.3.4", "--link", "db:x",
         "--domainname", "d.test", "--mac-address", "02:42:ac:11:00:99", "busybox"]
    )  # fmt: skip
    assert (ns.dns, ns.dns_search, ns.dns_option, ns.add_host, ns.link) == (
        ["::1"],
        ["example.com", "."],
        ["ndots:2"],
        ["a:1.2.3.4"],
        ["db:x"],
    )
    from dockerlab.cli.options import create_body

    _, body = create_body(ns)
    host = body["HostConfig"]
    assert (host["Links"], host["ExtraHosts"], host["Dns"], host["DnsSearch"]) == (
        ["db:x"],
        ["a:1.2.3.4"],
        ["::1"],
        ["example.com", "."],
    )
    assert (body["Domainname"], body["MacAddress"]) == ("d.test", "02:42:ac:11:00:99")


@pytest.mark.parametrize(
    "cfg, host, message",
    [
        ({}, {"NetworkMode": "container:"}, sandbox.BAD_CONTAINER_MODE),
        ({"Hostname": "h"}, {"NetworkMode": "container:x"}, "hostname and the network mode"),
        ({}, {"NetworkMode": "container:x", "Links": ["a"]}, "container type network can't"),
        ({}, {"NetworkMode": "container:x", "Dns": ["1.1.1.1"]}, "dns and the network mode"),
        (
            {},
            {"NetworkMode": "container:x", "ExtraHosts": ["a:1.2.3.4"]},
            "custom host-to-IP mapping and the network mode",
        ),
        ({"MacAddress": "m"}, {"NetworkMode": "container:x"}, "mac-address and the network"),
        ({"MacAddress": "m"}, {"NetworkMode": "host"}, "mac-address and the network mode"),
        (
            {},
            {"NetworkMode": "container:x", "PublishAllPorts": True},
            "port publishing and the container type network mode",
        ),
        (
            {"ExposedPorts": {"80/tcp": {}}},
            {"NetworkMode": "container:x"},
            "port exposing and the container type network mode",
        ),
        ({}, {"NetworkMode": "host", "Links": ["a"]}, "host type networking can't be used"),
        ({}, {"ExtraHosts": ["foo"]}, 'bad format for add-host: "foo"'),
    ],
)
def test_network_mode_conflicts(cfg, host, message):
    with pytest.raises(InvalidParameter) as exc:
        sandbox.check_mode(cfg, host)
    assert message in str(exc.value)


def test_network_modes_that_pass():
    sandbox.check_mode({"DnsSearch": ["x"]}, {"NetworkMode": "container:x", "DnsSearch": ["x"]})
    sandbox.check_mode({"Hostname": "h", "MacAddress": "m"}, {"NetworkMode": "default"})
    assert sandbox.joined("container:abc") == "abc" and sandbox.joined("host") == ""
