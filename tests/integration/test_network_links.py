"""Legacy links, name resolution files and the other network modes, for real: `--link`'s
hosts record and ALIAS_* variables read back from inside, the parent's record rewritten when
the child comes back with another address, ping by alias; --add-host, --dns*, -h and
--domainname files byte for byte (network.md §1.3, §3); `--network container:` sharing
another's eth0; the sandbox key; NET I/O; Docker's errors."""

from __future__ import annotations

import os

import pytest
from helpers import cli, daemon, wait_until

from dockerlab.engine.network import etcfiles, record
from dockerlab.errors import InvalidParameter, NotFound

pytestmark = pytest.mark.integration

HEAD = etcfiles.HOSTS_HEAD.decode()


def run(engine, script, name=None, **body):
    _, att = engine.run({"Image": "busybox", "Cmd": ["sh", "-c", script], **body}, name=name)
    code, out, err = att.collect()
    return code, out.decode(), err.decode()


def ip_of(engine, ref):
    return engine.inspect(ref)["NetworkSettings"]["IPAddress"]


def short(engine, ref):
    return engine.inspect(ref)["Id"][:12]


def test_link_hosts_record_and_env_from_inside(engine, tmp_path):
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\nEXPOSE 3306 33060/tcp 53/udp\nENV MYSQL_DATABASE=labdb DB_VERSION=1.0\n"
    )
    r = cli(str(engine.paths.root), "build", "-q", "-t", "net-img-db", str(tmp_path))
    assert r.returncode == 0, r.stderr
    daemon(engine, ["sleep", "60"], name="net-db", Image="net-img-db")
    db = ip_of(engine, "net-db")
    code, out, err = run(
        engine,
        "cat /etc/hosts; echo ==; env | sort",
        name="net-linkc",
        HostConfig={"Links": ["net-db:aliasdb"]},
        Env=["ALIASDB_ENV_DB_VERSION=mine"],
    )
    assert code == 0, err
    hosts, env = out.split("==\n")
    me = hosts.splitlines()[-1].split("\t")
    assert (
        hosts == HEAD + f"{db}\taliasdb {short(engine, 'net-db')} net-db\n" + "\t".join(me) + "\n"
    )
    assert [line for line in env.splitlines() if line.startswith("ALIASDB")] == [
        "ALIASDB_ENV_DB_VERSION=mine",  # -e wins over the link's
        "ALIASDB_ENV_MYSQL_DATABASE=labdb",
        "ALIASDB_NAME=/net-linkc/aliasdb",
        f"ALIASDB_PORT=udp://{db}:53",  # 20.10: the lowest number first
        f"ALIASDB_PORT_33060_TCP=tcp://{db}:33060",
        f"ALIASDB_PORT_33060_TCP_ADDR={db}",
        "ALIASDB_PORT_33060_TCP_PORT=33060",
        "ALIASDB_PORT_33060_TCP_PROTO=tcp",
        f"ALIASDB_PORT_3306_TCP=tcp://{db}:3306",
        f"ALIASDB_PORT_3306_TCP_ADDR={db}",
        "ALIASDB_PORT_3306_TCP_PORT=3306",
        "ALIASDB_PORT_3306_TCP_PROTO=tcp",
        f"ALIASDB_PORT_53_UDP=udp://{db}:53",
        f"ALIASDB_PORT_53_UDP_ADDR={db}",
        "ALIASDB_PORT_53_UDP_PORT=53",
        "ALIASDB_PORT_53_UDP_PROTO=udp",
    ]
    c = engine.inspect("net-linkc")
    assert c["HostConfig"]["Links"] == ["/net-db:/net-linkc/aliasdb"]
    assert c["Config"]["Env"] == [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ALIASDB_ENV_DB_VERSION=mine",
    ]
    assert engine.inspect("net-db")["HostConfig"]["Links"] is None


def test_link_without_alias_ping_and_rename(engine):
    daemon(engine, ["sleep", "60"], name="net-web")
    web = ip_of(engine, "net-web")
    code, out, err = run(
        engine,
        "grep net-web /etc/hosts; env | grep ^NET_WEB; ping -c1 -W5 net-web >/dev/null && echo ok",
        name="p1",
        HostConfig={"Links": ["net-web"]},
    )
    assert code == 0, err
    assert out.splitlines() == [
        f"{web}\tnet-web {short(engine, 'net-web')}",  # the name only once
        "NET_WEB_NAME=/p1/net-web",
        "ok",
    ]
    r = cli(str(engine.paths.root), "rename", "net-web", "web2")
    assert r.returncode == 0, r.stderr
    assert engine.inspect("p1")["HostConfig"]["Links"] == ["/web2:/p1/net-web"]


def test_child_back_with_another_address_rewrites_the_parents_hosts(engine):
    root = str(engine.paths.root)
    daemon(engine, ["sleep", "60"], name="db")
    old = ip_of(engine, "db")
    daemon(engine, ["sleep", "60"], name="app", HostConfig={"Links": ["db:aliasdb"]})
    hosts = engine.inspect("app")["HostsPath"]
    assert f"{old}\taliasdb " in open(hosts).read()
    assert cli(root, "stop", "-t", "0", "db").returncode == 0
    daemon(engine, ["sleep", "60"], name="squatter")  # takes db's address
    assert ip_of(engine, "squatter") == old
    assert cli(root, "start", "db").returncode == 0
    new = ip_of(engine, "db")
    assert new != old
    assert f"{new}\taliasdb {short(engine, 'db')} db\n" in open(hosts).read()
    r = cli(root, "exec", "app", "sh", "-c", "ping -c1 -W5 aliasdb >/dev/null && echo ok")
    assert r.stdout.decode() == "ok\n", r.stderr
    # PID 1 keeps the variables of its start; exec computes them again
    r = cli(
        root,
        "exec",
        "app",
        "sh",
        "-c",
        "echo $ALIASDB_NAME; cat /proc/1/environ | tr '\\0' '\\n' | grep -c ALIASDB",
    )
    assert r.stdout.decode() == "/app/aliasdb\n1\n", r.stderr
    # a stopped child, then a removed one: exec and start are refused with Docker's words
    assert cli(root, "stop", "-t", "0", "db").returncode == 0
    for removed in (False, True):
        if removed:
            assert cli(root, "rm", "db").returncode == 0
        r = cli(root, "exec", "app", "true")
        assert (r.returncode, r.stderr.decode()) == (
            1,
            "Error response from daemon: Cannot link to a non running container: /db AS "
            "/app/aliasdb\n",
        )
    assert engine.inspect("app")["HostConfig"]["Links"] == ["/db:/app/aliasdb"]
    r = cli(root, "restart", "-t", "0", "app")
    assert r.returncode == 1
    assert "Cannot link to a non running container: /db AS /app/aliasdb" in r.stderr.decode()


def test_a_child_restarted_by_its_policy_updates_its_parents(engine):
    root = str(engine.paths.root)
    script = "while [ ! -f /go ]; do sleep 0.05; done; rm /go; exit 3"
    daemon(
        engine, ["sh", "-c", script], name="flaky",
        HostConfig={"RestartPolicy": {"Name": "always"}},
    )  # fmt: skip
    daemon(engine, ["sleep", "60"], name="app", HostConfig={"Links": ["flaky:f"]})
    hosts = engine.inspect("app")["HostsPath"]
    with open(hosts, "r+") as f:  # a stale record, as after a move to another address
        text = f.read().replace(f"{ip_of(engine, 'flaky')}\tf ", "10.0.0.99\tf ")
        f.seek(0)
        f.write(text)
        f.truncate()
    assert "10.0.0.99\tf " in open(hosts).read()
    assert cli(root, "exec", "flaky", "touch", "/go").returncode == 0
    assert wait_until(
        lambda: (
            engine.inspect("flaky")["RestartCount"] == 1
            and engine.inspect("flaky")["State"]["Status"] == "running"
            and ip_of(engine, "flaky") != ""
        ),
        timeout=30,
    )
    assert wait_until(lambda: f"{ip_of(engine, 'flaky')}\tf " in open(hosts).read(), timeout=10)


def test_a_parent_restarted_by_its_policy_finds_its_child_where_it_is_now(engine):
    root = str(engine.paths.root)
    daemon(engine, ["sleep", "60"], name="db")
    old = ip_of(engine, "db")
    script = "while [ ! -f /go ]; do sleep 0.05; done; rm /go; exit 3"
    daemon(
        engine, ["sh", "-c", script], name="app",
        HostConfig={"Links": ["db:aliasdb"], "RestartPolicy": {"Name": "always"}},
    )  # fmt: skip
    assert cli(root, "stop", "-t", "0", "db").returncode == 0
    daemon(engine, ["sleep", "60"], name="squatter")
    assert cli(root, "start", "db").returncode == 0
    new = ip_of(engine, "db")
    assert new != old
    assert cli(root, "exec", "app", "touch", "/go").returncode == 0
    assert wait_until(
        lambda: (
            engine.inspect("app")["RestartCount"] == 1
            and engine.inspect("app")["State"]["Status"] == "running"
        ),
        timeout=30,
    )
    r = cli(root, "exec", "app", "grep", "aliasdb", "/etc/hosts")
    assert r.stdout.decode() == f"{new}\taliasdb {short(engine, 'db')} db\n", r.stderr


def test_link_errors(engine):
    root = str(engine.paths.root)
    r = cli(root, "run", "--rm", "--link", "nosuch:x", "busybox", "true")
    assert r.returncode == 125
    assert r.stderr.decode().startswith(
        "dockerlab: Error response from daemon: could not get container for nosuch: "
        "No such container: nosuch"
    )
    assert cli(root, "create", "--name", "stopped", "busybox", "true").returncode == 0
    r = cli(root, "run", "--name", "par", "--link", "stopped:x", "busybox", "true")
    assert r.returncode == 125
    assert (
        "Error response from daemon: Cannot link to a non running container: /stopped AS /par/x"
        in r.stderr.decode()
    )
    for flags in (["--link", "a:b:c"], ["--link", ""]):
        r = cli(root, "run", "--rm", *flags, "busybox", "true")
        assert r.returncode == 125
    assert (
        b'"a:b:c" for "--link" flag: bad format for links: a:b:c'
        in cli(root, "run", "--link", "a:b:c", "busybox", "true").stderr
    )
    daemon(engine, ["sleep", "60"], name="alive")
    r = cli(root, "run", "--rm", "--network", "host", "--link", "alive:x", "busybox", "true")
    assert r.returncode == 125
    assert (
        "conflicting options: host type networking can't be used with links. This would "
        "result in undefined behavior" in r.stderr.decode()
    )
    # an empty alias: Docker's name reservation fails quietly, the link is not made
    code, out, _ = run(
        engine, "grep -c alive /etc/hosts", name="empty", HostConfig={"Links": ["alive:"]}
    )
    assert out == "0\n"
    assert engine.inspect("empty")["HostConfig"]["Links"] is None
    daemon(engine, ["sleep", "60"], name="lonely", HostConfig={"NetworkMode": "none"})
    r = cli(root, "run", "--rm", "--link", "lonely:x", "busybox", "true")
    assert r.returncode == 125
    assert "Cannot link to /lonely, as it does not belong to the default network" in (
        r.stderr.decode()
    )
    # on --network none the link is kept and ignored, as Docker's
    code, out, _ = run(
        engine,
        "cat /etc/hosts; env | grep -c _NAME=",
        HostConfig={"NetworkMode": "none", "Links": ["stopped:x"]},
    )
    assert out == HEAD + "0\n"
    with pytest.raises(NotFound):
        engine.create({"Image": "busybox", "HostConfig": {"Links": ["nosuch"]}})
    with pytest.raises(InvalidParameter, match="bad format for links: a:b:c"):
        engine.create({"Image": "busybox", "HostConfig": {"Links": ["a:b:c"]}})


def test_add_host_dns_hostname_domainname_files(engine):
    gw = record.default_bridge(engine.paths)["Gateway"]
    code, out, err = run(
        engine,
        "cat /etc/hosts; echo ==; cat /etc/resolv.conf; echo ==; cat /etc/hostname; "
        "hostname; cat /proc/sys/kernel/domainname",
        Hostname="myhost",
        Domainname="example.test",
        HostConfig={
            "ExtraHosts": ["foo:1.2.3.4", "bar:::1", "gw:host-gateway"],
            "Dns": ["1.1.1.1", "8.8.8.8"],
            "DnsSearch": ["example.com", "b.test"],
            "DnsOptions": ["ndots:2", "rotate"],
        },
    )
    assert code == 0, err
    hosts, resolv, names = out.split("==\n")
    ip = hosts.splitlines()[-1].split("\t")[0]
    assert hosts == HEAD + (f"1.2.3.4\tfoo\n::1\tbar\n{gw}\tgw\n{ip}\tmyhost.example.test myhost\n")
    assert resolv == (
        "search example.com b.test\nnameserver 1.1.1.1\nnameserver 8.8.8.8\n"
        "options ndots:2 rotate\n"
    )
    assert names == "myhost\nmyhost\nexample.test\n"
    code, out, _ = run(engine, "tail -1 /etc/hosts; cat /etc/hostname", Hostname="a.b.c")
    assert out.endswith("\ta.b.c a\na.b.c\n")
    # only --dns-search: the host's nameservers and options stay
    with open("/etc/resolv.conf") as f:
        host = f.read()
    code, out, _ = run(engine, "cat /etc/resolv.conf", HostConfig={"DnsSearch": ["x.test"]})
    assert out == etcfiles.container_resolv(host, "bridge", [], ["x.test"], []).decode()
    assert out.startswith("search x.test\n")
    c = engine.inspect(
        engine.create(
            {
                "Image": "busybox",
                "HostConfig": {
                    "ExtraHosts": ["a:1.2.3.4"],
                    "Dns": ["1.1.1.1"],
                    "DnsSearch": ["x.test"],
                    "DnsOptions": ["ndots:1"],
                },
            }
        )["Id"]
    )["HostConfig"]
    assert (c["ExtraHosts"], c["Dns"], c["DnsSearch"], c["DnsOptions"]) == (
        ["a:1.2.3.4"],
        ["1.1.1.1"],
        ["x.test"],
        ["ndots:1"],
    )


def test_add_host_and_dns_flags_and_their_errors(engine):
    root = str(engine.paths.root)
    r = cli(
        root,
        "run",
        "--rm",
        "--add-host",
        "foo=1.2.3.4",
        "--add-host",
        "b:[::1]",
        "--dns-search",
        ".",
        "--dns",
        "1.1.1.1",
        "-h",
        "hh",
        "busybox",
        "sh",
        "-c",
        "sed -n 7,8p /etc/hosts; cat /etc/resolv.conf",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == "1.2.3.4\tfoo\n::1\tb\nnameserver 1.1.1.1\n"
    for flag, value, message in (
        ("--add-host", "foo", 'bad format for add-host: "foo"'),
        ("--add-host", "foo:bar", 'invalid IP address in add-host: "bar"'),
        ("--dns", "foo", "IP address is not correctly formatted: foo"),
        ("--dns-search", "a..b", "a..b is not a valid domain"),
    ):
        r = cli(root, "run", "--rm", flag, value, "busybox", "true")
        assert r.returncode == 125
        assert f'invalid argument "{value}" for "{flag}" flag: {message}' in r.stderr.decode()
    with pytest.raises(InvalidParameter, match='bad format for add-host: "foo"'):
        engine.create({"Image": "busybox", "HostConfig": {"ExtraHosts": ["foo"]}})


def test_host_and_none_files(engine):
    code, out, _ = run(engine, "cat /etc/resolv.conf", HostConfig={"NetworkMode": "none"})
    with open("/etc/resolv.conf") as f:
        assert out == etcfiles.container_resolv(f.read(), "none").decode()
    code, out, _ = run(
        engine,
        "cat /etc/hosts; hostname",
        Hostname="xx",
        HostConfig={"NetworkMode": "host", "ExtraHosts": ["a:1.2.3.4"]},
    )
    assert out == HEAD + "1.2.3.4\ta\nxx\n"  # Docker builds it when hosts are added
    code, out, _ = run(engine, "cat /etc/hosts", HostConfig={"NetworkMode": "host"})
    with open("/etc/hosts") as f:
        assert out == f.read()


def test_container_network_mode(engine):
    root = str(engine.paths.root)
    web = daemon(
        engine,
        ["sh", "-c", "echo hi > /tmp/i; httpd -p 8080 -h /tmp; sleep 60"],
        name="web",
        Hostname="webhost",
    )
    w = engine.inspect(web)
    r = cli(
        root,
        "run",
        "--rm",
        "--network",
        "container:web",
        "busybox",
        "sh",
        "-c",
        "ip -o -4 addr show eth0; hostname; cat /etc/hosts; "
        "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- 127.0.0.1:8080/i && break; sleep 0.2; done",
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert f"inet {w['NetworkSettings']['IPAddress']}/" in out.splitlines()[0]
    assert out.splitlines()[1] == "webhost"
    assert out.endswith(open(w["HostsPath"]).read() + "hi\n")
    cid = engine.create(
        {"Image": "busybox", "Cmd": ["sleep", "60"], "HostConfig": {"NetworkMode": "container:web"}}
    )["Id"]
    c = engine.inspect(cid)
    assert c["HostConfig"]["NetworkMode"] == f"container:{web}"
    assert (c["HostsPath"], c["Config"]["Hostname"]) == ("", cid[:12])
    engine.start(cid)
    c = engine.inspect(cid)
    assert (c["HostsPath"], c["ResolvConfPath"], c["Config"]["Hostname"]) == (
        w["HostsPath"],
        w["ResolvConfPath"],
        "webhost",
    )
    assert c["NetworkSettings"]["Networks"] == {}
    assert c["NetworkSettings"]["SandboxKey"] == ""
    # errors
    r = cli(root, "run", "--rm", "--network", "container:nosuch", "busybox", "true")
    assert r.returncode == 125 and "No such container: nosuch" in r.stderr.decode()
    assert cli(root, "create", "--name", "off", "busybox", "true").returncode == 0
    off = engine.inspect("off")["Id"]
    r = cli(root, "run", "--rm", "--network", "container:off", "busybox", "true")
    assert r.returncode == 125
    assert f"cannot join network of a non running container: {off}" in r.stderr.decode()
    for flags, what in (
        (["-h", "x"], "hostname and the network mode"),
        (["--dns", "1.1.1.1"], "dns and the network mode"),
        (["--add-host", "a:1.2.3.4"], "custom host-to-IP mapping and the network mode"),
        (["--mac-address", "02:42:ac:11:00:99"], "mac-address and the network mode"),
        (
            ["--link", "web:w"],
            "container type network can't be used with links. This would "
            "result in undefined behavior",
        ),
    ):
        r = cli(root, "run", "--rm", "--network", "container:web", *flags, "busybox", "true")
        assert r.returncode == 125
        assert f"Error response from daemon: conflicting options: {what}" in r.stderr.decode()
    with pytest.raises(InvalidParameter, match="invalid container format container:<name|id>"):
        engine.create({"Image": "busybox", "HostConfig": {"NetworkMode": "container:"}})
    with pytest.raises(InvalidParameter, match="port exposing and the container type"):
        engine.create(
            {
                "Image": "busybox",
                "ExposedPorts": {"80/tcp": {}},
                "HostConfig": {"NetworkMode": "container:web"},
            }
        )


def test_mac_address(engine):
    code, out, _ = run(engine, "cat /sys/class/net/eth0/address", MacAddress="02:42:ac:11:00:99")
    assert out == "02:42:ac:11:00:99\n"
    r = cli(str(engine.paths.root), "run", "--rm", "--mac-address", "zz", "busybox", "true")
    assert r.returncode == 125 and "zz is not a valid mac address" in r.stderr.decode()
    with pytest.raises(InvalidParameter, match="mac-address and the network mode"):
        engine.create(
            {
                "Image": "busybox",
                "MacAddress": "02:42:ac:11:00:99",
                "HostConfig": {"NetworkMode": "host"},
            }
        )


def _is_nsfs(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path and " nsfs " in line for line in f)


def test_sandbox_key_while_running_and_gone_after_stop(engine):
    cid = daemon(engine, ["sleep", "60"])
    s = engine.inspect(cid)["NetworkSettings"]
    key = s["SandboxKey"]
    assert len(s["SandboxID"]) == 64 and key == os.path.join(
        engine.paths.run, "netns", s["SandboxID"][:12]
    )
    assert _is_nsfs(key)
    assert (
        os.stat(key).st_ino == os.stat(f"/proc/{engine.inspect(cid)['State']['Pid']}/ns/net").st_ino
    )
    engine.stop(cid, timeout=0)
    assert not os.path.exists(key) and not _is_nsfs(key)
    assert engine.inspect(cid)["NetworkSettings"]["SandboxKey"] == key  # Docker keeps it
    none = daemon(engine, ["sleep", "60"], HostConfig={"NetworkMode": "none"})
    key = engine.inspect(none)["NetworkSettings"]["SandboxKey"]
    assert _is_nsfs(key)
    engine.remove(none, force=True)
    assert not os.path.exists(key) and not _is_nsfs(key)


def test_stats_net_io_grows_with_traffic(engine):
    root = str(engine.paths.root)
    a = daemon(engine, ["sleep", "60"])

    def net_io(ref):
        r = cli(root, "stats", "--no-stream", "--format", "{{.NetIO}}", ref)
        assert r.returncode == 0, r.stderr
        return r.stdout.decode().strip()

    def rx(ref):
        return engine.stats(ref)["networks"]["eth0"]["rx_bytes"]

    before = rx(a)
    code, _, err = run(engine, f"ping -c 20 -i 0.05 -s 1000 {ip_of(engine, a)} >/dev/null")
    assert code == 0, err
    assert rx(a) >= before + 20 * 1000  # the pings reached its eth0
    assert net_io(a).split(" / ")[0].endswith("kB")
    none = daemon(engine, ["sleep", "60"], HostConfig={"NetworkMode": "none"})
    assert "networks" not in engine.stats(none)  # as Docker's (null)
    assert net_io(none) == "0B / 0B"
    joined = daemon(engine, ["sleep", "60"], HostConfig={"NetworkMode": f"container:{a}"})
    assert engine.stats(joined)["networks"]["eth0"]["rx_bytes"] >= before + 20 * 1000
