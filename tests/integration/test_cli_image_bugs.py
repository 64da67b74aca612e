"""Image bugs a learner hit following the course (issue 9, compat-diffs.md): rmi of one of
two tags, `build` of a Dockerfile path and of a bad tag, symlink layer sizes, a commit's
Container and ContainerConfig. Real containers and builds, through the CLI."""

from __future__ import annotations

import functools
import json
import os

import helpers
import pytest


@pytest.fixture
def cli(engine):
    return functools.partial(helpers.cli, engine.paths.root, clean=True)


@pytest.fixture
def committed(cli):
    """cmp-img:1 and cmp-img:2, two names of one image committed from container src."""
    assert cli("run", "--name", "src", "busybox", "sh", "-c", "echo x > /x").returncode == 0
    assert cli("commit", "src", "cmp-img:1").returncode == 0
    assert cli("tag", "cmp-img:1", "cmp-img:2").returncode == 0
    return cli("inspect", "-f", "{{.Id}}", "cmp-img:1").stdout.decode().strip()


def test_rmi_of_one_of_two_tags_of_a_used_image_untags_only_the_last_is_refused(cli, committed):
    # compat-diffs rmi-untag-one-of-two
    cid = cli("create", "--name", "cmp-uses", "cmp-img:2").stdout.decode().strip()
    r = cli("rmi", "cmp-img:1")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"Untagged: cmp-img:1\n", b"")
    r = cli("rmi", "cmp-img:2")
    assert r.returncode == 1
    assert r.stderr.decode() == (
        'Error response from daemon: conflict: unable to remove repository reference "cmp-img:2"'
        f" (must force) - container {cid[:12]} is using its referenced image {committed[7:19]}\n"
    )
    assert cli("inspect", "-f", "{{.RepoTags}}", committed).stdout == b"[cmp-img:2]\n"


def test_build_of_a_dockerfile_path_says_the_context_must_be_a_directory(cli, tmp_path):
    (tmp_path / "b1").mkdir()
    dockerfile = tmp_path / "b1" / "Dockerfile"
    dockerfile.write_text("FROM busybox\n")
    r = cli("build", "-t", "x", str(dockerfile))
    assert (r.returncode, r.stdout) == (1, b"")
    assert r.stderr.decode() == (
        f"unable to prepare context: context must be a directory: {os.path.realpath(dockerfile)}\n"
    )
    r = cli("build", "-t", "x", str(tmp_path / "nope"))
    assert (r.returncode, r.stderr.decode()) == (
        1,
        f'unable to prepare context: path "{tmp_path / "nope"}" not found\n',
    )


def test_build_with_an_uppercase_tag_is_refused_as_a_flag_value(cli, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    r = cli("build", "-t", "Cmp-Bad", str(tmp_path))
    assert (r.returncode, r.stdout) == (125, b"")
    assert r.stderr == (
        b'invalid argument "Cmp-Bad" for "-t, --tag" flag: invalid reference format: '
        b"repository name (library/Cmp-Bad) must be lowercase\nSee 'dockerlab build --help'.\n"
    )
    assert cli("images", "-q", "-a").stdout.count(b"\n") == 1  # nothing was built


def test_a_layer_with_one_symlink_is_its_targets_length(cli, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN ln -s /srv/www /www\n")
    assert cli("build", "-q", "-t", "sl", str(tmp_path)).returncode == 0
    sizes = cli("history", "--format", "{{.Size}}", "sl").stdout.decode().split()
    assert sizes[0] == "8B"
    base = cli("inspect", "-f", "{{.Size}}", "busybox").stdout
    total = cli("inspect", "-f", "{{.Size}}", "sl").stdout
    assert int(total) == int(base) + 8
    # the container's writable layer counts it the same way (system df -v)
    assert cli("run", "--name", "ln1", "busybox", "ln", "-s", "/srv/www", "/www").returncode == 0
    rows = cli("system", "df", "-v").stdout.decode().splitlines()
    (row,) = [r for r in rows if r.endswith(" ln1")]
    assert " 8B " in row


def test_a_committed_image_keeps_its_container_and_container_config(cli, committed):
    # compat-diffs commit-container-field, inspect-keys-image (Docker 20.10)
    src = cli("inspect", "-f", "{{.Id}}", "src").stdout.decode().strip()
    image = json.loads(cli("image", "inspect", "cmp-img:1").stdout)[0]
    assert image["Container"] == src
    assert image["ContainerConfig"]["Cmd"] == ["sh", "-c", "echo x > /x"]
    assert image["ContainerConfig"]["Image"] == "busybox"
    assert image["VirtualSize"] == image["Size"]
    r = cli("inspect", "-f", "{{if .Container}}container-id-set{{else}}empty{{end}}", "cmp-img:1")
    assert r.stdout == b"container-id-set\n"
    base = json.loads(cli("image", "inspect", "busybox").stdout)[0]
    keys = list(base)
    assert keys[keys.index("Created") + 1 : keys.index("Created") + 3] == [
        "Container",
        "ContainerConfig",
    ]
    assert base["Container"] == "" and base["ContainerConfig"]["Cmd"] is None
    assert keys[keys.index("Size") + 1] == "VirtualSize"
