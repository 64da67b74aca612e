"""The event journal (engine/events.py), its filters, and the client's time forms and lines."""

from __future__ import annotations

import calendar
import json
import os
import subprocess
import sys
import threading
import time

import pytest
from helpers import wait_until

from dockerlab.cli.events import get_timestamp, parse_duration
from dockerlab.engine import events
from dockerlab.engine.paths import Paths
from dockerlab.errors import ClientError, InvalidParameter
from dockerlab.format.events import EventMessage, event_line
from dockerlab.format.gotemplate import parse

CID = "c" * 64
CFG = {"Id": CID, "Name": "/web", "Config": {"Image": "busybox", "Labels": {"tier": "front"}}}


@pytest.fixture
def paths(tmp_path):
    return Paths.of(str(tmp_path))


def past(paths, **kw):
    return list(events.stream(paths, since="0", follow=False, **kw))


# ---- writing: Docker's EventMessage, one line each -----------------------------------------


def test_a_container_event_is_dockers_message_with_image_name_and_labels(paths):
    events.container(paths, CFG, "die", {"exitCode": "3"})
    with open(events.journal_path(paths.root), "rb") as f:
        line = f.read()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    ev = json.loads(line)
    assert list(ev) == [
        "status",
        "id",
        "from",
        "Type",
        "Action",
        "Actor",
        "scope",
        "time",
        "timeNano",
    ]
    assert ev["status"] == ev["Action"] == "die"
    assert ev["id"] == ev["Actor"]["ID"] == CID and ev["from"] == "busybox"
    assert ev["Actor"]["Attributes"] == {
        "exitCode": "3",
        "image": "busybox",
        "name": "web",
        "tier": "front",
    }
    assert ev["scope"] == "local" and ev["time"] == ev["timeNano"] // 10**9


def test_volume_and_prune_events_have_no_legacy_fields(paths):
    events.volume(paths, "data", "create")
    events.append(paths.root, "image", "prune", "", {"reclaimed": "0"})
    vol, prune = past(paths)
    assert list(vol)[:2] == ["Type", "Action"] and vol["Actor"]["Attributes"] == {"driver": "local"}
    assert "id" not in prune and prune["status"] == "prune"
    assert event_line(prune).endswith(" image prune  (reclaimed=0)")


def test_a_garbage_line_is_skipped_and_a_glued_event_recovered(paths):
    events.container(paths, CFG, "create")
    with open(events.journal_path(paths.root), "ab") as f:
        f.write(b"not json at all\n\x00\xff{\n")
        f.write(b'{"status":"cut in the mid')  # a writer killed mid-line; the next glues on
    events.container(paths, CFG, "start")
    assert [e["Action"] for e in past(paths)] == ["create", "start"]


def test_the_journal_rotates_and_drops_the_oldest(paths, monkeypatch):
    monkeypatch.setattr(events, "MAX_BYTES", 4096)
    for i in range(200):
        events.container(paths, CFG, f"n{i}")
    path = events.journal_path(paths.root)
    assert os.path.getsize(path) <= 4096 + 1024
    assert os.path.getsize(path + ".1") <= 4096 + 1024
    got = [int(e["Action"][1:]) for e in past(paths)]
    assert got == list(range(got[0], 200))  # the newest, in order, none lost between files
    assert got[0] > 0 and len(got) > 10


def test_two_processes_append_at_once_without_interleaving(paths):
    code = (
        "import sys; from dockerlab.engine import events\n"
        "for i in range(300):\n"
        "    events.append(sys.argv[1], 'container', sys.argv[2], str(i), {'pad': 'x' * 3000})\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, paths.root, who], cwd=os.getcwd())
        for who in ("a", "b")
    ]
    for p in procs:
        assert p.wait(timeout=120) == 0
    with open(events.journal_path(paths.root), "rb") as f:
        lines = f.read().split(b"\n")
    assert lines.pop() == b""
    parsed = [json.loads(line) for line in lines]  # every line whole
    for who in ("a", "b"):
        assert [e["Actor"]["ID"] for e in parsed if e["Action"] == who] == [
            str(i) for i in range(300)
        ]


def test_an_unwritable_journal_never_fails_the_verb(paths):
    os.makedirs(os.path.join(paths.root, "events"))
    os.makedirs(events.journal_path(paths.root))  # a folder where the file should be
    events.container(paths, CFG, "create")  # no exception


# ---- reading: since, until, filters ---------------------------------------------------------


def test_since_and_until_bound_past_events_and_both_wrong_way_round_is_refused(paths):
    events.container(paths, CFG, "create")
    first = past(paths)[0]["timeNano"]
    events.container(paths, CFG, "start")
    later = past(paths)[1]["timeNano"]
    s = f"{first // 10**9}.{first % 10**9:09d}"
    u = f"{later // 10**9}.{(later - 1) % 10**9:09d}"
    got = list(events.stream(paths, since=s, until=u))
    assert [e["Action"] for e in got] == ["create"]
    with pytest.raises(InvalidParameter, match=r"^`since` time \(20\) cannot be after `until`"):
        events.stream(paths, since="20", until="10")
    with pytest.raises(InvalidParameter, match='parsing "x"'):
        events.stream(paths, since="x")


def test_filters_match_as_the_daemon_does(paths):
    events.container(paths, CFG, "exec_create: sh -c true", {"execID": "e1"})
    events.container(paths, {**CFG, "Id": "d" * 64, "Name": "/db"}, "die", {"exitCode": "0"})
    events.image(paths, "sha256:" + "a" * 64, "tag", "docker.io/library/busybox:1.36")
    events.volume(paths, "data", "mount", {"container": CID})

    def actions(**f):
        return [e["Action"] for e in past(paths, filters=f)]

    assert actions(container=["web"]) == ["exec_create: sh -c true"]
    assert actions(container=["ddd"]) == ["die"]  # an ID prefix
    assert actions(event=["exec_create"]) == ["exec_create: sh -c true"]  # Docker's prefix rule
    assert actions(event=["die", "tag"]) == ["die", "tag"]
    assert actions(type=["volume"]) == ["mount"]
    assert actions(volume=["data"]) == ["mount"]
    assert actions(image=["busybox"]) == ["exec_create: sh -c true", "die", "tag"]
    assert actions(label=["tier=front"]) == ["exec_create: sh -c true", "die"]
    assert actions(label=["tier=back"]) == []
    assert actions(type=["container"], container=["db"]) == ["die"]
    assert actions(scope=["swarm"]) == []
    with pytest.raises(InvalidParameter, match="^Invalid filter 'bogus'$"):
        events.stream(paths, filters={"bogus": ["1"]})


# ---- following ------------------------------------------------------------------------------


def _follower(paths, **kw):
    got: list[dict] = []
    stream = events.stream(paths, **kw)

    def run():
        for ev in stream:
            got.append(ev)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return got, t


def test_a_follower_sees_new_events_and_stops_when_until_passes(paths):
    events.container(paths, CFG, "old")
    until = time.time() + 3
    got, t = _follower(paths, until=until)  # until only: the past, then live until it passes
    wait_until(lambda: got, what="the old event")
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from dockerlab.engine import events; "
            "events.append(sys.argv[1], 'container', 'live', 'x', {})",
            paths.root,
        ],
        check=True,
    )
    wait_until(lambda: len(got) == 2, what="the live event")
    assert [e["Action"] for e in got] == ["old", "live"]
    t.join(timeout=30)
    assert not t.is_alive()


def test_a_follower_goes_on_across_rotations(paths, monkeypatch):
    monkeypatch.setattr(events, "MAX_BYTES", 2048)  # a rotation every ~6 events
    events.container(paths, CFG, "first")
    got, _ = _follower(paths, until=time.time() + 120)
    wait_until(lambda: got, what="the first event: the follower is up")
    for chunk in range(8):
        for i in range(4):
            events.container(paths, CFG, f"n{chunk * 4 + i}")
        wait_until(lambda n=chunk: len(got) == 1 + 4 * (n + 1), what=f"chunk {chunk}")
    assert [e["Action"] for e in got] == ["first", *[f"n{i}" for i in range(32)]]
    assert os.path.exists(events.journal_path(paths.root) + ".1")


# ---- the client: time forms, lines, templates ---------------------------------------------


def test_go_durations():
    assert parse_duration("10m") == 600
    assert parse_duration("1h30m") == 5400
    assert parse_duration("-1.5h") == -5400
    assert parse_duration("0") == 0 and parse_duration("300ms") == 0.3
    assert parse_duration("10") is None and parse_duration("1d") is None
    assert parse_duration("") is None and parse_duration(".s") is None


def test_docker_time_forms(monkeypatch):
    now = 1_800_000_000.75
    assert get_timestamp("10m", now) == "1799999400"  # whole seconds, as the CLI sends
    assert get_timestamp("0s", now) == "1800000000"
    assert get_timestamp("1700000000.5", now) == "1700000000.5"  # passed through
    assert get_timestamp("0", now) == "0"
    utc = calendar.timegm((2026, 12, 2, 21, 0, 0))
    assert get_timestamp("2026-12-02T21:00:00Z", now) == f"{utc}.000000000"
    assert get_timestamp("2026-12-02T21:00:00.5+01:00", now) == f"{utc - 3600}.500000000"
    assert get_timestamp("2026-12-02+01:00", now) == f"{utc - 22 * 3600}.000000000"
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        assert get_timestamp("2026-12-02T21:00", now) == f"{utc}.000000000"
        assert get_timestamp("2026-12-02", now) == f"{utc - 21 * 3600}.000000000"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


@pytest.mark.parametrize(
    "value, message",
    [
        ("bogus", 'failed to parse value as time or duration: "bogus"'),
        ("2026-13-02", 'parsing time "2026-13-02": month out of range'),
        ("2026-02-30", 'parsing time "2026-02-30": day out of range'),
        ("2026-12-02T25:00", 'parsing time "2026-12-02T25:00": hour out of range'),
        (
            "2026/12/02-x",
            'parsing time "2026/12/02-x" as "2006-01-02": cannot parse "/12/02-x" as "-"',
        ),
    ],
)
def test_bad_times_are_refused_with_go_words(value, message):
    with pytest.raises(ClientError) as err:
        get_timestamp(value, 0)
    assert str(err.value) == message


def test_the_default_line_sorts_attributes_and_the_template_sees_go_fields(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        ev = {
            "status": "create",
            "id": CID,
            "from": "busybox",
            "Type": "container",
            "Action": "create",
            "Actor": {"ID": CID, "Attributes": {"name": "x", "image": "busybox", "a": "1"}},
            "scope": "local",
            "time": 1796248746,
            "timeNano": 1796248746000000123,
        }
        assert event_line(ev) == (
            f"2026-12-02T21:59:06.000000123Z container create {CID} (a=1, image=busybox, name=x)"
        )
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    msg = EventMessage(ev)
    assert parse("{{.Type}} {{.Actor.Attributes.name}} {{.From}} {{.TimeNano}}").execute(msg) == (
        "container x busybox 1796248746000000123"
    )
    assert json.loads(parse("{{json .}}").execute(msg)) == {
        **ev,
        "Actor": {"ID": CID, "Attributes": {"a": "1", "image": "busybox", "name": "x"}},
    }
    assert parse("{{json .}}").execute(msg).startswith('{"status":"create","id":')
    with pytest.raises(Exception, match=r"can't evaluate field Nope in type \*events.Message"):
        parse("{{.Nope}}").execute(EventMessage())
