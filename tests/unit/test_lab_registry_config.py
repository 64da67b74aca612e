"""The lab registry's pure parts: its generated config, ``--user`` and htpasswd parsing,
and the port probe (issue 11)."""

from __future__ import annotations

import socket

import pytest

from dockerlab.engine.registry import lab
from dockerlab.errors import InvalidParameter


def test_config_has_storage_address_deletes_and_no_auth_without_users():
    text = lab.render_config("127.0.0.1:5000", "/var/lib/dockerlab/registry/data", "s3cret")
    assert text.startswith("version: 0.1\n")
    assert '    rootdirectory: "/var/lib/dockerlab/registry/data"\n' in text
    assert '  addr: "127.0.0.1:5000"\n' in text
    assert '  secret: "s3cret"\n' in text
    assert "  delete:\n    enabled: true\n" in text
    assert "auth:" not in text


def test_config_with_htpasswd_names_the_file_and_realm():
    text = lab.render_config("127.0.0.1:5001", "/d", "x", htpasswd="/r/htpasswd")
    assert text.endswith(
        'auth:\n  htpasswd:\n    realm: "Registry Realm"\n    path: "/r/htpasswd"\n'
    )


def test_config_with_a_token_server_and_tls():
    token = {"realm": "http://127.0.0.1:1/token", "service": "s", "issuer": "i"}
    text = lab.render_config("127.0.0.1:5001", "/d", "x", token=token, tls=("/c.crt", "/k.pem"))
    assert '  tls:\n    certificate: "/c.crt"\n    key: "/k.pem"\nauth:\n  token:\n' in text
    assert text.endswith(
        '    realm: "http://127.0.0.1:1/token"\n    service: "s"\n    issuer: "i"\n'
    )


def test_config_quotes_odd_paths_as_yaml_double_quoted_strings():
    text = lab.render_config("127.0.0.1:5000", '/tmp/a "b": #c', "x")
    assert '    rootdirectory: "/tmp/a \\"b\\": #c"\n' in text


def test_parse_user():
    assert lab.parse_user("alice:pa:ss") == ("alice", "pa:ss")
    for bad in ("alice", "alice:", ":pw", "a b:pw"):
        with pytest.raises(InvalidParameter):
            lab.parse_user(bad)


def test_htpasswd_users_accepts_bcrypt_and_refuses_what_the_registry_ignores():
    text = "# users\nalice:$2y$05$abc\n\nbob:$2b$10$def\n"
    assert lab.htpasswd_users(text) == ["alice", "bob"]
    with pytest.raises(InvalidParameter, match="not bcrypt"):
        lab.htpasswd_users("md5user:$apr1$gLk0iXFE$8V5VLq/G0RrwAiFaWUUXD/\n", "f")
    with pytest.raises(InvalidParameter, match="malformed"):
        lab.htpasswd_users("nocolon\n")


def test_port_free_sees_a_listener():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert not lab.port_free("127.0.0.1", port)
    assert lab.port_free("127.0.0.1", port)


def test_a_pid_whose_cmdline_is_another_program_is_not_the_registry(tmp_path):
    from dockerlab.engine.paths import Paths

    reg = lab.LabRegistry(Paths.of(str(tmp_path)))
    (tmp_path / "registry").mkdir()
    (tmp_path / "registry" / "registry.pid").write_text("1\n")  # init, never ours
    assert reg._pid() is None
    (tmp_path / "registry" / "registry.pid").write_text("garbage\n")
    assert reg._pid() is None
