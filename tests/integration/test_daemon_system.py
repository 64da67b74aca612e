"""``dockerlab daemon``'s system part: ``/info`` and ``/version`` as the docker CLIs print
them, ``/events`` (since, until, filters, a stream that ends and one a client leaves),
``/system/df`` (with ``type``), and dockerlab's trace feed. A real daemon process, real
clients (docker-py and the docker CLIs)."""

from __future__ import annotations

import json
import socket
import time

import pytest
from daemon_fixture import DOCKER_CLIS, unchunk
from daemon_fixture import status as _status
from helpers import wait_until

pytestmark = pytest.mark.timeout(180)


def _get(api_daemon, path: str) -> bytes:
    return api_daemon.request(
        f"GET {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n".encode()
    )


def _chunked_body(raw: bytes) -> bytes:
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    return unchunk(rest)


# ---- info and version ----------------------------------------------------------------------------
def test_info_fills_what_docker_prints(api_daemon):
    info = api_daemon.client().info()
    assert info["ID"].count(":") == 11 and len(info["ID"]) == 59  # 20.10's key-ID shape
    assert info["ID"] == api_daemon.client().info()["ID"]  # stable
    assert info["ContainerdCommit"]["ID"] and info["RuncCommit"]["ID"].startswith("dockerlab")
    assert "127.0.0.0/8" in info["RegistryConfig"]["InsecureRegistryCIDRs"]
    assert info["NEventsListener"] == 0 and info["Images"] == 1


@pytest.mark.parametrize("exe", DOCKER_CLIS)
def test_docker_info_and_version_print_no_empty_values(api_daemon, exe):
    done = api_daemon.cli("info", docker=exe)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for key in ("ID", "containerd version", "runc version", "Server Version", "Name"):
        line = next(x for x in out.splitlines() if x.strip().startswith(key + ":"))
        assert line.split(":", 1)[1].strip(), line
    assert "Docker Root Dir: " + api_daemon.root in out
    assert "127.0.0.0/8" in out.split("Insecure Registries:", 1)[1]
    done = api_daemon.cli("version", docker=exe)
    assert done.returncode == 0, done.stderr
    server = done.stdout.split("Server:", 1)[1]
    for key in ("Version", "API version", "Git commit", "Built", "OS/Arch"):
        line = next(x for x in server.splitlines() if x.strip().startswith(key + ":"))
        assert line.split(":", 1)[1].strip(), line
    assert "dockerlab-monitor:" in server


# ---- events ------------------------------------------------------------------------------------
def _volume_events(engine, *names: str) -> tuple[int, float]:
    """Create and remove the volumes ``names`` through the engine; (since, until) around."""
    since = int(time.time()) - 1
    for name in names:
        engine.volume_create(name)
        engine.volume_remove(name)
    return since, time.time() + 0.5


def test_events_between_since_and_until_with_filters(api_daemon, engine):
    since, until = _volume_events(engine, "ev-a", "ev-b")
    client = api_daemon.client()
    got = list(client.events(since=since, until=until, decode=True))
    mine = [(e["Action"], e["Actor"]["ID"]) for e in got if e["Type"] == "volume"]
    assert mine == [
        ("create", "ev-a"),
        ("destroy", "ev-a"),
        ("create", "ev-b"),
        ("destroy", "ev-b"),
    ]
    assert all(e["scope"] == "local" and e["timeNano"] for e in got)
    only = list(
        client.events(
            since=since, until=until, decode=True, filters={"volume": "ev-b", "event": "destroy"}
        )
    )
    assert [(e["Action"], e["Actor"]["ID"]) for e in only] == [("destroy", "ev-b")]
    # an until still to come: the stream waits for it, then ends
    t0 = time.time()
    later = list(client.events(since=since, until=time.time() + 1.5, decode=True))
    assert len(later) >= 4 and time.time() - t0 >= 1.0


def test_events_follow_new_ones_and_a_client_that_leaves_leaves_no_thread(api_daemon, engine):
    client = api_daemon.client()
    threads = client.info()["NGoroutines"]
    stream = client.events(decode=True, filters={"type": "volume"})
    engine.volume_create("ev-live")
    ev = next(stream)
    assert (ev["Action"], ev["Actor"]["ID"]) == ("create", "ev-live")
    assert client.info()["NEventsListener"] == 1
    stream.close()
    # three more that go away without a word, and no event ever comes for them
    raw = []
    for _ in range(3):
        s = socket.socket(socket.AF_UNIX)
        s.connect(api_daemon.sock)
        s.sendall(b"GET /v1.44/events HTTP/1.1\r\nHost: d\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200 OK")
        raw.append(s)
    wait_until(lambda: client.info()["NEventsListener"] == 3, what="three listeners")
    for s in raw:
        s.close()
    wait_until(lambda: client.info()["NEventsListener"] == 0, what="the listeners to go")
    wait_until(
        lambda: client.info()["NGoroutines"] <= threads,
        what="the daemon's threads to come back to what they were",
    )


def test_events_refuse_bad_filters_and_times(api_daemon):
    raw = _get(api_daemon, "/v1.44/events?filters=%7B%22nonsense%22%3A%5B%22x%22%5D%7D")
    assert _status(raw) == 400 and b"Invalid filter 'nonsense'" in raw
    raw = _get(api_daemon, "/v1.44/events?since=tomorrow")
    assert _status(raw) == 400 and b"invalid syntax" in raw
    raw = _get(api_daemon, "/v1.44/events?since=20&until=10")
    assert _status(raw) == 400 and b"cannot be after" in raw


@pytest.mark.parametrize("exe", DOCKER_CLIS)
def test_docker_events_since_until(api_daemon, engine, exe):
    since, until = _volume_events(engine, "cli-ev")
    done = api_daemon.cli(
        "events",
        "--since",
        str(since),
        "--until",
        f"{until:.3f}",
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.ID}}",
        docker=exe,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["volume create cli-ev", "volume destroy cli-ev"]
    done = api_daemon.cli(
        "events", "--since", str(since), "--until", f"{until:.3f}", docker=exe, timeout=60
    )
    assert "volume destroy cli-ev (driver=local)" in done.stdout


# ---- disk usage --------------------------------------------------------------------------------
def test_df_as_docker_py_reads_it(api_daemon, engine):
    engine.volume_create("df-vol")
    df = api_daemon.client().df()
    assert df["LayersSize"] > 0
    assert [i["RepoTags"] for i in df["Images"]] == [["busybox:latest"]]
    assert df["Containers"] == [] and df["BuildCache"] == []
    (vol,) = df["Volumes"]
    assert vol["Name"] == "df-vol" and vol["UsageData"] == {"Size": 0, "RefCount": 0}


def test_df_type_keeps_only_the_parts_asked_for(api_daemon, engine):
    engine.volume_create("df-vol")
    raw = _get(api_daemon, "/v1.44/system/df?type=volume")
    body = json.loads(raw.split(b"\r\n\r\n", 1)[1])
    assert [v["Name"] for v in body["Volumes"]] == ["df-vol"]
    assert body["Images"] is None and body["Containers"] is None and body["LayersSize"] == 0
    raw = _get(api_daemon, "/v1.41/system/df?type=volume")  # before 1.42: no such parameter
    old = json.loads(raw.split(b"\r\n\r\n", 1)[1])
    assert old["Images"] and old["BuilderSize"] == 0
    raw = _get(api_daemon, "/v1.44/system/df?type=everything")
    assert _status(raw) == 400 and b"unknown object type: everything" in raw


@pytest.mark.parametrize("exe", DOCKER_CLIS)
def test_docker_system_df(api_daemon, exe):
    done = api_daemon.cli("system", "df", docker=exe)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert lines[1].split()[:3] == ["Images", "1", "0"]
    done = api_daemon.cli("system", "df", "-v", docker=exe)
    assert done.returncode == 0 and "busybox" in done.stdout


# ---- the trace feed --------------------------------------------------------------------------
def test_the_trace_feed_gives_the_requests_but_not_itself(api_daemon):
    client = api_daemon.client()
    client.create_volume("traced")
    raw = _get(api_daemon, "/_dockerlab/trace?follow=0")
    assert _status(raw) == 200
    recs = [json.loads(x) for x in _chunked_body(raw).splitlines()]
    mine = [r for r in recs if r["path"].endswith("/volumes/create")]
    assert mine and mine[0]["method"] == "POST" and mine[0]["status"] == 201
    assert json.loads(mine[0]["body"])["Name"] == "traced"
    assert {"time", "query", "ms", "peer", "error"} <= set(mine[0])
    again = _chunked_body(_get(api_daemon, "/_dockerlab/trace?follow=0&tail=100"))
    assert b"_dockerlab/trace" not in again  # the feed's own requests are not traced
    assert _chunked_body(_get(api_daemon, "/_dockerlab/trace?follow=0&tail=0")) == b""


def test_credentials_never_reach_the_trace_or_the_log(engine, tmp_path):
    """The attack: read a user's registry password from the trace feed (anyone who follows
    it) or from ``--trace``'s log. Both show the login's body with its secrets masked."""
    from daemon_fixture import Daemon

    d = Daemon(engine.paths.root, str(tmp_path), "--trace")
    try:
        login = {"username": "ann", "password": "hunter2-secret", "serveraddress": "r.lab"}
        nested = {"Name": "v", "Password": "hunter2-secret", "x": {"auth": "tok-secret"}}
        cut = {"Name": "w", "password": "hunter2-secret", "pad": " " * 5000}  # past the head
        for path, body in (
            ("/v1.44/auth", login),  # (read by the images part, when it is there)
            ("/v1.44/volumes/create", nested),
            ("/v1.44/volumes/create", cut),
        ):
            data = json.dumps(body).encode()
            d.request(
                f"POST {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
                + data
            )
        feed = _chunked_body(
            d.request(b"GET /_dockerlab/trace?follow=0 HTTP/1.1\r\nHost: d\r\n\r\n", timeout=5)
        )
        recs = [json.loads(x) for x in feed.splitlines()]
        assert [r["path"] for r in recs][-2:] == ["/v1.44/volumes/create"] * 2
        shown = json.loads(recs[-2]["body"])
        assert shown["Password"] == "*****" and shown["x"] == {"auth": "*****"}
        assert recs[-1]["body"].endswith("bytes of JSON (not shown: it names a credential)")
        wait_until(lambda: d.log().count("POST /v1.44/volumes/create") == 2, what="the log")
        assert "body: " in d.log()  # --trace logs the bodies
        for text in (feed.decode(), d.log()):
            assert "hunter2" not in text and "tok-secret" not in text
    finally:
        d.stop()
