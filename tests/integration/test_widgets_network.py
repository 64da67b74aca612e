"""NetworkView on real containers: the default bridge, --network none/host, a container
removed while shown, an engine error shown inside the widget (no browser)."""

from __future__ import annotations

import pytest
from helpers import daemon, wait_until

from dockerlab.engine.network import record

pytest.importorskip("ipywidgets", reason="the lab extra (ipywidgets) is not installed")

pytestmark = pytest.mark.integration


def _until(predicate, timeout=10.0):
    return bool(wait_until(predicate, timeout, interval=0.05))


def test_draws_the_default_bridge_and_containers_on_it_none_and_host(engine):
    from dockerlab.widgets import NetworkView

    web = daemon(engine, name="web")
    db = daemon(engine, name="db")
    daemon(engine, name="quiet", HostConfig={"NetworkMode": "none"})
    daemon(engine, name="hosty", HostConfig={"NetworkMode": "host"})
    net = record.default_bridge(engine.paths)
    ips = {c: engine.inspect(c)["NetworkSettings"]["IPAddress"] for c in (web, db)}
    prefix = net["Subnet"].split("/")[1]
    view = NetworkView(engine=engine, follow=False)
    try:
        assert repr(view) == "NetworkView(1 network, 4 containers: 4 running; stopped)"
        lines = view.text()
        assert lines[0] == (
            f"network bridge ({net['Bridge']}) {net['Subnet']} gateway {net['Gateway']}: db, web"
        )
        assert f"web (running, --network bridge); bridge {ips[web]}/{prefix}" in lines
        assert f"db (running, --network bridge); bridge {ips[db]}/{prefix}" in lines
        assert "quiet (running, --network none)" in lines
        assert "hosty (running, --network host)" in lines
        out = view.svg()
        assert f"{net['Subnet']} gw {net['Gateway']}" in out
        assert f"eth0 {ips[web]}/{prefix}" in out
        assert out.count('class="dl-container"') == 4
        assert "the host&#x27;s own interfaces" in out
        assert "bridge · 4 containers · stopped" in view._status.value
    finally:
        view.close()


def test_follows_changes_and_draws_a_removed_container_as_removed(engine):
    from dockerlab.widgets import NetworkView

    daemon(engine, name="keep")
    gone = daemon(engine, name="gone")
    view = NetworkView(engine=engine, interval=0.1)
    try:
        assert view.following
        ip = engine.inspect(gone)["NetworkSettings"]["IPAddress"]
        assert f"eth0 {ip}/" in view.svg()
        engine.stop("gone", timeout=0)  # stopped: on the network, no address
        assert _until(lambda: "gone (exited, --network bridge); bridge no address" in view.text())
        engine.remove("gone")
        assert _until(lambda: 'data-name="gone" data-state="removed"' in view.svg())
        assert "gone (removed, --network bridge)" in view.text()
        daemon(engine, name="late")
        assert _until(lambda: 'data-name="late" data-state="running"' in view.svg())
        assert repr(view) == ("NetworkView(1 network, 3 containers: 1 removed, 2 running; live)")
    finally:
        view.close()
    assert not view.following


def test_shows_only_the_containers_named_and_an_engine_error_inside(engine):
    from dockerlab.errors import DockerlabError
    from dockerlab.widgets import NetworkView

    daemon(engine, name="a1")
    daemon(engine, name="other")

    class Flaky:  # the real engine, until reading it fails as a broken state root would
        broken = False

        def __getattr__(self, name):
            return getattr(engine, name)

        def inspect(self, ref):
            if self.broken:
                raise DockerlabError("open /state/containers: input/output error")
            return engine.inspect(ref)

    flaky = Flaky()
    view = NetworkView("a1", engine=flaky, follow=False)
    try:
        assert [b.name for b in view.picture.boxes] == ["a1"]
        before = view.svg()
        flaky.broken = True
        assert view.refresh() is False
        assert view.error == "open /state/containers: input/output error"
        assert "Error: open /state/containers: input/output error" in view._message.value
        assert view.svg() == before  # the last picture stays
        flaky.broken = False
        assert view.refresh() is True
        assert view.error == "" and view._message.value == ""
        view.follow(0.1)
        flaky.broken = True  # the thread keeps going through errors
        assert _until(lambda: view.error != "")
        flaky.broken = False
        assert _until(lambda: view.error == "")
        engine.remove("a1", force=True)
        assert _until(lambda: [b.state for b in view.picture.boxes] == ["removed"])
    finally:
        view.close()


def test_published_ports_and_links_of_real_containers(engine):
    """Docker's API body for `run -p 127.0.0.1:PORT:80 --link db:aliasdb`: the link is drawn
    from HostConfig.Links; the arrow from NetworkSettings.Ports once the engine publishes."""
    import socket

    from dockerlab.widgets import NetworkView

    with socket.socket() as s:  # a port free on loopback now (Docker refuses a taken one)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    daemon(engine, name="db")
    daemon(
        engine,
        name="web",
        ExposedPorts={"80/tcp": {}},
        HostConfig={
            "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]},
            "Links": ["db:aliasdb"],
        },
    )
    view = NetworkView(engine=engine, follow=False)
    try:
        web = [line for line in view.text() if line.startswith("web ")][0]
        assert web.endswith("; link aliasdb -> db")
        out = view.svg()
        assert out.count('class="dl-link"') == 1 and ">link aliasdb → db<" in out
        if not engine.inspect("web")["NetworkSettings"]["Ports"]:
            pytest.skip("this tree does not publish ports yet (NetworkSettings.Ports is {})")
        assert f"127.0.0.1:{port} -> 80/tcp" in web
        assert f">127.0.0.1:{port}</text>" in out and out.count('class="dl-port"') == 1
    finally:
        view.close()


def test_a_document_it_cannot_draw_is_an_error_inside_the_widget():
    from dockerlab.widgets import NetworkView

    class Odd:  # an engine face answering with what no Docker sends
        def container_ids(self):
            return ["x" * 64]

        def inspect(self, ref):
            return {"Id": ref, "State": "not a dict"}

    view = NetworkView(engine=Odd(), follow=False)
    try:
        assert "has no attribute" in view.error
        assert view._message.value.startswith(
            '<div style="color:var(--jp-error-color1, #c62828)">Error: '
        )
        assert repr(view) == "NetworkView(0 networks, 0 containers; stopped)"
        view.per_row = 50
        assert view.per_row == 12  # bounded
    finally:
        view.close()
