"""Docker's --filter for images and volumes, as the engine applies them (pure)."""

from __future__ import annotations

import pytest

from dockerlab.engine.filters import filter_images, filter_volumes
from dockerlab.errors import InvalidParameter

IMAGES = [
    {"Id": "sha256:a", "RepoTags": ["busybox:latest", "busybox:1.36", "me/app:v1"]},
    {"Id": "sha256:b", "RepoTags": ["localhost:5000/tool:2"]},
    {"Id": "sha256:c", "RepoTags": None},
    {"Id": "sha256:d", "RepoTags": ["<none>:<none>"]},
]


def ids(items):
    return [i["Id"] for i in items]


def test_dangling_images_are_the_untagged_ones():
    assert ids(filter_images(IMAGES, {"dangling": ["true"]})) == ["sha256:c", "sha256:d"]
    assert ids(filter_images(IMAGES, {"dangling": ["false"]})) == ["sha256:a", "sha256:b"]


def test_reference_globs_keep_only_the_matching_tags():
    out = filter_images(IMAGES, {"reference": ["busybox:1.*"]})
    assert out == [{"Id": "sha256:a", "RepoTags": ["busybox:1.36"], "RepoDigests": []}]
    assert ids(filter_images(IMAGES, {"reference": ["*/app", "localhost:5000/tool"]})) == [
        "sha256:a",
        "sha256:b",
    ]
    # Go's path.Match, as Docker 20.10 (checked against it): `*` stops at "/", and the
    # pattern meets the familiar name only (no docker.io/library/ spelling)
    assert filter_images(IMAGES, {"reference": ["*"]})[0]["RepoTags"] == [
        "busybox:latest",
        "busybox:1.36",
    ]
    assert filter_images(IMAGES, {"reference": ["*:v1"]}) == []
    assert filter_images(IMAGES, {"reference": ["me/app:v?"]})[0]["RepoTags"] == ["me/app:v1"]
    assert filter_images(IMAGES, {"reference": ["docker.io/library/busybox:latest"]}) == []
    for bad in ("[", "a\\", "[]", "[b-a]"):
        with pytest.raises(InvalidParameter, match="^syntax error in pattern$"):
            filter_images(IMAGES, {"reference": [bad]})
    with pytest.raises(InvalidParameter, match=r"^Invalid filter 'dangling=\[maybe\]'$"):
        filter_images(IMAGES, {"dangling": ["maybe"]})


def test_an_unknown_image_filter_is_refused_with_the_daemons_words():
    with pytest.raises(InvalidParameter, match="Invalid filter 'nope'"):
        filter_images(IMAGES, {"nope": ["1"]})


VOLUMES = [
    {"Name": "data", "Driver": "local", "Labels": {"tier": "db"}},
    {"Name": "cache", "Driver": "local", "Labels": None},
    {"Name": "olddata", "Driver": "other", "Labels": {"tier": "web"}},
]


def names(items):
    return [v["Name"] for v in items]


def test_volume_filters_and_within_a_key_or_across():
    used = {"data"}
    assert names(filter_volumes(VOLUMES, {"dangling": ["true"]}, used)) == ["cache", "olddata"]
    assert names(filter_volumes(VOLUMES, {"dangling": ["0"]}, used)) == ["data"]
    assert names(filter_volumes(VOLUMES, {"name": ["data"]}, used)) == ["data", "olddata"]
    # a regular expression, as Docker 20.10's (checked against it)
    assert names(filter_volumes(VOLUMES, {"name": ["^data$", "^c"]}, used)) == ["data", "cache"]
    assert names(filter_volumes(VOLUMES, {"name": ["["]}, used)) == []
    with pytest.raises(InvalidParameter, match=r"^Invalid filter 'dangling=\[maybe\]'$"):
        filter_volumes(VOLUMES, {"dangling": ["maybe"]}, used)
    assert names(filter_volumes(VOLUMES, {"driver": ["other"]}, used)) == ["olddata"]
    assert names(filter_volumes(VOLUMES, {"label": ["tier"]}, used)) == ["data", "olddata"]
    assert names(filter_volumes(VOLUMES, {"label": ["tier=db"], "name": ["a"]}, used)) == ["data"]
    with pytest.raises(InvalidParameter, match="Invalid filter 'size'"):
        filter_volumes(VOLUMES, {"size": ["1"]}, used)


def test_image_label_before_and_since():
    images = [
        {"Id": "old", "Created": 100, "Labels": {"tier": "db"}},
        {"Id": "mid", "Created": 200, "Labels": None},
        {"Id": "new", "Created": 300, "Labels": {"tier": "web", "x": ""}},
    ]
    assert ids(filter_images(images, {"label": ["tier"]})) == ["old", "new"]
    assert ids(filter_images(images, {"label": ["tier=web", "x"]})) == ["new"]
    assert ids(filter_images(images, {"before": ["mid"]})) == ["old"]
    assert ids(filter_images(images, {"since": ["mid"]})) == ["new"]
    assert ids(filter_images(images, {"since": ["x"]}, lambda ref: 150)) == ["mid", "new"]
