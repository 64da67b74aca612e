"""ApiTrace's pure parts: addresses, paths, the table's text and the sequence picture."""

from __future__ import annotations

import pytest

pytest.importorskip("ipywidgets", reason="the lab extra (ipywidgets) is not installed")

from dockerlab.widgets import apitrace as at  # noqa: E402

CID = "4f" * 32
RUN = [
    {"method": "HEAD", "path": "/_ping", "query": "", "body": "", "status": 200, "ms": 0.2},
    {
        "method": "POST",
        "path": "/v1.41/containers/create",
        "query": "",
        "body": '{"Image":"busybox","Cmd":["true"]}',
        "status": 201,
        "ms": 30.0,
    },
    {
        "method": "POST",
        "path": f"/v1.41/containers/{CID}/attach",
        "query": "stderr=1&stdout=1&stream=1",
        "body": "",
        "status": 101,
        "ms": 250.0,
    },
    {
        "method": "POST",
        "path": f"/v1.41/containers/{CID}/wait",
        "query": "condition=removed",
        "body": "",
        "status": 200,
        "ms": 240.0,
    },
    {
        "method": "POST",
        "path": f"/v1.41/containers/{CID}/start",
        "query": "",
        "body": "",
        "status": 204,
        "ms": 90.0,
    },
]


def test_hosts_resolve_as_docker_host_does(monkeypatch):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert at.resolve_host() == "unix:///run/dockerlab/docker.sock"
    assert at.resolve_host("/tmp/d.sock") == "unix:///tmp/d.sock"
    assert at.resolve_host("tcp://127.0.0.1:2375") == "tcp://127.0.0.1:2375"
    monkeypatch.setenv("DOCKER_HOST", "unix:///x.sock")
    assert at.resolve_host() == "unix:///x.sock"
    with pytest.raises(ValueError):
        at.resolve_host("ssh://somewhere")


def test_paths_lose_their_version_and_ids_are_cut():
    assert at.short_path(f"/v1.44/containers/{CID}/start") == f"/containers/{CID[:12]}/start"
    assert at.short_path("/_ping") == "/_ping"
    assert at.meaning("POST", f"/v1.44/containers/{CID}/wait") == "wait for its exit code"
    assert at.meaning("GET", "/nothing") == ""


def test_the_table_as_text_is_stable():
    assert at.table_text(RUN, times=False) == [
        "HEAD   /_ping -> 200",
        'POST   /containers/create -> 201  {"Image":"busybox","Cmd":["true"]}',
        f"POST   /containers/{CID[:12]}/attach?stderr=1&stdout=1&stream=1 -> 101",
        f"POST   /containers/{CID[:12]}/wait?condition=removed -> 200",
        f"POST   /containers/{CID[:12]}/start -> 204",
    ]
    assert at.table_text(RUN[:1])[0] == "HEAD   /_ping -> 200 (0.2 ms)"
    assert at.rows(RUN)[2][4] == 101


def test_the_sequence_picture_draws_docker_run():
    svg = at.sequence_svg(RUN)
    assert svg == at.sequence_svg(RUN)  # deterministic
    order = [svg.index(w) for w in ("containers/create", "/attach", "/wait", "/start")]
    assert order == sorted(order)
    for words in ("create the container", "attach: the raw stream", "start its process"):
        assert words in svg
    assert svg.count("<g>") == len(RUN) and 'fill="#6a1b9a">101<' in svg
    assert at.sequence_svg([]).startswith("<svg")
