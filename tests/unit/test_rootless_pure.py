"""Rootless mode's pure parts: subordinate ranges, the ID mapping, preflight's errors."""

from __future__ import annotations

import os

import pytest

from dockerlab.engine import rootless
from dockerlab.errors import Forbidden


def test_ranges_by_name_or_uid_and_mapping(tmp_path, monkeypatch):
    sub = tmp_path / "subuid"
    sub.write_text("other:100000:65536\nstudent:200000:65536\n1234:300000:10\nbad:line\n")
    real_open = open
    monkeypatch.setattr(rootless, "_user_names", lambda uid: ("student", "1234"))
    monkeypatch.setattr(
        "builtins.open",
        lambda p, *a, **k: real_open(sub if p == "/etc/subuid" else p, *a, **k),
    )
    found = rootless.ranges("uid", 1234)
    assert found == [(200000, 65536), (300000, 10)]
    assert rootless.mapping(1234, found) == [(0, 1234, 1), (1, 200000, 65536), (65537, 300000, 10)]


def _no_sysctl(monkeypatch, **values: str) -> None:
    monkeypatch.setattr(
        rootless, "_sysctl", lambda p: next((v for k, v in values.items() if p.endswith(k)), None)
    )


def test_user_namespaces_disabled_names_the_sysctl(monkeypatch):
    _no_sysctl(monkeypatch, max_user_namespaces="0")
    with pytest.raises(Forbidden, match=r"user\.max_user_namespaces=0"):
        rootless.preflight()
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    _no_sysctl(monkeypatch, unprivileged_userns_clone="0")
    with pytest.raises(Forbidden, match=r"kernel\.unprivileged_userns_clone=0"):
        rootless.preflight()


def test_missing_or_unprivileged_newuidmap_is_named(monkeypatch, tmp_path):
    _no_sysctl(monkeypatch)
    monkeypatch.setattr(rootless, "ranges", lambda kind, uid=None: [(100000, 65536)])
    monkeypatch.setattr(rootless, "tool", lambda name: None)
    with pytest.raises(Forbidden, match="newuidmap.*apt-get install uidmap"):
        rootless.preflight()
    plain = tmp_path / "newuidmap"
    plain.write_text("")
    plain.chmod(0o755)
    monkeypatch.setattr(rootless, "tool", lambda name: str(plain))
    with pytest.raises(Forbidden, match="setuid root"):
        rootless.preflight()


def test_no_ranges_is_a_warning_not_an_error(monkeypatch):
    _no_sysctl(monkeypatch)
    monkeypatch.setattr(rootless, "ranges", lambda kind, uid=None: [])
    warnings = rootless.preflight()
    assert len(warnings) == 1 and "single-ID mapping" in warnings[0]
