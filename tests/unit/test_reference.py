"""Docker image references: normalisation and Docker's error messages."""

from __future__ import annotations

import pytest

from dockerlab.engine.images import reference as r
from dockerlab.errors import InvalidParameter


@pytest.mark.parametrize(
    ("text", "domain", "path", "tag", "familiar"),
    [
        ("busybox", "docker.io", "library/busybox", "latest", "busybox:latest"),
        ("busybox:1.36", "docker.io", "library/busybox", "1.36", "busybox:1.36"),
        ("docker.io/library/busybox:1.36", "docker.io", "library/busybox", "1.36", "busybox:1.36"),
        (
            "index.docker.io/library/busybox",
            "docker.io",
            "library/busybox",
            "latest",
            "busybox:latest",
        ),
        ("user/app", "docker.io", "user/app", "latest", "user/app:latest"),
        ("localhost:5000/a/b:t", "localhost:5000", "a/b", "t", "localhost:5000/a/b:t"),
        ("localhost/app", "localhost", "app", "latest", "localhost/app:latest"),
        ("quay.io/org/x_y.z-1:v1.0", "quay.io", "org/x_y.z-1", "v1.0", "quay.io/org/x_y.z-1:v1.0"),
    ],
)
def test_reference_normalises_to_docker_familiar_form(text, domain, path, tag, familiar):
    ref = r.parse_tagged(text)
    assert (ref.domain, ref.path, ref.tag) == (domain, path, tag)
    assert ref.familiar() == familiar
    assert r.familiar(text) == familiar


def test_digest_reference_gets_no_default_tag():
    digest = "sha256:" + "a" * 64
    ref = r.parse_tagged(f"busybox@{digest}")
    assert ref.tag is None and ref.digest == digest
    assert ref.familiar() == f"busybox@{digest}"
    assert str(ref) == f"docker.io/library/busybox@{digest}"


def test_uppercase_repository_is_refused_with_dockers_message():
    with pytest.raises(InvalidParameter) as err:
        r.parse("Foo")
    assert str(err.value) == (
        "invalid reference format: repository name (library/Foo) must be lowercase"
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "busy box",
        "busybox:",
        ":tag",
        "a//b",
        "-a",
        "a:b:c",
        "busybox@sha256:abc",
        "a:" + "t" * 129,
    ],
)
def test_malformed_references_are_refused(text):
    with pytest.raises(InvalidParameter) as err:
        r.parse(text)
    assert "invalid reference format" in str(err.value) or "at least one component" in str(
        err.value
    )


def test_full_hex_id_is_not_a_repository_name():
    with pytest.raises(InvalidParameter) as err:
        r.parse("a" * 64)
    assert "cannot specify 64-byte hexadecimal strings" in str(err.value)
    assert r.is_full_id("a" * 64) and r.is_full_id("sha256:" + "b" * 64)
    assert not r.is_full_id("sha256:abc")


def test_short_id_is_twelve_hex_characters():
    assert r.short_id("sha256:" + "0123456789abcdef" * 4) == "0123456789ab"
