"""Process-level run/create flags (--ulimit, --sysctl, --group-add, --label-file, --cidfile,
--platform) and the daemon's checks of them: Docker's body fields and Docker's messages."""

from __future__ import annotations

import os

import pytest

from dockerlab.cli.options import (
    CidFile,
    check_platform,
    create_body,
    parse_platform,
    parse_ulimit,
)
from dockerlab.cli.parser import parse
from dockerlab.engine.containers import hostconfig
from dockerlab.engine.containers.create import check_stop_signal, compose
from dockerlab.engine.runtime.process import (
    StartFailure,
    additional_groups,
    check_sysctls,
    resolve_user,
)
from dockerlab.errors import InvalidParameter, NotFound, UsageError

IMAGE = {"config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]}}


def body(*argv: str) -> dict:
    return create_body(parse(list(argv)), environ={})[1]


# ---- --ulimit ------------------------------------------------------------------------------


def test_ulimit_soft_and_hard_become_hostconfig_ulimits():
    b = body("run", "--ulimit", "nofile=512:1024", "--ulimit", "core=-1", "busybox")
    assert b["HostConfig"]["Ulimits"] == [
        {"Name": "nofile", "Soft": 512, "Hard": 1024},
        {"Name": "core", "Soft": -1, "Hard": -1},
    ]


def test_a_later_ulimit_of_the_same_name_replaces_the_earlier():
    b = body("run", "--ulimit", "nproc=10:20", "--ulimit", "nproc=30", "busybox")
    assert b["HostConfig"]["Ulimits"] == [{"Name": "nproc", "Soft": 30, "Hard": 30}]


def test_no_ulimit_is_an_empty_list_as_docker_shows():
    assert body("run", "busybox")["HostConfig"]["Ulimits"] == []


@pytest.mark.parametrize(
    "value, message",
    [
        ("nofile=x", 'strconv.ParseInt: parsing "x": invalid syntax'),
        ("nofile", "invalid ulimit argument: nofile"),
        ("bogus=1", "invalid ulimit type: bogus"),
        (
            "nofile=1:2:3",
            "too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`",
        ),
        ("nofile=10:5", "ulimit soft limit must be less than or equal to hard limit: 10 > 5"),
        ("as=1", "invalid ulimit type: as"),
    ],
)
def test_ulimit_parse_errors_are_dockers(value, message):
    with pytest.raises(ValueError) as err:
        parse_ulimit(value)
    assert str(err.value) == message
    with pytest.raises(UsageError) as usage:
        body("run", "--ulimit", value, "busybox")
    assert str(usage.value).splitlines()[0] == (
        f'invalid argument "{value}" for "--ulimit" flag: {message}'
    )


def test_soft_may_exceed_an_unlimited_hard():
    assert parse_ulimit("nofile=5:-1") == {"Name": "nofile", "Soft": 5, "Hard": -1}


# ---- --sysctl ------------------------------------------------------------------------------


def test_namespaced_sysctls_become_a_map():
    b = body(
        "run",
        "--sysctl",
        "kernel.shmmax=1000000",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "--sysctl",
        "fs.mqueue.msg_max=20",
        "--sysctl",
        "net.x=a=b",
        "busybox",
    )
    assert b["HostConfig"]["Sysctls"] == {
        "kernel.shmmax": "1000000",
        "net.ipv4.ip_forward": "1",
        "fs.mqueue.msg_max": "20",
        "net.x": "a=b",
    }
    assert "Sysctls" not in body("run", "busybox")["HostConfig"]  # omitempty, as Docker


@pytest.mark.parametrize("value", ["vm.swappiness=1", "kernel.msgmax", "kernel.hostname=x"])
def test_other_sysctls_are_not_whitelisted(value):
    with pytest.raises(UsageError) as err:
        body("run", "--sysctl", value, "busybox")
    assert str(err.value).splitlines()[0] == (
        f'invalid argument "{value}" for "--sysctl" flag: sysctl \'{value}\' is not whitelisted'
    )


def test_runc_refuses_net_sysctls_with_the_host_network_and_foreign_ones():
    check_sysctls({"net.ipv4.ip_forward": "1", "kernel.sem": "1 2 3 4"}, host_network=False)
    with pytest.raises(StartFailure, match='sysctl "net.ipv4.ip_forward" not allowed in host'):
        check_sysctls({"net.ipv4.ip_forward": "1"}, host_network=True)
    with pytest.raises(StartFailure, match="is not in a separate kernel namespace"):
        check_sysctls({"vm.swappiness": "1"}, host_network=False)


# ---- groups --------------------------------------------------------------------------------


def test_group_add_is_kept_as_given():
    b = body("run", "--group-add", "audio", "--group-add", "5", "busybox")
    assert b["HostConfig"]["GroupAdd"] == ["audio", "5"]
    assert body("run", "busybox")["HostConfig"]["GroupAdd"] is None


@pytest.fixture
def etc(tmp_path, monkeypatch):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
        "alice:x:1000:1000::/home/alice:/bin/sh\n"
    )
    (tmp_path / "etc/group").write_text(
        "root:x:0:\nwheel:x:10:root\nalice:x:1000:\ng1:x:2000:alice\ng2:x:3000:bob,alice\n"
        "nobody:x:65534:\n"
    )
    monkeypatch.chdir(tmp_path)
    real_entries = resolve_user.__globals__["_entries"]
    monkeypatch.setitem(
        resolve_user.__globals__, "_entries", lambda path: real_entries(path.lstrip("/"))
    )


@pytest.mark.parametrize(
    "spec, add, expected",
    [  # what `id` shows under Docker 20.10 for each (checked against it by hand)
        ("", [], (0, 0, [0, 10])),
        ("1000", [], (1000, 1000, [1000, 2000, 3000])),
        ("alice:g1", [], (1000, 2000, [2000])),
        ("alice:3000", [], (1000, 3000, [3000])),
        ("4242", [], (4242, 0, [0])),
        ("4242:4242", [], (4242, 4242, [4242])),
        ("nobody", [], (65534, 65534, [65534])),
        ("alice", ["wheel", "5", "2000"], (1000, 1000, [5, 10, 1000, 2000, 3000])),
        ("1000:1000", ["1000"], (1000, 1000, [1000])),
    ],
)
def test_supplementary_groups_as_docker_sets_them(etc, spec, add, expected):
    uid, gid, groups, _ = resolve_user(spec, add)
    assert (uid, gid, groups) == expected


def test_an_unknown_group_name_is_dockers_error(etc):
    with pytest.raises(StartFailure) as err:
        additional_groups(["audio"], [["root", "x", "0", ""]])
    assert str(err.value) == "Unable to find group audio: no matching entries in group file"
    with pytest.raises(StartFailure, match="uids and gids must be in range 0-2147483647"):
        additional_groups(["4294967296"], [])


# ---- labels, cidfile, platform, stop signal, workdir ---------------------------------------


def test_label_file_is_read_as_docker_reads_it_and_flags_override(tmp_path):
    f = tmp_path / "labels"
    f.write_text("a=1\n# comment\nbare\n  c=3 \n")
    b = body("run", "--label-file", str(f), "-l", "a=2", "busybox")
    assert b["Labels"] == {"a": "2", "c": "3 "}  # a bare name has no value to take: dropped
    with pytest.raises(UsageError, match=r"^dockerlab: open /nonexistent: no such file"):
        body("run", "--label-file", "/nonexistent", "busybox")


def test_cidfile_is_made_written_and_refused_when_present(tmp_path):
    path = str(tmp_path / "cid")
    assert body("run", "--cidfile", path, "busybox")["HostConfig"]["ContainerIDFile"] == path
    cid = CidFile(path)
    cid.write("abc")
    cid.close()
    assert open(path).read() == "abc"
    with pytest.raises(UsageError) as err:
        CidFile(path)
    assert str(err.value).splitlines()[0] == (
        "dockerlab: Container ID file found, make sure the other container isn't running or "
        f"delete {path}."
    )
    unused = CidFile(str(tmp_path / "unused"))
    unused.close()  # nothing created: the file goes again
    assert not os.path.exists(tmp_path / "unused")


def test_platform_parsing_and_matching():
    assert parse_platform("linux/arm64", "amd64") == {
        "os": "linux",
        "architecture": "arm64",
        "variant": "",
    }
    assert parse_platform("linux", "amd64")["architecture"] == "amd64"
    assert parse_platform("x86_64", "arm64") == {
        "os": "linux",
        "architecture": "amd64",
        "variant": "",
    }
    with pytest.raises(UsageError) as err:
        parse_platform("bogus", "amd64")
    assert str(err.value).splitlines()[0] == (
        'dockerlab: error parsing specified platform: "bogus": unknown operating system or '
        "architecture: invalid argument."
    )
    image = {"Os": "linux", "Architecture": "amd64"}
    check_platform("busybox", parse_platform("linux/amd64", "amd64"), image)
    with pytest.raises(NotFound) as nf:
        check_platform("busybox", parse_platform("linux/arm64", "amd64"), image)
    assert str(nf.value) == (
        "image with reference busybox was found but does not match the specified platform: "
        "wanted linux/arm64, actual: linux/amd64"
    )


@pytest.mark.parametrize("ok", ["SIGTERM", "usr1", "99", "RTMIN+3", "SIGRTMAX-1"])
def test_stop_signals_docker_accepts(ok):
    check_stop_signal(ok)


@pytest.mark.parametrize("bad", ["BOGUS", "0", "SIGRTMIN+99"])
def test_stop_signals_docker_refuses(bad):
    with pytest.raises(InvalidParameter, match=f"^Invalid signal: {bad.replace('+', '.')}$"):
        compose({"Image": "b", "StopSignal": bad}, "s", IMAGE, "c" * 64)


def test_stop_timeout_zero_is_kept():
    rec = compose({"Image": "b", "StopTimeout": 0}, "s", IMAGE, "c" * 64)
    assert rec["Config"]["StopTimeout"] == 0
    assert "StopTimeout" not in compose({"Image": "b"}, "s", IMAGE, "c" * 64)["Config"]


def test_a_relative_workdir_is_refused():
    with pytest.raises(InvalidParameter) as err:
        compose({"Image": "b", "WorkingDir": "relative"}, "s", IMAGE, "c" * 64)
    assert str(err.value) == (
        "the working directory 'relative' is invalid, it needs to be an absolute path"
    )


# ---- HostConfig ----------------------------------------------------------------------------


def test_hostconfig_has_dockers_63_keys_with_dockers_defaults():
    rec = compose({"Image": "b"}, "s", IMAGE, "c" * 64)
    host = rec["HostConfig"]
    assert len(host) == 63
    assert list(host) == list(hostconfig.defaults())  # Docker's order
    assert host["Privileged"] is False and host["ReadonlyRootfs"] is False
    assert host["PidsLimit"] is None and host["Ulimits"] == [] and host["Dns"] == []
    assert host["LogConfig"] == {"Type": "json-file", "Config": {}}
    assert host["ShmSize"] == 67108864 and host["PortBindings"] == {}
    assert "Init" not in host and "ExposedPorts" not in rec["Config"]


def test_a_request_sets_only_its_keys_and_unknown_ones_follow():
    host = compose(
        {"Image": "b", "HostConfig": {"Memory": 1 << 30, "Tmpfs": {"/t": ""}, "Dns": None}},
        "s",
        IMAGE,
        "c" * 64,
    )["HostConfig"]
    assert host["Memory"] == 1 << 30 and host["Tmpfs"] == {"/t": ""} and host["Dns"] == []
    assert len(host) == 64


def test_privileged_masks_nothing():
    host = compose({"Image": "b", "HostConfig": {"Privileged": True}}, "s", IMAGE, "c" * 64)
    assert host["HostConfig"]["MaskedPaths"] is None


def test_the_daemon_checks_api_ulimits_and_sysctls():
    with pytest.raises(InvalidParameter, match="invalid ulimit type: nope"):
        hostconfig.check({"Ulimits": [{"Name": "nope", "Soft": 1, "Hard": 1}]})
    with pytest.raises(InvalidParameter):
        hostconfig.check({"Sysctls": {"net.x": 1}})
