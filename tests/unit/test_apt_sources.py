"""Reading the host's apt sources for ``image bootstrap debian|ubuntu``, and the lines
debootstrap's output is condensed to (issue 11)."""

from __future__ import annotations

import pytest

from dockerlab.engine.images import distro
from dockerlab.errors import InvalidParameter

DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Enabled: no
"""


def test_deb822_paragraphs():
    found = distro.parse_deb822(DEB822, "/etc/apt/sources.list.d/debian.sources")
    assert [e["URIs"] for e in found] == [
        ["http://deb.debian.org/debian"],
        ["http://deb.debian.org/debian-security"],
    ]
    assert found[0]["Suites"] == ["bookworm", "bookworm-updates"]
    assert found[0]["Signed-By"] == "/usr/share/keyrings/debian-archive-keyring.gpg"
    assert found[0]["File"].endswith("debian.sources")


def test_deb822_inline_key_is_not_taken_for_a_path():
    text = (
        "Types: deb\nURIs: http://x/debian\nSuites: trixie\nSigned-By:\n"
        " -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n abc\n"
    )
    assert distro.parse_deb822(text)[0]["Signed-By"] == ""


def test_one_line_format_with_options_and_comments():
    text = (
        "# comment\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian trixie main contrib\n"
        "deb-src http://mirror.example/debian trixie main\n"
        "deb http://archive.ubuntu.com/ubuntu noble main  # trailing\n"
        "deb cdrom:[Debian]/ bookworm main\n"
        "garbage\n"
    )
    found = distro.parse_one_line(text)
    assert [(e["Types"], e["URIs"], e["Suites"]) for e in found] == [
        (["deb"], ["http://mirror.example/debian"], ["trixie"]),
        (["deb-src"], ["http://mirror.example/debian"], ["trixie"]),
        (["deb"], ["http://archive.ubuntu.com/ubuntu"], ["noble"]),
        (["deb"], ["cdrom:[Debian]/"], ["bookworm"]),
    ]
    assert found[0]["Signed-By"] == "/k.gpg"
    assert found[0]["Components"] == ["main", "contrib"]


def test_choose_mirror_picks_the_main_archive_and_its_plain_suite():
    sources = distro.parse_deb822(DEB822)
    assert distro.choose_mirror("debian", sources) == ("http://deb.debian.org/debian", "bookworm")
    assert distro.choose_mirror("debian", sources, "trixie")[1] == "trixie"
    with pytest.raises(LookupError):
        distro.choose_mirror("ubuntu", sources)
    ubuntu = distro.parse_one_line("deb http://archive.ubuntu.com/ubuntu/ jammy main\n")
    assert distro.choose_mirror("ubuntu", ubuntu) == ("http://archive.ubuntu.com/ubuntu/", "jammy")
    # a security-only or non-http source is no mirror to bootstrap from
    only = distro.parse_one_line(
        "deb http://security.debian.org/debian-security bookworm-security main\n"
        "deb file:/srv/debian bookworm main\n"
    )
    with pytest.raises(LookupError):
        distro.choose_mirror("debian", only)


def test_host_sources_reads_apt_files_and_ignores_disabled_ones(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    (tmp_path / "sources.list.d" / "x.list.disabled-by-farm").write_text(
        "deb http://archive.ubuntu.com/ubuntu noble main\n"
    )
    found = distro.host_sources(str(tmp_path))
    assert {u for e in found for u in e["URIs"]} == {
        "http://deb.debian.org/debian",
        "http://deb.debian.org/debian-security",
    }


def test_ubuntu_without_an_ubuntu_archive_says_what_is_missing(tmp_path):
    from dockerlab.engine.paths import Paths

    class Store:
        paths = Paths.of(str(tmp_path / "root"))

    (tmp_path / "apt" / "sources.list.d").mkdir(parents=True)
    (tmp_path / "apt" / "sources.list.d" / "debian.sources").write_text(DEB822)
    if distro.shutil.which("debootstrap", path="/usr/sbin:/usr/bin:/sbin:/bin") is None:
        pytest.skip("debootstrap is not installed")
    with pytest.raises(InvalidParameter) as info:
        distro.bootstrap_distro(Store(), "ubuntu", apt_dir=str(tmp_path / "apt"))  # type: ignore[arg-type]
    message = str(info.value)
    assert "no Ubuntu archive" in message and "debian.sources" in message
    assert "deb http://archive.ubuntu.com/ubuntu jammy main" in message


def test_debootstrap_missing_is_refused_naming_the_package(tmp_path, monkeypatch):
    from dockerlab.engine.paths import Paths

    class Store:
        paths = Paths.of(str(tmp_path / "root"))

    monkeypatch.setattr(distro, "DEBOOTSTRAP", "no-such-debootstrap")
    with pytest.raises(distro.NotFound, match=r"apt-get install debootstrap"):
        distro.bootstrap_distro(Store(), "debian")  # type: ignore[arg-type]


def test_condenser_turns_package_lines_into_steps():
    shown: list[tuple[str, bool]] = []
    c = distro._Condenser(lambda text, transient: shown.append((text, transient)))
    for line in (
        "I: Retrieving InRelease",
        "I: Checking Release signature",
        "I: Retrieving libc6 2.36-9",
        "I: Validating libc6 2.36-9",
        "I: Retrieving bash 5.2",
        "I: Extracting bash...",
        "I: Unpacking the base system...",
        "W: something odd",
        "I: Base system installed successfully.",
    ):
        c.line(line + "\n")
    assert [t for t, transient in shown if not transient] == [
        "Retrieving InRelease",
        "Checking Release signature",
        "Retrieved 2 packages",
        "Extracted 1 package",
        "Unpacking the base system...",
        "W: something odd",
        "Base system installed successfully.",
    ]
    assert ("Retrieving libc6 2.36-9 [1]", True) in shown


def test_parse_name():
    assert distro.parse_name("debian") == ("debian", None)
    assert distro.parse_name("debian:trixie") == ("debian", "trixie")
    with pytest.raises(InvalidParameter):
        distro.parse_name("debian:../x")


def test_clean_rootfs_never_follows_a_link_out_of_the_tree(tmp_path):
    outside = tmp_path / "host"
    (outside / "lib" / "apt" / "lists").mkdir(parents=True)
    (outside / "lib" / "apt" / "lists" / "keep").write_text("host file")
    (outside / "tmp").mkdir()
    (outside / "tmp" / "keep").write_text("host file")
    root = tmp_path / "rootfs"
    for rel in ("etc/apt/apt.conf.d", "usr/sbin", "var/cache/apt/archives", "dev"):
        (root / rel).mkdir(parents=True)
    (root / "var" / "lib").symlink_to(outside / "lib")  # var/lib/apt/lists leads out
    (root / "tmp").symlink_to(outside / "tmp")
    (root / "var/cache/apt/archives/libc6.deb").write_text("x")
    (root / "dev" / "null").write_text("x")
    (root / "etc" / "resolv.conf").write_text("nameserver 10.0.0.1\n")
    (root / "etc" / "hostname").symlink_to(outside / "tmp" / "keep")
    distro._clean_rootfs(str(root))
    assert (outside / "lib" / "apt" / "lists" / "keep").read_text() == "host file"
    assert (outside / "tmp" / "keep").read_text() == "host file"
    assert not (root / "var/cache/apt/archives/libc6.deb").exists()
    assert list((root / "dev").iterdir()) == []
    assert not (root / "etc" / "resolv.conf").exists()
    assert not (root / "etc" / "hostname").is_symlink()
    assert (root / "usr/sbin/policy-rc.d").read_text() == "#!/bin/sh\nexit 101\n"
    assert (root / "etc/apt/apt.conf.d/docker-clean").exists()
