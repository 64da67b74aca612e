"""ApiTrace on a real ``dockerlab daemon``: the requests real clients (docker-py, the docker
CLI) send, as the widget shows them — and ``docker run`` as create → attach → wait → start."""

from __future__ import annotations

import json

import pytest
from daemon_fixture import DOCKER_CLIS
from helpers import wait_until

pytest.importorskip("ipywidgets", reason="the lab extra (ipywidgets) is not installed")

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _has(api_daemon, path: str) -> bool:
    """Whether this daemon serves ``POST path`` yet (parts of issue 12 land separately)."""
    raw = api_daemon.request(
        f"POST {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n".encode()
        + b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    )
    return b"page not found" not in raw


def test_the_widget_shows_each_request_and_not_its_own(api_daemon):
    from dockerlab.widgets import ApiTrace

    client = api_daemon.client()
    client.create_volume("before")  # kept by the daemon: shown when the widget joins
    trace = ApiTrace(api_daemon.sock, follow=True)
    try:
        assert trace.following and trace.error == ""
        assert trace.wait_for(2)  # GET /version (docker-py's), POST /volumes/create
        n0 = len(trace.records)
        client.create_volume("after", labels={"k": "v"})
        client.remove_volume("after")
        assert trace.wait_for(n0 + 2)
        wanted = [
            ("POST", "/volumes/create", 201),
            ("POST", "/volumes/create", 201),
            ("DELETE", "/volumes/after", 204),
        ]
        got = [
            (method, path.partition("/v1.44")[2] or path, status)
            for method, path, _q, _b, status, _ms in trace.rows()
            if "volumes" in path
        ]
        assert got == wanted
        bodies = [b for _m, p, _q, b, _s, _ms in trace.rows() if p.endswith("/volumes/create")]
        assert json.loads(bodies[1]) == {"Name": "after", "Labels": {"k": "v"}}
        assert "POST   /volumes/create -> 201" in "\n".join(trace.text())
        assert not any("_dockerlab" in path for _m, path, *_ in trace.rows())
        svg = trace.svg()
        assert svg.startswith("<svg") and "DELETE /volumes/after" in svg
        assert "create a volume" in svg  # what the endpoint does, beside its arrow
        n = len(trace.records)
        assert repr(trace) == f"ApiTrace({n} requests from {api_daemon.host}; live)"
    finally:
        trace.close()
    assert not trace.following
    assert repr(trace).endswith("; stopped)")


def test_refresh_reads_once_and_docker_host_names_the_daemon(api_daemon, monkeypatch):
    from dockerlab.widgets import ApiTrace

    api_daemon.client().info()
    monkeypatch.setenv("DOCKER_HOST", api_daemon.host)
    trace = ApiTrace(follow=False)
    assert trace.host == api_daemon.host and not trace.following
    assert any(path.endswith("/info") for _m, path, *_ in trace.rows())
    api_daemon.client().version()
    assert trace.refresh() is True
    assert trace.sequence()[-1] == "GET /version"
    trace.clear()
    assert trace.rows() == [] and trace.count == 0
    trace.follow()  # Follow, from code as from its button
    try:
        assert trace.following and trace.wait_for(2)
    finally:
        trace.close()


def test_an_unreachable_daemon_is_shown_not_raised(tmp_path):
    from dockerlab.widgets import ApiTrace

    trace = ApiTrace(str(tmp_path / "nothing.sock"))
    assert not trace.following and "cannot connect to the daemon" in trace.error
    assert trace.refresh() is False
    assert repr(trace) == f"ApiTrace(0 requests from unix://{tmp_path}/nothing.sock; stopped)"


def _run_sequence(trace) -> list[str]:
    """The container requests of the latest ``docker run`` (from its create on), IDs
    replaced by ``{id}``."""
    out: list[str] = []
    for line in trace.sequence():
        method, path = line.split(" ", 1)
        parts = path.split("/")
        if len(parts) > 2 and parts[1] == "containers" and parts[2] not in ("create", "json"):
            parts[2] = "{id}"
        if parts[1:2] == ["containers"]:
            out.append(f"{method} {'/'.join(parts)}")
            if out[-1] == "POST /containers/create":
                out = out[-1:]
    return out


RUN = [
    "POST /containers/create",
    "POST /containers/{id}/attach",
    "POST /containers/{id}/wait",
    "POST /containers/{id}/start",
]


def test_docker_pys_run_as_the_widget_shows_it(api_daemon):
    from dockerlab.widgets import ApiTrace

    if not _has(api_daemon, "/v1.44/containers/create"):
        pytest.skip("this branch's daemon has no containers part yet")
    trace = ApiTrace(api_daemon.sock)
    try:
        api_daemon.docker().containers.run("busybox", "true", remove=True)
        assert trace.wait_for(4)
        # docker-py's run: create, start, follow the logs, wait, remove (no attach)
        want = [
            "POST /containers/create",
            "POST /containers/{id}/start",
            "GET /containers/{id}/logs",
            "POST /containers/{id}/wait",
            "DELETE /containers/{id}",
        ]
        # a streamed answer (logs) is recorded when it ends, maybe after the remove
        wait_until(lambda: set(want) <= set(_run_sequence(trace)), what="all five requests")
        assert [s for s in _run_sequence(trace) if s in want] == want
    finally:
        trace.close()


@pytest.mark.parametrize("exe", DOCKER_CLIS)
def test_docker_run_rm_as_the_widget_draws_it(api_daemon, exe):
    from dockerlab.widgets import ApiTrace

    if not _has(api_daemon, "/v1.44/containers/x/attach"):
        pytest.skip("this branch's daemon has no attach part yet")
    trace = ApiTrace(api_daemon.sock)
    try:
        done = api_daemon.cli("run", "--rm", "busybox", "true", docker=exe)
        assert done.returncode == 0, done.stderr
        # each record comes when its answer ends (attach and wait last): wait for them all
        wait_until(lambda: set(RUN) <= set(_run_sequence(trace)), what="the run's requests")
        seq = _run_sequence(trace)
        assert [s for s in seq if s in RUN] == RUN
        svg = trace.svg()
        for words in ("create the container", "attach", "wait for its exit code", "start"):
            assert words in svg
    finally:
        trace.close()
