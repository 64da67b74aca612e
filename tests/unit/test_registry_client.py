"""The registry client's pure parts: challenges, errors, platform selection, endpoints,
settings and the credentials file."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest

from dockerlab.engine.registry import credentials
from dockerlab.engine.registry.client import (
    RegistryError,
    Settings,
    api_error,
    mirror_netloc,
    parse_challenges,
)
from dockerlab.engine.registry.pull import endpoints, select
from dockerlab.engine.registry.search import normalise_server, split_term


def test_challenges():
    assert parse_challenges('Basic realm="Registry Realm"') == [
        ("basic", {"realm": "Registry Realm"})
    ]
    header = (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/busybox:pull,push"'
    )
    assert parse_challenges(header) == [
        (
            "bearer",
            {
                "realm": "https://auth.docker.io/token",
                "service": "registry.docker.io",
                "scope": "repository:library/busybox:pull,push",
            },
        )
    ]
    two = 'Bearer realm="a,b", error="insufficient_scope", Basic realm=x'
    assert parse_challenges(two) == [
        ("bearer", {"realm": "a,b", "error": "insufficient_scope"}),
        ("basic", {"realm": "x"}),
    ]
    assert parse_challenges('Bearer realm="say \\"hi\\""') == [("bearer", {"realm": 'say "hi"'})]
    assert parse_challenges("") == []
    assert parse_challenges("=oops") == []


def test_api_errors_in_dockers_words():
    body = b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}'
    assert api_error(404, body) == ("MANIFEST_UNKNOWN", "manifest unknown: manifest unknown")
    assert api_error(401, b"") == ("UNAUTHORIZED", "unauthorized: authentication required")
    assert api_error(401, b'{"details":"incorrect username or password"}')[1] == (
        "unauthorized: incorrect username or password"
    )
    assert api_error(502, b"<html>bad gateway</html>")[1].startswith(
        "received unexpected HTTP status: 502 Bad Gateway"
    )


def _entry(arch, variant="", os_="linux", digest="sha256:" + "a" * 64):
    plat = {"os": os_, "architecture": arch}
    if variant:
        plat["variant"] = variant
    return {"digest": digest, "platform": plat}


def test_select_picks_this_platform():
    entries = [_entry("arm", "v7"), _entry("amd64", os_="windows"), _entry("amd64")]
    assert select(entries, ("linux", "amd64", "")) is entries[2]
    arm = [_entry("arm64"), _entry("arm64", "v8"), _entry("arm64", "v9")]
    assert select(arm, ("linux", "arm64", "v8")) is arm[1]
    assert select(arm[:1] + arm[2:], ("linux", "arm64", "v8")) is arm[0]
    with pytest.raises(RegistryError) as err:
        select([_entry("s390x")], ("linux", "amd64", ""))
    assert str(err.value) == "no matching manifest for linux/amd64 in the manifest list entries"


def test_endpoints_try_mirrors_first_for_docker_hub():
    s = Settings(mirrors=["http://127.0.0.1:5000", "mirror.lab:443"])
    assert endpoints("docker.io", s) == [
        ("127.0.0.1:5000", "http", "127.0.0.1:5000"),
        ("mirror.lab:443", "", "mirror.lab:443"),
        ("registry-1.docker.io", "https", "docker.io"),
    ]
    assert endpoints("localhost:5000", s) == [("localhost:5000", "", "localhost:5000")]
    assert mirror_netloc("https://m.example/") == ("https", "m.example")


def test_settings_from_env_and_file(tmp_path, monkeypatch):
    (tmp_path / "registries.json").write_text(
        json.dumps({"registry-mirrors": ["http://b:5000"], "insecure-registries": ["10.0.0.0/8"]})
    )
    monkeypatch.setenv("DOCKERLAB_MIRROR", "a:5000")
    monkeypatch.setenv("DOCKERLAB_INSECURE_REGISTRIES", "lab.example:5000")
    s = Settings.load(str(tmp_path))
    assert s.mirrors == ["a:5000", "http://b:5000"]
    assert s.is_insecure("lab.example:5000") and s.is_insecure("10.1.2.3:5000")
    assert s.is_insecure("127.0.0.1:5000") and s.is_insecure("localhost:5000")
    assert s.is_insecure("[::1]:5000")
    assert not s.is_insecure("192.0.2.1:5000")


def test_login_server_and_search_term():
    assert normalise_server("") == "docker.io"
    assert normalise_server("https://index.docker.io/v1/") == "docker.io"
    assert normalise_server("http://localhost:5000/") == "localhost:5000"
    s = Settings()
    assert split_term("localhost:5000/lab", s) == ("localhost:5000", "", "lab")
    assert split_term("busybox", s) == ("index.docker.io", "https", "busybox")
    assert split_term("busybox", Settings(mirrors=["http://m:1"])) == ("m:1", "http", "busybox")


def test_credentials_file(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "cfg"))
    assert credentials.get("localhost:5001") is None
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "config.json").write_text('{"psFormat": "table {{.ID}}"}')
    path, plain = credentials.store("localhost:5001", "labuser", "labpass")
    assert plain and path == str(tmp_path / "cfg" / "config.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = open(path).read()
    assert '\n\t"auths": {' in text  # Docker's tab indentation
    data = json.loads(text)
    assert data["psFormat"] == "table {{.ID}}"  # what dockerlab does not know is kept
    assert data["auths"]["localhost:5001"] == {"auth": "bGFidXNlcjpsYWJwYXNz"}
    assert credentials.get("localhost:5001") == ("labuser", "labpass")
    credentials.store("docker.io", "me", "pw")
    assert "https://index.docker.io/v1/" in json.loads(open(path).read())["auths"]
    credentials.erase("localhost:5001")
    credentials.erase("nothere:1")
    assert "localhost:5001" not in json.loads(open(path).read())["auths"]


def test_credential_helpers(tmp_path, monkeypatch):
    """``credHelpers``/``credsStore`` name a docker-credential-* program: get, store, erase."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    store = tmp_path / "helper-store.json"
    helper = bindir / "docker-credential-lab"
    helper.write_text(
        "#!/usr/bin/env python3\n"
        "import json, sys\n"
        f"path = {str(store)!r}\n"
        "try:\n    data = json.load(open(path))\nexcept OSError:\n    data = {}\n"
        "arg = sys.stdin.read().strip()\n"
        "if sys.argv[1] == 'store':\n"
        "    c = json.loads(arg); data[c['ServerURL']] = [c['Username'], c['Secret']]\n"
        "elif sys.argv[1] == 'erase':\n    data.pop(arg, None)\n"
        "elif sys.argv[1] == 'get':\n"
        "    if arg not in data:\n        print('credentials not found in native keychain')\n"
        "        sys.exit(1)\n"
        "    print(json.dumps({'ServerURL': arg, 'Username': data[arg][0],"
        " 'Secret': data[arg][1]}))\n"
        "json.dump(data, open(path, 'w'))\n"
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "config.json").write_text(json.dumps({"credHelpers": {"lab:5000": "lab"}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(cfg))
    assert credentials.get("lab:5000") is None
    _, plain = credentials.store("lab:5000", "u", "secret")
    assert not plain
    assert "secret" not in (cfg / "config.json").read_text()
    assert credentials.get("lab:5000") == ("u", "secret")
    credentials.erase("lab:5000")
    assert credentials.get("lab:5000") is None
    # plain entries for other hosts still come from the file
    auth = base64.b64encode(b"a:b").decode()
    data = json.loads((cfg / "config.json").read_text())
    data["auths"]["other:1"] = {"auth": auth}
    (cfg / "config.json").write_text(json.dumps(data))
    assert credentials.get("other:1") == ("a", "b")


def test_urls_split_as_urlsplit_splits_them():
    import urllib.parse

    from dockerlab.engine.registry.client import _split_url

    for url in (
        "https://registry-1.docker.io/v2/library/busybox/manifests/latest",
        "http://127.0.0.1:5000/v2/",
        "https://auth.example.com:8443/token?service=reg&scope=repository:a:pull#frag",
        "HTTP://[::1]:5000/v2/x/blobs/uploads/?_state=abc",
        "https://host?only=query",
        "https://host",
    ):
        u = urllib.parse.urlsplit(url)
        target = (u.path or ("/" if u.query else "")) + (f"?{u.query}" if u.query else "")
        assert _split_url(url) == (u.scheme, u.netloc, target), url
