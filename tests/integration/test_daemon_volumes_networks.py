"""``dockerlab daemon``'s ``/volumes`` and ``/networks``, driven by docker-py and the docker
CLIs over a real daemon's socket, on real volumes, networks and containers."""

from __future__ import annotations

import json
import os

import pytest
from daemon_fixture import DOCKER_CLIS
from helpers import cli, private_subnet

pytestmark = pytest.mark.timeout(180)

ANONYMOUS = "com.docker.volume.anonymous"


def _host_macs() -> set[str]:
    out = set()
    for name in os.listdir("/sys/class/net"):
        try:
            with open(f"/sys/class/net/{name}/address") as f:
                out.add(f.read().strip())
        except OSError:
            continue  # gone meanwhile
    return out


def _raw(api_daemon, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    raw = api_daemon.request(head.encode() + b"\r\n" + data)
    return int(raw.split(b" ", 2)[1]), raw.split(b"\r\n\r\n", 1)[1]


# ---- volumes ---------------------------------------------------------------------------------
def test_volumes_with_docker_py(api_daemon):
    c = api_daemon.client()
    v = c.create_volume("data", labels={"course": "1"}, driver_opts={})
    assert v["Name"] == "data" and v["Driver"] == "local" and v["Labels"] == {"course": "1"}
    anon = c.create_volume()["Name"]
    assert len(anon) == 64
    assert c.inspect_volume(anon)["Labels"] == {ANONYMOUS: ""}
    listed = c.volumes()
    assert listed["Warnings"] is None
    assert sorted(x["Name"] for x in listed["Volumes"]) == sorted(["data", anon])
    assert [x["Name"] for x in c.volumes(filters={"label": "course=1"})["Volumes"]] == ["data"]
    assert [x["Name"] for x in c.volumes(filters={"name": "dat"})["Volumes"]] == ["data"]
    assert c.inspect_volume("data")["Mountpoint"].endswith("/volumes/data/_data")
    c.remove_volume("data")
    with pytest.raises(Exception) as err:
        c.inspect_volume("data")
    assert err.value.response.status_code == 404
    assert "no such volume" in str(err.value).lower()
    with pytest.raises(Exception) as err:
        c.remove_volume("data")
    assert err.value.response.status_code == 404
    # gone already: no error with force, as moby (docker-py 7 drops its own force=True)
    assert _raw(api_daemon, "DELETE", "/v1.44/volumes/data?force=1")[0] == 204


def test_volume_create_answers_201_and_refuses_bad_names_and_drivers(api_daemon):
    status, body = _raw(api_daemon, "POST", "/v1.44/volumes/create", {"Name": "v201"})
    assert status == 201 and json.loads(body)["Name"] == "v201"
    status, body = _raw(api_daemon, "POST", "/v1.44/volumes/create", {"Name": "a/b"})
    assert status == 400 and b"includes invalid characters" in body
    status, body = _raw(api_daemon, "POST", "/v1.44/volumes/create", {"Driver": "nfs"})
    assert status == 404 and b'plugin \\"nfs\\" not found' in body
    status, body = _raw(api_daemon, "POST", "/v1.44/volumes/create", None)
    assert status == 201  # no body: an anonymous volume


def test_a_volume_in_use_is_kept(api_daemon, engine):
    cli(engine.paths.root, "create", "--name", "user", "-v", "held:/data", "busybox", "true")
    c = api_daemon.client()
    with pytest.raises(Exception) as err:
        c.remove_volume("held")
    assert err.value.response.status_code == 409 and "volume is in use" in str(err.value)
    assert c.prune_volumes({"all": "true"}) == {"VolumesDeleted": [], "SpaceReclaimed": 0}


def test_volume_prune_by_api_version(api_daemon):
    new = api_daemon.client()  # API 1.44: anonymous volumes only, unless all=true
    new.create_volume("named")
    anon = new.create_volume()["Name"]
    assert new.prune_volumes()["VolumesDeleted"] == [anon]
    assert [v["Name"] for v in new.volumes()["Volumes"]] == ["named"]
    assert new.prune_volumes({"all": "true"})["VolumesDeleted"] == ["named"]
    import docker

    old = docker.APIClient(base_url=api_daemon.host, version="1.41", timeout=60)
    api_daemon._clients.append(old)  # before 1.42 (Docker 20.10): every unused one
    old.create_volume("named2")
    assert old.prune_volumes()["VolumesDeleted"] == ["named2"]
    status, body = _raw(api_daemon, "POST", '/v1.44/volumes/prune?filters={"all":["maybe"]}')
    assert status == 400 and b"invalid filter 'all'" in body


@pytest.mark.parametrize("exe", DOCKER_CLIS)
def test_docker_volume_commands(api_daemon, exe):
    def run(*args: str) -> str:
        done = api_daemon.cli(*args, docker=exe)
        assert done.returncode == 0, done.stderr
        return str(done.stdout)

    assert run("volume", "create", "--label", "k=v", "cv").strip() == "cv"
    anon = run("volume", "create").strip()
    assert run("volume", "ls", "-q").split() == sorted(["cv", anon])
    assert run("volume", "ls", "--filter", "label=k=v").splitlines()[1].split() == ["local", "cv"]
    (doc,) = json.loads(run("volume", "inspect", "cv"))
    assert doc["Name"] == "cv" and doc["Labels"] == {"k": "v"}
    missing = api_daemon.cli("volume", "inspect", "nothing", docker=exe)
    assert missing.returncode == 1 and "no such volume" in missing.stderr.lower()
    assert run("volume", "rm", "cv").strip() == "cv"
    pruned = run("volume", "prune", "-f")
    assert anon in pruned and "Total reclaimed space:" in pruned
    assert run("volume", "ls", "-q").split() == []


# ---- networks --------------------------------------------------------------------------------
def test_networks_with_docker_py(api_daemon, engine):
    import docker

    c = api_daemon.client()
    subnet = private_subnet()
    ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet)])
    made = c.create_network("pynet", driver="bridge", ipam=ipam, labels={"lab": "x"})
    assert len(made["Id"]) == 64 and made["Warning"] == ""
    names = [n["Name"] for n in c.networks()]
    assert {"bridge", "host", "none", "pynet"} <= set(names)
    assert [n["Name"] for n in c.networks(names=["pynet"])] == ["pynet"]
    assert [n["Name"] for n in c.networks(filters={"label": "lab=x"})] == ["pynet"]
    assert [n["Name"] for n in c.networks(filters={"type": "custom"})] == ["pynet"]
    doc = c.inspect_network(made["Id"][:12])
    assert doc["Name"] == "pynet" and doc["IPAM"]["Config"][0]["Subnet"] == subnet
    assert c.inspect_network("pynet", scope="local")["Id"] == made["Id"]
    with pytest.raises(Exception) as err:
        c.inspect_network("pynet", scope="swarm")
    assert err.value.response.status_code == 404

    cli(engine.paths.root, "run", "-d", "--name", "box", "busybox", "sleep", "600")
    ip = subnet.rsplit(".", 1)[0] + ".77"
    c.connect_container_to_network("box", "pynet", ipv4_address=ip, aliases=["boxy"])
    (ep,) = c.inspect_network("pynet")["Containers"].values()
    assert ep["Name"] == "box" and ep["IPv4Address"] == ip + "/24"
    # plumbed from one of the daemon's threads: the interface is in the container, and
    # nothing landed in the host's namespace (/proc/self/ns is the main thread's)
    inside = cli(engine.paths.root, "exec", "box", "ip", "-o", "addr", "show", "eth1", text=True)
    assert f"inet {ip}/24" in inside.stdout, inside.stderr
    from dockerlab.engine.network import ipam

    mac = ipam.mac_for(ip)  # the container's interface's, unique to this test's subnet
    assert mac not in _host_macs()
    assert all(n["Containers"] == {} for n in c.networks())  # as dockerd's list
    with pytest.raises(Exception) as err:
        c.remove_network("pynet")
    assert err.value.response.status_code == 403 and "active endpoints" in str(err.value)
    c.disconnect_container_from_network("box", "pynet")
    assert c.inspect_network("pynet")["Containers"] == {}
    c.remove_network("pynet")
    with pytest.raises(Exception) as err:
        c.inspect_network("pynet")
    assert err.value.response.status_code == 404 and "network pynet not found" in str(err.value)


def test_network_create_answers_201_and_prune(api_daemon):
    body = {"Name": "n201", "IPAM": {"Config": [{"Subnet": private_subnet()}]}}
    status, out = _raw(api_daemon, "POST", "/v1.44/networks/create", body)
    assert status == 201 and set(json.loads(out)) == {"Id", "Warning"}
    status, out = _raw(api_daemon, "POST", "/v1.44/networks/create", {"Name": "n201"})
    assert status == 409 and b"already exists" in out
    status, out = _raw(api_daemon, "POST", "/v1.44/networks/create", {"Name": "host"})
    assert status == 409
    status, out = _raw(api_daemon, "POST", "/v1.44/networks/create", {})
    assert status == 400
    pruned = api_daemon.client().prune_networks()
    assert pruned["NetworksDeleted"] == ["n201"]


@pytest.mark.parametrize("exe", DOCKER_CLIS)
def test_docker_network_commands(api_daemon, exe):
    def run(*args: str) -> str:
        done = api_daemon.cli(*args, docker=exe)
        assert done.returncode == 0, done.stderr
        return str(done.stdout)

    nid = run("network", "create", "--subnet", private_subnet(), "clinet").strip()
    assert len(nid) == 64
    rows = [line.split() for line in run("network", "ls").splitlines()]
    assert rows[0] == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    assert [nid[:12], "clinet", "bridge", "local"] in rows
    (doc,) = json.loads(run("network", "inspect", "clinet"))
    assert doc["Id"] == nid and doc["Driver"] == "bridge"
    assert run("network", "inspect", "-f", "{{.Name}} {{.Scope}}", nid[:12]).strip() == (
        "clinet local"
    )
    assert run("network", "rm", "clinet").strip() == "clinet"
    missing = api_daemon.cli("network", "rm", "clinet", docker=exe)
    assert missing.returncode != 0
    assert "not found" in missing.stderr or "No such network: clinet" in missing.stderr
