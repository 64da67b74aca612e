"""``debian`` and ``ubuntu`` without a registry: ``debootstrap --variant=minbase``.

The package mirror is the host's own (read from its apt sources: the one kind of server these
machines may reach). The bootstrapped tree is cleaned as Docker's official images are (no
package cache, no apt lists, no host ``resolv.conf``/``hostname``, ``policy-rc.d`` refusing
service starts) and packed once into a layer tar kept in the cache::

    $DOCKERLAB_CACHE (default $DOCKERLAB_ROOT/cache)/bootstrap/
    ├── debian-bookworm-amd64.tar    the layer, reused by the next ``image bootstrap debian``
    ├── debian-bookworm-amd64.json   where it came from: mirror, suite, debootstrap version
    └── debian-bookworm-amd64.lock   held while it is made (one download at a time)

The image is that one layer with Docker-like config (``Cmd ["bash"]``, ``Env`` PATH) and a
history entry naming mirror, suite and debootstrap version. debootstrap mounts ``/proc`` and
``/sys`` in its target while it configures packages; whatever it leaves mounted is detached
before the tree is deleted, on success, failure or interruption.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from typing import Any

from dockerlab.engine import atomic, work
from dockerlab.engine.images.bootstrap import DEFAULT_PATH, host_platform
from dockerlab.engine.images.store import ImageStore
from dockerlab.errors import InvalidParameter, NotFound, SystemFailure

#: progress(text, transient): a line to show; transient lines may be overwritten (a TTY)
Progress = Callable[[str, bool], None]

APT_DIR = "/etc/apt"
DEBOOTSTRAP = "debootstrap"
SCRIPTS = "/usr/share/debootstrap/scripts"
KEYRINGS = {
    "debian": "/usr/share/keyrings/debian-archive-keyring.gpg",
    "ubuntu": "/usr/share/keyrings/ubuntu-archive-keyring.gpg",
}
KEYRING_PACKAGES = {"debian": "debian-archive-keyring", "ubuntu": "ubuntu-keyring"}
DISTROS = ("debian", "ubuntu")
DEBOOTSTRAP_TIMEOUT = 1800.0  # seconds: ~30 s on these machines, minutes on a slow mirror


# ---- the host's apt sources -----------------------------------------------------------------


def parse_one_line(text: str, origin: str = "") -> list[dict[str, Any]]:
    """``deb [opt=value …] URI SUITE [COMPONENT…]`` lines (``sources.list``, ``*.list``)."""
    found = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        options: dict[str, str] = {}
        opts = re.match(r"^(deb(?:-src)?)\s+\[([^\]]*)\]\s*(.*)$", line)
        if opts:
            kind, rest = opts.group(1), opts.group(3)
            for item in opts.group(2).split():
                key, _, value = item.partition("=")
                options[key.lower()] = value
        else:
            kind, _, rest = line.partition(" ")
        words = rest.split()
        if kind not in ("deb", "deb-src") or len(words) < 2:
            continue
        found.append(
            {
                "Types": [kind],
                "URIs": [words[0]],
                "Suites": [words[1]],
                "Components": words[2:],
                "Signed-By": options.get("signed-by", ""),
                "File": origin,
            }
        )
    return found


def parse_deb822(text: str, origin: str = "") -> list[dict[str, Any]]:
    """The paragraphs of a ``*.sources`` file (``Enabled: no`` ones left out)."""
    found = []
    for paragraph in re.split(r"\n[ \t]*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for line in paragraph.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0] in " \t" and key:  # a folded continuation line
                fields[key] += "\n" + line.strip()
                continue
            key, sep, value = line.partition(":")
            if not sep:
                key = ""
                continue
            key = key.strip().lower()
            fields[key] = value.strip()
        if not fields.get("uris") or not fields.get("suites"):
            continue
        if fields.get("enabled", "yes").lower() in ("no", "false", "0"):
            continue
        found.append(
            {
                "Types": fields.get("types", "deb").split(),
                "URIs": fields["uris"].split(),
                "Suites": fields["suites"].split(),
                "Components": fields.get("components", "").split(),
                # a path, or an inline key block (folded lines): only a path is kept
                "Signed-By": fields.get("signed-by", "").partition("\n")[0],
                "File": origin,
            }
        )
    return found


def source_files(apt_dir: str = APT_DIR) -> list[str]:
    """The files apt reads, in its order (``sources.list``, then ``sources.list.d``'s
    ``*.list`` and ``*.sources``; anything else there, ``*.disabled``, apt ignores)."""
    files = [os.path.join(apt_dir, "sources.list")]
    folder = os.path.join(apt_dir, "sources.list.d")
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        names = []
    files += [os.path.join(folder, n) for n in names if n.endswith((".list", ".sources"))]
    return [f for f in files if os.path.isfile(f)]


def host_sources(apt_dir: str = APT_DIR) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in source_files(apt_dir):
        try:
            with open(path, errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        parse = parse_deb822 if path.endswith(".sources") else parse_one_line
        found += parse(text, path)
    return found


def _is_distro_uri(distro: str, uri: str) -> bool:
    path = uri.split("://", 1)[-1].split("/", 1)[-1].rstrip("/")
    last = path.rsplit("/", 1)[-1]
    if distro == "ubuntu":
        return "ubuntu" in last or "ports.ubuntu.com" in uri
    return last == "debian"  # not debian-security, debian-debug, debian-ports …


def choose_mirror(
    distro: str, sources: Iterable[dict[str, Any]], suite: str | None = None
) -> tuple[str, str]:
    """(mirror URI, suite) for ``distro`` from apt sources: the first binary (``deb``)
    entry of that distribution's main archive; its first plain suite (``bookworm``, not
    ``bookworm-updates``) unless ``suite`` is given."""
    for entry in sources:
        if "deb" not in entry["Types"]:
            continue
        for uri in entry["URIs"]:
            if not uri.startswith(("http://", "https://")) or not _is_distro_uri(distro, uri):
                continue
            plain = [s for s in entry["Suites"] if "-" not in s and "/" not in s]
            if suite is not None:
                return uri, suite
            if plain:
                return uri, plain[0]
    raise LookupError(distro)


def _missing_sources(distro: str, apt_dir: str) -> InvalidParameter:
    files = ", ".join(source_files(apt_dir)) or f"{apt_dir}/sources.list (missing)"
    example = {
        "debian": "deb http://deb.debian.org/debian bookworm main",
        "ubuntu": "deb http://archive.ubuntu.com/ubuntu jammy main",
    }[distro]
    return InvalidParameter(
        f"cannot bootstrap {distro}: the host's apt sources ({files}) list no "
        f"{distro.capitalize()} archive to debootstrap from; add one, e.g. `{example}`, "
        "that this machine can reach"
    )


# ---- debootstrap ------------------------------------------------------------------------


def cache_dir(root: str) -> str:
    """``$DOCKERLAB_CACHE/bootstrap`` or ``<root>/cache/bootstrap``."""
    base = os.environ.get("DOCKERLAB_CACHE") or os.path.join(root, "cache")
    return os.path.join(os.path.abspath(base), "bootstrap")


def debootstrap_version(exe: str) -> str:
    try:
        done = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "debootstrap"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        with open(exe, errors="replace") as f:  # a shell script: VERSION='1.0.128…'
            found = re.search(r"^VERSION='([^']+)'", f.read(), re.M)
        if found:
            return found.group(1)
    except OSError:
        pass
    return "unknown"


_PHASES = {
    "Retrieving": "Retrieved",
    "Extracting": "Extracted",
    "Unpacking": "Unpacked",
    "Configuring": "Configured",
}
_QUIET = ("Validating ",)


class _Condenser:
    """debootstrap's hundreds of ``I: Retrieving libc6 2.36-9`` lines as a few lines, as
    Docker shows a pull: one transient line per package, one line per finished phase."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.phase = ""
        self.count = 0
        self.tail: list[str] = []  # the last lines, for an error message

    def close_phase(self) -> None:
        if self.phase:
            plural = "" if self.count == 1 else "s"
            self.progress(f"{_PHASES[self.phase]} {self.count} package{plural}", False)
        self.phase, self.count = "", 0

    def line(self, raw: str) -> None:
        text = raw.rstrip()
        if not text:
            return
        self.tail = (self.tail + [text])[-8:]
        level, _, rest = text.partition(": ")
        if level != "I" or not rest:
            self.close_phase()
            self.progress(text, False)  # W:, E: and anything else, as it is
            return
        if rest.startswith(_QUIET):
            return
        verb, _, what = rest.partition(" ")
        # the archive's indices and "Unpacking the base system..." are steps, not packages
        index = what.split(" ", 1)[0] in ("InRelease", "Release", "Release.gpg", "Packages")
        if verb in _PHASES and what and not what.startswith("the ") and not index:
            if verb != self.phase:
                self.close_phase()
                self.phase = verb
            self.count += 1
            self.progress(f"{verb} {what.rstrip('.')} [{self.count}]", True)
            return
        self.close_phase()
        self.progress(rest, False)


def _inside(rootfs: str, rel: str) -> str | None:
    """``rootfs/rel`` if its folder resolves inside ``rootfs`` (a link in the tree, such as
    ``var -> /var``, must never lead a clean-up onto the host); None otherwise."""
    path = os.path.join(rootfs, rel)
    real = os.path.realpath(os.path.dirname(path))
    top = os.path.realpath(rootfs)
    return path if real == top or real.startswith(top + "/") else None


def _clean_rootfs(rootfs: str) -> None:
    """What Docker's official images leave out or add (see their ``debuerreotype``)."""

    def remove(rel: str) -> None:
        path = _inside(rootfs, rel)
        if path is None:
            return
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.unlink(path)

    def write(rel: str, text: str, mode: int) -> None:
        remove(rel)
        path = _inside(rootfs, rel)
        if path is None or not os.path.isdir(os.path.dirname(path)):
            return
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(path, mode)

    for folder in ("dev", "proc", "sys", "tmp", "run", "var/tmp", "var/lib/apt/lists"):
        top = _inside(rootfs, folder)
        if top is None or os.path.islink(top) or not os.path.isdir(top):
            continue
        for name in os.listdir(top):
            remove(f"{folder}/{name}")
    archives = _inside(rootfs, "var/cache/apt/archives")
    if archives and not os.path.islink(archives) and os.path.isdir(archives):
        for name in os.listdir(archives):
            if name.endswith(".deb"):
                remove(f"var/cache/apt/archives/{name}")
    for rel in (
        "var/cache/apt/pkgcache.bin",
        "var/cache/apt/srcpkgcache.bin",
        "etc/hostname",
        "etc/resolv.conf",
        "var/log/bootstrap.log",
    ):
        remove(rel)
    if os.path.lexists(os.path.join(rootfs, "etc/machine-id")):
        write("etc/machine-id", "", 0o444)  # empty: systemd makes one at boot
    # `apt-get install` in a container must not start services (Docker's images do this)
    write("usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 0o755)
    write(
        "etc/apt/apt.conf.d/docker-clean",
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";\n',
        0o644,
    )


def _die_with_parent() -> None:
    """(in the child) debootstrap ends if the command running it is killed outright."""
    from dockerlab.engine.runtime import linux as L

    L.prctl(L.PR_SET_PDEATHSIG, signal.SIGKILL)


def _run_debootstrap(argv: list[str], progress: Progress, target: str) -> None:
    condenser = _Condenser(progress)
    child = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its whole group is stopped if we are interrupted
        preexec_fn=_die_with_parent,
        env={**os.environ, "LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"},
    )
    deadline = time.monotonic() + DEBOOTSTRAP_TIMEOUT
    try:
        assert child.stdout is not None
        for raw in child.stdout:
            condenser.line(raw.decode(errors="replace"))
            if time.monotonic() > deadline:
                raise SystemFailure(f"debootstrap took more than {DEBOOTSTRAP_TIMEOUT:g}s")
        code = child.wait()
    except BaseException:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        child.wait()
        raise
    finally:
        if child.stdout is not None:
            child.stdout.close()
    condenser.close_phase()
    if code != 0:
        # debootstrap keeps its own log in the target
        detail = " / ".join(condenser.tail[-3:])
        try:
            with open(os.path.join(target, "debootstrap/debootstrap.log"), errors="replace") as f:
                lines = [line.strip() for line in f if line.strip()]
            detail = " / ".join(lines[-3:]) or detail
        except OSError:
            pass
        raise SystemFailure(f"debootstrap failed (exit status {code}): {detail}")


def _unmount_all(target: str) -> None:
    """Detach whatever debootstrap left mounted in ``target`` (proc, sys…), deepest first."""
    from dockerlab.engine.runtime import linux as L

    real = os.path.realpath(target)
    for point in work.mounts_below(real):
        try:
            L.umount(point, L.MNT_DETACH)
        except OSError:
            pass
    left = work.mounts_below(real)
    if left:
        raise SystemFailure(f"cannot unmount {', '.join(left)} left by debootstrap")


def make_layer(
    store: ImageStore,
    distro: str,
    suite: str,
    mirror: str,
    tar_path: str,
    progress: Progress,
    exe: str,
) -> dict[str, Any]:
    """Run debootstrap in scratch space and pack the cleaned tree to ``tar_path``; the
    provenance record (also written next to it as JSON)."""
    from dockerlab.engine.images.archive import pack_dir

    arch, _variant = host_platform()
    version = debootstrap_version(exe)
    folder = work.begin(store.paths, "bootstrap")
    try:
        rootfs = os.path.join(folder, "rootfs")
        argv = [exe, "--variant=minbase", f"--arch={arch}"]
        argv += [f"--keyring={KEYRINGS[distro]}", suite, rootfs, mirror]
        progress(
            f"{suite}: Bootstrapping {distro} from {mirror} "
            f"(debootstrap {version}, --variant=minbase)",
            False,
        )
        started = time.monotonic()
        try:
            _run_debootstrap(argv, progress, rootfs)
        finally:
            _unmount_all(rootfs)
        seconds = time.monotonic() - started
        _clean_rootfs(rootfs)
        release = ""
        for rel in ("etc/debian_version",):
            try:
                with open(os.path.join(rootfs, rel)) as f:
                    release = f.read().strip()
            except OSError:
                pass
        progress("Packing the layer", False)
        partial = tar_path + ".partial"
        with open(partial, "wb") as f:
            diff_id = pack_dir(rootfs, f)
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        record = {
            "distro": distro,
            "suite": suite,
            "mirror": mirror,
            "arch": arch,
            "debootstrap": version,
            "release": release,
            "created": created,
            "seconds": round(seconds, 1),
            "diff_id": diff_id,
        }
        os.replace(partial, tar_path)
        atomic.write_json(tar_path[: -len(".tar")] + ".json", record)
        return record
    finally:
        _unmount_all(os.path.join(folder, "rootfs"))
        work.discard(folder)


def parse_name(name: str) -> tuple[str, str | None]:
    """``debian`` or ``debian:trixie`` → (distro, suite or None)."""
    distro, _, suite = name.partition(":")
    if suite and not re.fullmatch(r"[a-z][a-z0-9.-]*", suite):
        raise InvalidParameter(f"invalid suite {suite!r}")
    return distro, suite or None


def bootstrap_distro(
    store: ImageStore,
    name: str,
    progress: Progress | None = None,
    apt_dir: str = APT_DIR,
) -> str:
    """Make ``debian:<suite>`` (and ``debian:latest`` for the host's own suite), or ubuntu
    likewise; returns the image ID. A cached layer is reused."""
    progress = progress or (lambda text, transient: None)
    distro, wanted = parse_name(name)
    if distro not in DISTROS:
        raise InvalidParameter(f"cannot bootstrap {name!r}: not a distribution dockerlab knows")
    # in /usr/sbin, which a non-login root shell may not have on PATH
    search = os.environ.get("PATH", os.defpath) + ":/usr/sbin:/sbin"
    exe = shutil.which(DEBOOTSTRAP, path=search)
    if exe is None:
        raise NotFound(
            f"cannot bootstrap {distro}: debootstrap is not installed; install Debian's "
            "debootstrap package (apt-get install debootstrap)"
        )
    try:
        sources = host_sources(apt_dir)
        mirror, suite = choose_mirror(distro, sources, wanted)
        default = choose_mirror(distro, sources)[1]  # the host's own suite is :latest
    except LookupError:
        raise _missing_sources(distro, apt_dir) from None
    missing = []
    if not os.path.exists(os.path.join(SCRIPTS, suite)):
        missing.append(f"debootstrap has no script for suite {suite!r} ({SCRIPTS}/{suite})")
    if not os.path.exists(KEYRINGS[distro]):
        # without it debootstrap would go on unverified: refuse rather than trust the network
        missing.append(
            f"the {distro.capitalize()} archive keyring {KEYRINGS[distro]} (Debian package "
            f"{KEYRING_PACKAGES[distro]})"
        )
    if missing:
        raise InvalidParameter(f"cannot bootstrap {distro}:{suite}: missing " + "; ".join(missing))

    arch, variant = host_platform()
    cache = cache_dir(store.paths.root)
    os.makedirs(cache, mode=0o755, exist_ok=True)
    base = os.path.join(cache, f"{distro}-{suite}-{arch}")
    tar_path = base + ".tar"
    with atomic.locked(base + ".lock"):
        record: dict[str, Any] | None = None
        if os.path.exists(tar_path) and os.path.exists(base + ".json"):
            try:
                record = atomic.read_json(base + ".json")
            except (OSError, ValueError):
                record = None
        if record is not None:
            progress(
                f"{suite}: Using the cached bootstrap of {record.get('created', '?')} "
                f"from {record.get('mirror', '?')} ({tar_path})",
                False,
            )
        else:
            record = make_layer(store, distro, suite, mirror, tar_path, progress, exe)
        created = str(record.get("created", ""))
        origin = (
            f"dockerlab image bootstrap {distro}: debootstrap {record.get('debootstrap', '?')} "
            f"--variant=minbase {record.get('suite', suite)} {record.get('mirror', mirror)}"
        )
        if record.get("release"):
            origin += f" (debian_version {record['release']})"
        shell = "/bin/bash" if distro == "ubuntu" else "bash"  # as Docker's official images
        config: dict[str, Any] = {
            "architecture": arch,
            "os": "linux",
            "created": created,
            "config": {"Env": [DEFAULT_PATH], "Cmd": [shell]},
            "history": [
                {"created": created, "created_by": origin},
                {
                    "created": created,
                    "created_by": f'/bin/sh -c #(nop)  CMD ["{shell}"]',
                    "empty_layer": True,
                },
            ],
        }
        if variant:
            config["variant"] = variant
        tags = [f"{distro}:{suite}"]
        if suite == default:
            tags.append(f"{distro}:latest")
        progress("Importing the layer", False)
        image_id = store.create([tar_path], config, tags=tags)
    progress(f"Status: Bootstrapped {' and '.join(tags)}", False)
    return image_id
