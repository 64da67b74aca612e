"""Published ports, the pure parts: ``-p``/``--expose`` parsed with Docker's client's words,
and the strings of ``ps`` (PORTS), ``port`` and inspect, checked against what Docker 20.10
with CLI 28.2.2 printed (shared/reference/network.md §2.2, §2.4, §2.6)."""

from __future__ import annotations

import pytest

from dockerlab.cli import parser
from dockerlab.cli.options import create_body
from dockerlab.engine.containers.create import compose
from dockerlab.engine.network import ports as engine_ports
from dockerlab.errors import InvalidParameter, UsageError
from dockerlab.format.ports import (
    PortSpecError,
    api_ports,
    displayable_ports,
    natural_sorted,
    parse_publish,
    port_lines,
)


def B(ip: str = "", port: str = "") -> dict[str, str]:
    return {"HostIp": ip, "HostPort": port}


@pytest.mark.parametrize(
    ("spec", "bindings"),
    [
        ("8080:80", {"80/tcp": [B("", "8080")]}),
        ("127.0.0.1:8081:80", {"80/tcp": [B("127.0.0.1", "8081")]}),
        ("127.0.0.1::80", {"80/tcp": [B("127.0.0.1")]}),
        ("80", {"80/tcp": [B()]}),
        ("80/", {"80/tcp": [B()]}),
        (":80", {"80/tcp": [B()]}),
        ("0:80", {"80/tcp": [B("", "0")]}),
        ("80:0", {"0/tcp": [B("", "80")]}),
        ("8082:5353/udp", {"5353/udp": [B("", "8082")]}),
        ("80/UDP", {"80/udp": [B()]}),
        ("[::1]:8080:80", {"80/tcp": [B("::1", "8080")]}),
        ("::1:8080:80", {"80/tcp": [B("::1", "8080")]}),
        ("[::1]::80", {"80/tcp": [B("::1")]}),
        ("8080-8081:80", {"80/tcp": [B("", "8080-8081")]}),
        ("9000-9001:80-81", {"80/tcp": [B("", "9000")], "81/tcp": [B("", "9001")]}),
        ("target=80,published=8080", {"80/tcp": [B("", "8080")]}),
        ("target=80,protocol=udp", {"80/udp": [B()]}),
    ],
)
def test_publish_forms_as_docker_records_them(spec, bindings):
    exposed, got = parse_publish([spec], [])
    assert got == bindings
    assert exposed == dict.fromkeys(bindings, {})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("70000:80", "invalid hostPort: 70000"),
        ("-1:80", "invalid hostPort: -1"),
        ("abc:80", "invalid hostPort: abc"),
        ("1-0:80", "invalid hostPort: 1-0"),
        ("127.0.0.1:8080", "invalid hostPort: 127.0.0.1"),
        ("1.2.3:80:80", "invalid IP address: 1.2.3"),
        ("1.2.3.4:80:80:80", "invalid IP address: 1.2.3.4:80"),
        ("a:b:c", "invalid IP address: a"),
        (
            "9100-9102:80-81",
            "invalid ranges specified for container and host Ports: 80-81 and 9100-9102",
        ),
        ("8080:80-81", "invalid ranges specified for container and host Ports: 80-81 and 8080"),
        ("8080:70000", "invalid containerPort: 70000"),
        ("65536", "invalid containerPort: 65536"),
        ("80-79", "invalid containerPort: 80-79"),
        (" 80", "invalid containerPort:  80"),
        ("8080:", "no port specified: 8080:<empty>"),
        ("", "no port specified: <empty>"),
        ("80/foo", "invalid proto: foo"),
        ("published=8080", "no port specified: 8080:/tcp<empty>"),
        ("target=80,x", "invalid publish opts format (should be name=value but got 'x')"),
    ],
)
def test_publish_errors_in_docker_s_words(spec, message):
    with pytest.raises(PortSpecError) as err:
        parse_publish([spec], [])
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", 'abc, error: strconv.ParseUint: parsing "abc": invalid syntax'),
        ("70000", '70000, error: strconv.ParseUint: parsing "70000": value out of range'),
        ("80-70", "80-70, error: invalid range specified for port: 80-70"),
        ("80-", '80-, error: strconv.ParseUint: parsing "": invalid syntax'),
        ("", ", error: empty string specified for ports"),
    ],
)
def test_expose_errors(value, message):
    with pytest.raises(PortSpecError) as err:
        parse_publish([], [value])
    assert str(err.value) == f"invalid range format for --expose: {message}"
    with pytest.raises(PortSpecError, match="invalid port format for --expose: 1:2"):
        parse_publish([], ["1:2"])


def test_expose_ranges_and_publish_merge_sorted_as_go_maps():
    exposed, bindings = parse_publish(["8080:80", "8081:80", "9:9/udp"], ["7000-7002", "53/udp"])
    assert list(exposed) == ["53/udp", "7000/tcp", "7001/tcp", "7002/tcp", "80/tcp", "9/udp"]
    assert bindings == {"80/tcp": [B("", "8080"), B("", "8081")], "9/udp": [B("", "9")]}


def test_cli_body_and_exit_125_for_a_bad_publish():
    ns = parser.parse(["run", "-p", "8080:80", "-P", "--expose", "81", "busybox"])
    _, body = create_body(ns, environ={})
    assert body["ExposedPorts"] == {"80/tcp": {}, "81/tcp": {}}
    assert body["HostConfig"]["PortBindings"] == {"80/tcp": [B("", "8080")]}
    assert body["HostConfig"]["PublishAllPorts"] is True
    _, plain = create_body(parser.parse(["run", "busybox"]), environ={})
    assert "ExposedPorts" not in plain and "PortBindings" not in plain["HostConfig"]
    with pytest.raises(UsageError) as err:
        create_body(parser.parse(["create", "-p", "70000:80", "busybox"]), environ={})
    assert str(err.value) == (
        "dockerlab: invalid hostPort: 70000\n\nRun 'dockerlab create --help' for more information"
    )
    assert err.value.exit_code == 125


def test_port_verb_and_no_longer_not_yet():
    ns = parser.parse(["port", "web", "80/tcp"])
    assert (ns.verb, ns.container, ns.private_port) == ("port", "web", "80/tcp")
    assert parser.parse(["container", "port", "web"]).private_port is None
    assert "port" not in parser.NOT_YET and "container port" not in parser.NOT_YET


# ---- the daemon's side at create ----------------------------------------------------------
IMAGE = {"config": {"Cmd": ["sh"], "ExposedPorts": {"8443/tcp": {}, "5353/udp": {}}}}


def test_exposed_ports_merge_the_image_s_and_the_request_s():
    body = {"Image": "i", "ExposedPorts": {"80/tcp": {}}, "HostConfig": {}}
    rec = compose(body, "sha256:x", IMAGE, "c" * 64)
    assert rec["Config"]["ExposedPorts"] == {"5353/udp": {}, "80/tcp": {}, "8443/tcp": {}}
    rec = compose({"Image": "i", "HostConfig": {}}, "sha256:x", IMAGE, "c" * 64)
    assert rec["Config"]["ExposedPorts"] == IMAGE["config"]["ExposedPorts"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"HostConfig": {"NetworkMode": "container:x", "PortBindings": {"80/tcp": [B()]}}},
            "conflicting options: port publishing and the container type network mode",
        ),
        (
            {"HostConfig": {"NetworkMode": "container:x", "PublishAllPorts": True}},
            "conflicting options: port publishing and the container type network mode",
        ),
        (
            {"ExposedPorts": {"80/tcp": {}}, "HostConfig": {"NetworkMode": "container:x"}},
            "conflicting options: port exposing and the container type network mode",
        ),
        (
            {"HostConfig": {"PortBindings": {"x/tcp": [B()]}}},
            'invalid port specification: "x"',
        ),
        (
            {"HostConfig": {"PortBindings": {"80-81/tcp": [B()]}}},
            'invalid port specification: "80-81"',
        ),
        (
            {"HostConfig": {"PortBindings": {"80/tcp": [B("", "99999")]}}},
            'invalid port specification: "99999"',
        ),
    ],
)
def test_the_daemon_s_port_checks(body, message):
    with pytest.raises(InvalidParameter) as err:
        compose({"Image": "i", **body}, "sha256:x", IMAGE, "c" * 64)
    assert str(err.value) == message


def test_host_mode_warns_that_published_ports_are_discarded():
    host = {"NetworkMode": "host", "PortBindings": {"80/tcp": [B()]}}
    assert engine_ports.warnings(host) == [
        "Published ports are discarded when using host network mode"
    ]
    assert engine_ports.warnings({"NetworkMode": "default", "PortBindings": host}) == []


def test_what_a_start_publishes():
    cfg = {
        "Config": {"ExposedPorts": {"80/tcp": {}, "5353/udp": {}, "8443/tcp": {}}},
        "HostConfig": {
            "PortBindings": {
                "8443/tcp": [B("127.0.0.1", "8083")],
                "80/tcp": [B("", "9000-9005")],
            },
            "PublishAllPorts": True,
        },
    }
    assert engine_ports.wanted(cfg) == [
        ("80/tcp", "", 9000, 9005),
        ("5353/udp", "", 0, 0),
        ("8443/tcp", "127.0.0.1", 8083, 8083),
    ]


# ---- output -------------------------------------------------------------------------------
NET_WEB = {  # net-web of network.md §2.6, published 8080:80
    "5353/udp": None,
    "80/tcp": [B("0.0.0.0", "8080"), B("::", "8080")],
    "8443/tcp": None,
}


def test_api_ports_list_as_the_daemon_sends_it():
    assert api_ports(NET_WEB) == [
        {"PrivatePort": 5353, "Type": "udp"},
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"PrivatePort": 8443, "Type": "tcp"},
    ]


@pytest.mark.parametrize(
    ("ports", "shown"),
    [
        (NET_WEB, "5353/udp, 8443/tcp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"),
        (
            {"5353/udp": None, "80/tcp": [B("127.0.0.1", "8081")], "8443/tcp": None},
            "5353/udp, 8443/tcp, 127.0.0.1:8081->80/tcp",
        ),
        (
            {
                "5353/udp": [B("0.0.0.0", "8082"), B("::", "8082")],
                "80/tcp": [B("0.0.0.0", "9000"), B("::", "9000")],
                "81/tcp": [B("0.0.0.0", "9001"), B("::", "9001")],
                "8443/tcp": None,
            },
            "8443/tcp, 0.0.0.0:9000->80/tcp, [::]:9000->80/tcp, 0.0.0.0:9001->81/tcp, "
            "[::]:9001->81/tcp, 0.0.0.0:8082->5353/udp, [::]:8082->5353/udp",
        ),
        (  # measured with CLI 28.2.2: groups where public == private, in creation order
            {
                "9/tcp": [B("0.0.0.0", "9"), B("::", "9")],
                "10/tcp": [B("0.0.0.0", "10"), B("::", "10")],
                "20/tcp": [B("127.0.0.1", "20")],
                "100/tcp": [B("0.0.0.0", "100"), B("::", "100")],
                "100/udp": [B("0.0.0.0", "100"), B("::", "100")],
            },
            "0.0.0.0:9-10->9-10/tcp, [::]:9-10->9-10/tcp, 0.0.0.0:100->100/tcp, "
            "[::]:100->100/tcp, 127.0.0.1:20->20/tcp, 0.0.0.0:100->100/udp, [::]:100->100/udp",
        ),
        ({"7000/tcp": None, "7001/tcp": None, "7002/tcp": None}, "7000-7002/tcp"),
        ({"80/tcp": [B("::1", "8080")]}, "[::1]:8080->80/tcp"),
        ({}, ""),
    ],
)
def test_ps_ports_column(ports, shown):
    assert displayable_ports(api_ports(ports)) == shown


def test_port_lines_as_cli_28_prints_them():
    minus_p = {
        "5353/udp": [B("0.0.0.0", "32768"), B("::", "32768")],
        "80/tcp": [B("0.0.0.0", "32771"), B("::", "32770")],
        "8443/tcp": [B("0.0.0.0", "32770"), B("::", "32769")],
    }
    assert port_lines(minus_p, "net-p") == [
        "80/tcp -> 0.0.0.0:32771",
        "80/tcp -> [::]:32770",
        "5353/udp -> 0.0.0.0:32768",
        "5353/udp -> [::]:32768",
        "8443/tcp -> 0.0.0.0:32770",
        "8443/tcp -> [::]:32769",
    ]
    assert port_lines(NET_WEB, "net-web", "80") == ["0.0.0.0:8080", "[::]:8080"]
    assert port_lines(NET_WEB, "net-web", "80/tcp") == ["0.0.0.0:8080", "[::]:8080"]
    assert port_lines({}, "stopped") == []


@pytest.mark.parametrize(
    ("wanted", "message"),
    [
        ("8443", "Error: No public port '8443' published for net-p2"),
        ("9999/udp", "Error: No public port '9999/udp' published for net-p2"),
        ("80/abc", "Error: No public port '80/abc' published for net-p2"),
        ("abc", 'Error: invalid port (abc): strconv.ParseUint: parsing "abc": invalid syntax'),
        (
            "99999",
            'Error: invalid port (99999): strconv.ParseUint: parsing "99999": value out of range',
        ),
    ],
)
def test_port_errors(wanted, message):
    with pytest.raises(PortSpecError) as err:
        port_lines(NET_WEB, "net-p2", wanted)
    assert str(err.value) == message


def test_natural_sort():
    lines = ["100/tcp -> x", "9/tcp -> [::]:9", "9/tcp -> 0.0.0.0:9", "20/tcp -> a", "010/tcp"]
    assert natural_sorted(lines) == [
        "9/tcp -> 0.0.0.0:9",
        "9/tcp -> [::]:9",
        "010/tcp",
        "20/tcp -> a",
        "100/tcp -> x",
    ]
