"""--mount, --tmpfs, --read-only, --volumes-from, --shm-size: parsing, the body, the messages."""

from __future__ import annotations

import pytest

from dockerlab.cli.mounts import parse_mount
from dockerlab.cli.options import create_body
from dockerlab.cli.parser import parse
from dockerlab.engine.containers import create as C
from dockerlab.engine.runtime import linux as L
from dockerlab.engine.runtime.rootfs import MountRefused, tmpfs_options
from dockerlab.errors import InvalidParameter, UsageError


def body(*argv: str):
    return create_body(parse(["run", *argv, "busybox"]), environ={})[1]


# ---- the flag: Docker 20.10's opts.MountOpt ---------------------------------------------------


def test_mount_fields_and_aliases_become_dockers_mount_json():
    assert parse_mount("type=bind,src=/s,dst=/d,readonly") == {
        "Type": "bind", "Source": "/s", "Target": "/d", "ReadOnly": True,
    }  # fmt: skip
    assert parse_mount("type=bind,source=/s,destination=/d,ro=false") == {
        "Type": "bind", "Source": "/s", "Target": "/d",
    }  # fmt: skip
    assert parse_mount("target=/d,ro=1") == {"Type": "volume", "Target": "/d", "ReadOnly": True}
    assert parse_mount("TYPE=TMPFS,dst=/t,tmpfs-size=1m,tmpfs-mode=1700") == {
        "Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1 << 20, "Mode": 0o1700},
    }  # fmt: skip
    assert parse_mount("src=v,dst=/v,volume-nocopy,volume-label=a=b,volume-opt=o=size=1m") == {
        "Type": "volume", "Source": "v", "Target": "/v",
        "VolumeOptions": {"NoCopy": True, "Labels": {"a": "b"},
                          "DriverConfig": {"Options": {"o": "size=1m"}}},
    }  # fmt: skip
    assert parse_mount("src=v,dst=/v,volume-nocopy=true")["VolumeOptions"] == {
        "NoCopy": True,
        "DriverConfig": {},
    }
    assert parse_mount("type=bind,src=/s,dst=/d,bind-propagation=RSHARED")["BindOptions"] == {
        "Propagation": "rshared"
    }


def test_mount_is_read_as_go_csv_quoted_fields_included():
    assert parse_mount('"type=tmpfs","dst=/a,b"') == {"Type": "tmpfs", "Target": "/a,b"}
    assert parse_mount("dst=/x\ntype=bind") == {"Type": "volume", "Target": "/x"}  # one record


PARSE = "parse error on line 1, column"
BARE = 'bare " in non-quoted-field'
QUOTE = 'extraneous or missing " in quoted-field'


@pytest.mark.parametrize(
    "value, reason",
    [
        ("", "EOF"),
        ('type=bind,src=a"b,dst=/x', f"{PARSE} 16: {BARE}"),
        ('"a"b', f"{PARSE} 3: {QUOTE}"),
        ('dst=/x,"abc', f"{PARSE} 12: {QUOTE}"),
        ('dst="/x"', f"{PARSE} 5: {BARE}"),
        ("type=tmpfs,dst=/x,foo", "invalid field 'foo' must be a key=value pair"),
        ('type=tmpfs,dst=/x,"a""b"', "invalid field 'a\"b' must be a key=value pair"),
        ("type=tmpfs,dst=/x,foo=1", "unexpected key 'foo' in 'foo=1'"),
        ("type=tmpfs", "target is required"),
        ("type=,dst=/x", "type is required"),
        ("dst=/x,ro=maybe", "invalid value for ro: maybe"),
        ("dst=/x,volume-nocopy=2", "invalid value for volume-nocopy: 2"),
        ("type=tmpfs,dst=/x,tmpfs-size=abc", "invalid value for tmpfs-size: abc"),
        ("type=tmpfs,dst=/x,tmpfs-mode=99", "invalid value for tmpfs-mode: 99"),
        ("type=bind,src=/s,dst=/x,volume-nocopy",
         "cannot mix 'volume-*' options with mount type 'bind'"),
        ("dst=/x,bind-propagation=shared", "cannot mix 'bind-*' options with mount type 'volume'"),
        ("dst=/x,tmpfs-size=1m", "cannot mix 'tmpfs-*' options with mount type 'volume'"),
    ],
)  # fmt: skip
def test_mount_flag_errors_are_the_clis_words(value, reason):
    with pytest.raises(ValueError) as info:
        parse_mount(value)
    assert str(info.value) == reason
    with pytest.raises(UsageError) as usage:
        parse(["run", "--mount", value, "busybox"])
    quoted = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    assert str(usage.value) == (
        f'invalid argument "{quoted}" for "--mount" flag: {reason}\nSee \'dockerlab run --help\'.'
    )


# ---- the body ---------------------------------------------------------------------------------


def test_flags_become_host_config_fields():
    hc = body("--read-only", "--tmpfs", "/run:size=1m,mode=700", "--tmpfs", "/t",
              "--shm-size", "1m", "--volumes-from", "a", "--volumes-from", "b:ro",
              "--mount", "type=tmpfs,dst=/x")["HostConfig"]  # fmt: skip
    assert hc["ReadonlyRootfs"] is True
    assert hc["Tmpfs"] == {"/run": "size=1m,mode=700", "/t": ""}
    assert hc["ShmSize"] == 1 << 20
    assert hc["VolumesFrom"] == ["a", "b:ro"]
    assert hc["Mounts"] == [{"Type": "tmpfs", "Target": "/x"}]
    plain = body()["HostConfig"]
    assert (plain["ReadonlyRootfs"], plain["ShmSize"], plain["VolumesFrom"]) == (False, 0, None)
    assert "Tmpfs" not in plain and "Mounts" not in plain


def test_shm_size_flag_error():
    with pytest.raises(UsageError) as info:
        body("--shm-size", "lots")
    assert str(info.value).startswith(
        'invalid argument "lots" for "--shm-size" flag: invalid size: \'lots\''
    )


def test_help_lists_the_flags():
    from dockerlab.cli.parser import ShowText

    with pytest.raises(ShowText) as info:
        parse(["run", "--help"])
    for line in ("--mount mount", "--read-only", "--shm-size bytes", "--tmpfs list",
                 "--volumes-from list"):  # fmt: skip
        assert line in info.value.text


# ---- the daemon's checks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mount, message",
    [
        ({"Type": "bind", "Target": "/x"}, 'type "bind": field Source must not be empty'),
        ({"Type": "bind", "Source": "rel", "Target": "/x"},
         "type \"bind\": invalid mount path: 'rel' mount path must be absolute"),
        ({"Type": "bind", "Source": "/nope-dockerlab", "Target": "/x"},
         'type "bind": bind source path does not exist: /nope-dockerlab'),
        ({"Type": "bind", "Source": "/", "Target": "/x", "BindOptions": {"Propagation": "foo"}},
         'type "bind": invalid propagation mode: foo'),
        ({"Type": "volume", "Target": "/x", "ReadOnly": True},
         'type "volume": must not set ReadOnly mode when using anonymous volumes'),
        ({"Type": "tmpfs", "Source": "a", "Target": "/x"},
         'type "tmpfs": field Source must not be specified'),
        ({"Type": "bogus", "Target": "/x"}, 'type "bogus": mount type unknown'),
        ({"Type": "tmpfs", "Target": "x"},
         "type \"tmpfs\": invalid mount path: 'x' mount path must be absolute"),
        ({"Type": "tmpfs", "Target": "/a/.."},
         "type \"tmpfs\": invalid specification: destination can't be '/'"),
    ],
)  # fmt: skip
def test_mount_config_refusals_are_the_daemons(mount, message):
    with pytest.raises(InvalidParameter) as info:
        C.check_mount(mount)
    assert str(info.value) == f"invalid mount config for {message}"


def test_volumes_from_modes():
    assert C.volumes_from_spec("a") == ("a", True)
    assert C.volumes_from_spec("a:ro") == ("a", False)
    assert C.volumes_from_spec("a:rw,z") == ("a", True)
    for mode in ("foo", "rshared", "nocopy", "ro,rw", ""):
        with pytest.raises(InvalidParameter, match=f"^invalid mode: {mode}$"):
            C.volumes_from_spec(f"a:{mode}")
    with pytest.raises(InvalidParameter, match="cannot be an empty string"):
        C.volumes_from_spec("")


def test_tmpfs_data_in_the_largest_unit():
    assert C.tmpfs_data({"TmpfsOptions": {"SizeBytes": 1 << 20, "Mode": 0o1700}}) == (
        "mode=1700,size=1m"
    )
    assert C.tmpfs_data({"TmpfsOptions": {"SizeBytes": 3 << 30}}) == "size=3g"
    assert C.tmpfs_data({"TmpfsOptions": {"SizeBytes": 1536}}) == "size=1536"
    assert C.tmpfs_data({"TmpfsOptions": {"SizeBytes": 1000}}) == "size=1000"
    assert C.tmpfs_data({}) == ""


def test_compose_keeps_dockers_defaults():
    image = {"config": {"Cmd": ["sh"]}}
    host = C.compose({"Image": "busybox"}, "sha256:x", image, "a" * 64)["HostConfig"]
    assert (host["ShmSize"], host["ReadonlyRootfs"], host["VolumesFrom"]) == (
        64 << 20, False, None,
    )  # fmt: skip
    with pytest.raises(InvalidParameter, match="^SHM size can not be less than 0$"):
        C.compose({"Image": "b", "HostConfig": {"ShmSize": -1}}, "sha256:x", image, "a" * 64)
    with pytest.raises(InvalidParameter, match="mount path must be absolute"):
        C.compose({"Image": "b", "HostConfig": {"Tmpfs": {"x": ""}}}, "sha256:x", image, "a" * 64)


# ---- tmpfs options, merged as moby's MergeTmpfsOptions -----------------------------------------


def test_tmpfs_defaults_are_noexec_nosuid_nodev_rprivate():
    flags, data, propagation = tmpfs_options("")
    assert flags == L.MS_NOEXEC | L.MS_NOSUID | L.MS_NODEV
    assert (data, propagation) == ("", L.MS_PRIVATE | L.MS_REC)


def test_tmpfs_options_given_win_over_the_defaults():
    flags, data, propagation = tmpfs_options("exec,size=1m,mode=700,size=2m,shared,ro")
    assert flags == L.MS_NOSUID | L.MS_NODEV | L.MS_RDONLY
    assert data == "mode=700,size=2m"
    assert propagation == 1 << 20
    flags, _, _ = tmpfs_options("rw,dev,suid,defaults")
    assert flags == L.MS_NOEXEC
    assert tmpfs_options("", readonly=True)[0] & L.MS_RDONLY


@pytest.mark.parametrize(
    "data, shown",
    [("bogus", '["bogus"]'), ("foo=1", '["foo" "1"]'), ("noexec=1", '["noexec" "1"]')],
)
def test_tmpfs_unknown_options_are_refused_in_dockers_words(data, shown):
    with pytest.raises(MountRefused) as info:
        tmpfs_options(data)
    assert str(info.value) == f"invalid tmpfs option {shown}"


def test_local_volume_options_are_checked_as_the_local_driver_does():
    from dockerlab.engine.runtime.rootfs import mount_options
    from dockerlab.engine.runtime.volmount import check_options

    assert check_options({"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}) == ""
    assert check_options({"foo": "1"}) == 'invalid option: "foo"'
    assert check_options({"type": "nfs"}) == 'missing required option: "device"'
    assert check_options({"o": "x", "device": "d"}) == 'missing required option: "type"'
    assert check_options({"type": "t", "device": "d", "size": "1g"}) == (
        "quota size requested but no quota support"
    )
    assert mount_options("size=1m,ro,uid=5,exec") == (L.MS_RDONLY, "size=1m,uid=5")
