"""Rootless layer and file verbs (engine/userns.py) as real unprivileged users: an image whose
files belong to several container users keeps its owners, modes and setuid bits through
load -> run -> cp -> diff -> commit -> export -> build; signals reach a first process of
another container uid; and the helper that works inside the user's namespace cannot be
turned against the host, the user's own files or another user."""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import tarfile

import pytest
from registry_fixture import registry
from test_rootless import MISSING, User, _make_user

__all__ = ["registry"]  # a fixture
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NET = ("--network", "none")
OWNED = (
    "mkdir -p /data/sub && echo a > /data/a && echo b > /data/sub/b && chown -R 1000:1000 /data"
    " && echo c > /data/c && chown 100:101 /data/c && chmod 0600 /data/c"
    " && touch /data/suid && chown 1000:1000 /data/suid && chmod 4755 /data/suid"
    " && mkdir /data/private && chown 1000:1000 /data/private && chmod 0700 /data/private"
    " && echo p > /data/private/p && chown 1000:1000 /data/private/p"
)


def _root_cli(root: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DOCKERLAB_ROOT": root}
    env.pop("DOCKERLAB_ROOTLESS", None)
    return subprocess.run(
        [sys.executable, "-m", "dockerlab", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def owners_root(tmp_path_factory):
    """A root-mode state root holding owners:1: busybox plus /data with files of container
    users 1000, 100:101 (private), a setuid file and a private folder."""
    root = str(tmp_path_factory.mktemp("rlfiles") / "root")
    assert _root_cli(root, "image", "bootstrap", "busybox").returncode == 0
    made = _root_cli(root, "run", "--name", "own", *NET, "busybox", "sh", "-c", OWNED)
    assert made.returncode == 0, made.stderr
    assert _root_cli(root, "commit", "own", "owners:1").returncode == 0
    yield root
    _root_cli(root, "rm", "-f", "own")


@pytest.fixture(scope="module")
def owners_tar(owners_root):
    """owners:1 saved as a tar every test user can read."""
    tar = f"/tmp/dockerlab-rlfiles-{secrets.token_hex(4)}.tar"
    assert _root_cli(owners_root, "save", "-o", tar, "owners:1").returncode == 0
    os.chmod(tar, 0o644)
    yield tar
    os.unlink(tar)


@pytest.fixture(scope="module")
def alice(owners_tar):
    user = _make_user(owners_tar)
    yield user
    user.remove()


@pytest.fixture(scope="module")
def bob(owners_tar):
    user = _make_user(owners_tar)
    yield user
    user.remove()


def _ls(text: str) -> dict[str, tuple[str, str, str]]:
    """``ls -ln`` lines -> {name: (mode, uid, gid)}."""
    out = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 9:
            out[f[-1]] = (f[0], f[2], f[3])
    return out


def _tar_owners(raw: bytes) -> dict[str, tuple[int, int, int]]:
    """name -> (uid, gid, mode) of a tar's entries."""
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        return {m.name.rstrip("/"): (m.uid, m.gid, m.mode) for m in tf}


def _cli_bytes(user: User, *args: str, stdin: bytes | None = None) -> bytes:
    argv = [user.user.python(), "-m", "dockerlab", *args]
    cmd = [shutil.which("runuser") or "/usr/sbin/runuser", "-u", user.name, "--", *argv]
    got = subprocess.run(
        cmd,
        env=user.user.env({"PYTHONPATH": REPO}),
        cwd=user.home,
        input=stdin,
        capture_output=True,
        timeout=120,
    )
    assert got.returncode == 0, got.stderr.decode()
    return got.stdout


def _expected(got: dict) -> None:
    assert got["a"][1:] == ("1000", "1000")
    assert got["c"] == ("-rw-------", "100", "101")
    assert got["suid"] == ("-rwsr-xr-x", "1000", "1000")
    assert got["private"][1:] == ("1000", "1000")


def test_load_keeps_owners_modes_and_setuid(alice):
    got = alice.cli("run", "--rm", *NET, "owners:1", "ls", "-ln", "/data")
    assert got.returncode == 0, got.stderr
    _expected(_ls(got.stdout))
    # on disk: the mapped subordinate IDs (container uid 1000 = first subuid + 999)
    found = []
    for top, _dirs, files in os.walk(os.path.join(alice.store, "overlay")):
        if "c" in files and top.endswith("/data"):
            found.append(os.stat(os.path.join(top, "c")))
    assert found and (found[0].st_uid, found[0].st_gid) == (alice.subuid + 99, alice.subuid + 100)


def test_cp_both_ways_running_and_stopped(alice):
    assert alice.cli("run", "-d", "--name", "cpr", *NET, "--user", "1000", "owners:1",
                     "sleep", "1000").returncode == 0  # fmt: skip
    try:
        for name in ("cpr", "cps"):
            if name == "cps":
                made = alice.cli("create", "--name", "cps", *NET, "owners:1", "true")
                assert made.returncode == 0, made.stderr
            raw = _cli_bytes(alice, "cp", f"{name}:/data", "-")
            owners = _tar_owners(raw)
            assert owners["data/c"] == (100, 101, 0o600)
            assert owners["data/private/p"][:2] == (1000, 1000)
            assert owners["data/suid"] == (1000, 1000, 0o4755)
            # into it: the tar's owners are kept (as Docker keeps them)
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tf:
                info = tarfile.TarInfo("given")
                info.uid, info.gid, info.mode, info.size = 1234, 4321, 0o640, 2
                tf.addfile(info, io.BytesIO(b"g\n"))
            _cli_bytes(alice, "cp", "-", f"{name}:/data/private/", stdin=buf.getvalue())
            back = _tar_owners(_cli_bytes(alice, "cp", f"{name}:/data/private/given", "-"))
            assert back["given"] == (1234, 4321, 0o640)
        listed = alice.cli("exec", "cpr", "ls", "-ln", "/data/private")
        assert _ls(listed.stdout)["given"] == ("-rw-r-----", "1234", "4321")
        # out to the host: the user's own files there, never a subordinate uid's
        dest = os.path.join(alice.home, "out")
        assert alice.cli("cp", "cpr:/data/private", dest).returncode == 0
        for entry in os.listdir(dest):
            assert os.lstat(os.path.join(dest, entry)).st_uid == alice.uid
    finally:
        alice.cli("rm", "-f", "cpr", "cps")


def test_diff_export_commit_and_save_keep_owners(alice):
    script = "echo n > /data/new && chown 1000:1000 /data/new && rm /data/a && chmod 0750 /data/sub"
    assert alice.cli("run", "--name", "dec", *NET, "owners:1", "sh", "-c", script).returncode == 0
    try:
        diff = alice.cli("diff", "dec")
        assert diff.returncode == 0, diff.stderr
        assert {"C /data", "D /data/a", "A /data/new", "C /data/sub"} <= set(
            diff.stdout.splitlines()
        )
        exported = _tar_owners(_cli_bytes(alice, "export", "dec"))
        assert exported["data/new"][:2] == (1000, 1000)
        assert exported["data/c"] == (100, 101, 0o600)
        assert "data/a" not in exported
        assert alice.cli("commit", "dec", "owners:2").returncode == 0
        ls = alice.cli("run", "--rm", *NET, "owners:2", "ls", "-ln", "/data")
        got = _ls(ls.stdout)
        assert got["new"][1:] == ("1000", "1000") and "a" not in got
        assert got["c"] == ("-rw-------", "100", "101")
        # the committed layer's tar headers, as save writes them
        saved = tarfile.open(fileobj=io.BytesIO(_cli_bytes(alice, "save", "owners:2")))
        manifest = json.load(saved.extractfile("manifest.json"))
        top = saved.extractfile(manifest[0]["Layers"][-1]).read()
        layer = _tar_owners(top)
        assert layer["data/new"][:2] == (1000, 1000)
        assert layer["data/.wh.a"][:2] in ((0, 0), (1000, 1000))
        assert layer["data/sub"] == (1000, 1000, 0o750)
        # import of the export: a one-layer image with the same owners
        imported = _cli_bytes(
            alice, "import", "-", "imported:1", stdin=_cli_bytes(alice, "export", "dec")
        )
        assert imported.startswith(b"sha256:")
        ls = alice.cli("run", "--rm", *NET, "imported:1", "ls", "-ln", "/data")
        assert _ls(ls.stdout)["c"] == ("-rw-------", "100", "101")
        assert _ls(ls.stdout)["new"][1:] == ("1000", "1000")
    finally:
        alice.cli("rm", "-f", "dec")


def test_pull_from_a_registry_keeps_owners(owners_root, registry):
    """Root mode pushes owners:1 to a loopback registry; a fresh rootless user pulls it (each
    layer streamed into the helper while it downloads)."""
    ref = f"{registry.addr}/rl/owners:1"
    assert _root_cli(owners_root, "tag", "owners:1", ref).returncode == 0
    pushed = _root_cli(owners_root, "push", ref)
    assert pushed.returncode == 0, pushed.stderr
    user = User()
    try:
        got = user.cli("pull", ref)
        assert got.returncode == 0, got.stderr
        ls = user.cli("run", "--rm", *NET, ref, "ls", "-ln", "/data")
        assert ls.returncode == 0, ls.stderr
        _expected(_ls(ls.stdout))
    finally:
        user.remove()


def test_build_run_copy_chown_add_from(alice):
    ctx = os.path.join(alice.home, "ctx")
    os.makedirs(os.path.join(ctx, "dir"))
    with open(os.path.join(ctx, "hello.txt"), "w") as f:
        f.write("hello\n")
    with open(os.path.join(ctx, "dir", "x"), "w") as f:
        f.write("x\n")
    with tarfile.open(os.path.join(ctx, "app.tar"), "w") as tf:
        info = tarfile.TarInfo("packed")
        info.uid, info.gid, info.size = 77, 88, 2
        tf.addfile(info, io.BytesIO(b"p\n"))
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write(
            "FROM owners:1\n"
            "RUN echo app:x:1500:1500::/srv:/bin/sh >> /etc/passwd"
            " && echo app:x:1500: >> /etc/group && mkdir /srv && chown 1500:1500 /srv\n"
            "COPY --chown=app:app hello.txt /srv/\n"
            "COPY dir /srv/dir\n"
            "ADD app.tar /opt/\n"
            "ADD --chown=1000:1000 app.tar /opt2/\n"
            "WORKDIR /work/here\n"
            "COPY --from=owners:1 /data/c /srv/c\n"
        )
    subprocess.run(["chown", "-R", f"{alice.uid}:{alice.uid}", ctx], check=True)
    built = alice.cli("build", "-t", "built:1", ctx, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    ls = alice.cli("run", "--rm", *NET, "built:1", "ls", "-ln", "/srv", "/opt", "/opt2", "/data")
    assert ls.returncode == 0, ls.stderr
    text = ls.stdout
    assert _ls(text.split("/opt:")[1].split("/opt2:")[0])["packed"][1:] == ("77", "88")
    assert _ls(text.split("/opt2:")[1].split("/srv:")[0])["packed"][1:] == ("1000", "1000")
    srv = _ls(text.split("/srv:")[1])
    assert srv["hello.txt"][1:] == ("1500", "1500")
    assert srv["dir"][1:] == ("0", "0")
    assert srv["c"][1:] == ("0", "0")  # COPY --from without --chown: root's, as Docker
    _expected(_ls(text.split("/data:")[1].split("/opt:")[0]))
    wd = alice.cli("run", "--rm", *NET, "built:1", "pwd")
    assert wd.stdout.strip() == "/work/here"


def test_kill_and_stop_reach_a_first_process_of_another_uid(alice):
    trap = "trap 'exit 3' TERM; trap 'echo usr1' USR1; while :; do sleep 0.1; done"
    assert alice.cli("run", "-d", "--name", "sig", *NET, "--user", "1000", "owners:1",
                     "sh", "-c", trap).returncode == 0  # fmt: skip
    try:
        assert alice.cli("kill", "-s", "USR1", "sig").returncode == 0
        stopped = alice.cli("stop", "-t", "30", "sig")
        assert stopped.returncode == 0, stopped.stderr
        state = alice.cli("inspect", "-f", "{{.State.ExitCode}}", "sig")
        assert state.stdout.strip() == "3"  # its own TERM handler ran: not the KILL after 30 s
        assert "usr1" in alice.cli("logs", "sig").stdout
    finally:
        alice.cli("rm", "-f", "sig")


# ---- attacks ----------------------------------------------------------------------------------


def test_cp_through_links_to_host_paths_stays_in_the_container(alice):
    secret = os.path.join(alice.home, "secret")
    with open(secret, "w") as f:
        f.write("host secret\n")
    hostdir = os.path.join(alice.home, "hostdir")
    os.mkdir(hostdir)
    subprocess.run(["chown", f"{alice.uid}:{alice.uid}", secret, hostdir], check=True)
    links = f"ln -s {secret} /leak && ln -s {hostdir} /out && ln -s / /up && mkdir -p {hostdir}"
    assert alice.cli("run", "-d", "--name", "lnk", *NET, "owners:1", "sh", "-c",
                     links + " && sleep 1000").returncode == 0  # fmt: skip
    try:
        for state in ("running", "stopped"):
            if state == "stopped":
                assert alice.cli("kill", "lnk").returncode == 0
            got = alice.cli("cp", "-L", "lnk:/leak", "-")
            assert "host secret" not in got.stdout
            got = alice.cli("cp", f"lnk:/up/../..{secret}", "-")
            assert got.returncode != 0 and "host secret" not in got.stdout
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tf:
                info = tarfile.TarInfo("planted")
                info.uid = info.gid = 1000
                info.size = 2
                tf.addfile(info, io.BytesIO(b"x\n"))
            put = subprocess.run(
                [shutil.which("runuser") or "/usr/sbin/runuser", "-u", alice.name, "--",
                 alice.user.python(), "-m", "dockerlab", "cp", "-", "lnk:/out/"],
                env=alice.user.env({"PYTHONPATH": REPO}), input=buf.getvalue(),
                capture_output=True, timeout=60,
            )  # fmt: skip
            assert os.listdir(hostdir) == [], put.stderr  # never the host's folder
            assert put.returncode == 0, put.stderr  # into the container's own folder
            back = alice.cli("cp", f"lnk:{hostdir}/planted", "-")
            assert back.returncode == 0 and "planted" in back.stdout
    finally:
        alice.cli("rm", "-f", "lnk")


def test_load_of_a_breakout_layer_is_refused_and_writes_nothing_outside(alice, owners_tar):
    """A layer with '../' names, and a symlink then a file below it, must not write beside
    the layer folder nor through the link (here to the user's home)."""
    target = os.path.join(alice.home, "pwned")
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tf:
        link = tarfile.TarInfo("home")
        link.type, link.linkname = tarfile.SYMTYPE, alice.home
        tf.addfile(link)
        for name in ("home/pwned", "../../../../pwned2"):
            info = tarfile.TarInfo(name)
            info.uid = info.gid = 1000
            info.size = 2
            tf.addfile(info, io.BytesIO(b"x\n"))
    raw = layer.getvalue()
    import hashlib

    digest = hashlib.sha256(raw).hexdigest()
    config = {"architecture": "amd64", "os": "linux", "config": {},
              "rootfs": {"type": "layers", "diff_ids": [f"sha256:{digest}"]}}  # fmt: skip
    cfg = json.dumps(config).encode()
    cfg_name = hashlib.sha256(cfg).hexdigest() + ".json"
    manifest = [{"Config": cfg_name, "RepoTags": ["evil:1"], "Layers": [f"{digest}/layer.tar"]}]
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tf:
        for name, data in (
            (cfg_name, cfg),
            (f"{digest}/layer.tar", raw),
            ("manifest.json", json.dumps(manifest).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    argv = [alice.user.python(), "-m", "dockerlab", "load"]
    got = subprocess.run(
        [shutil.which("runuser") or "/usr/sbin/runuser", "-u", alice.name, "--", *argv],
        env=alice.user.env({"PYTHONPATH": REPO}),
        input=out.getvalue(),
        capture_output=True,
        timeout=60,
    )
    if got.returncode == 0:  # loaded lazily: its first use unpacks it, and must refuse
        alice.cli("run", "--rm", *NET, "evil:1", "true")
    assert not os.path.exists(target)
    assert not any(
        os.path.exists(os.path.join(p, "pwned2"))
        for p in (alice.home, alice.store, os.path.join(alice.store, "overlay"), "/")
    )
    assert b"Traceback" not in got.stderr


def test_helper_refuses_paths_outside_the_store(alice, owners_tar):
    """The facility itself, called by the user with a folder outside their state root,
    writes nothing there as a subordinate uid."""
    outside = os.path.join(alice.home, "outside")
    code = (
        "from dockerlab.engine import userns\n"
        "try:\n"
        f"    userns.call('unpack', {alice.store!r}, [{owners_tar!r}, {outside!r}, None])\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    os.mkdir(outside)
    subprocess.run(["chown", f"{alice.uid}:{alice.uid}", outside], check=True)
    got = alice.user.run([alice.user.python(), "-c", code], {"PYTHONPATH": REPO})
    assert "Forbidden" in got.stdout and "outside the state root" in got.stdout, got
    assert os.listdir(outside) == []


def test_helper_cannot_join_another_users_namespace(alice, bob):
    """Alice points her running container's record at Bob's monitor: the helper's setns is
    refused by the kernel (Bob owns that namespace), and nothing of Bob's is read."""
    assert bob.cli("run", "-d", "--name", "bobs", *NET, "owners:1", "sh", "-c",
                   "echo bob-secret > /secret && sleep 1000").returncode == 0  # fmt: skip
    assert alice.cli("run", "-d", "--name", "alices", *NET, "owners:1",
                     "sleep", "1000").returncode == 0  # fmt: skip
    try:
        bob_state = _state(bob, "bobs")
        path = os.path.join(alice.store, "containers", _id(alice, "alices"), "state.json")
        with open(path) as f:
            state = json.load(f)
        state["MonitorPid"], state["MonitorStart"] = (
            bob_state["MonitorPid"],
            bob_state["MonitorStart"],
        )
        with open(path, "w") as f:
            json.dump(state, f)
        got = alice.cli("cp", "alices:/secret", "-")
        assert got.returncode != 0 and "bob-secret" not in got.stdout, got.stderr
        # Bob's store is not Alice's to reach at all (0700 folders)
        peek = alice.user.run(["ls", os.path.join(bob.store, "overlay")])
        assert peek.returncode != 0
    finally:
        alice.cli("rm", "-f", "alices")
        bob.cli("rm", "-f", "bobs")


def _id(user: User, name: str) -> str:
    return user.cli("inspect", "-f", "{{.Id}}", name).stdout.strip()


def _state(user: User, name: str) -> dict:
    with open(os.path.join(user.store, "containers", _id(user, name), "state.json")) as f:
        return json.load(f)


def test_layer_inspectors_read_private_files_of_other_uids(alice):
    """The layer explorer's verbs (widgets) read a 0600 file of uid 100 and a 0700 folder of
    uid 1000 through the helper."""
    code = (
        "from dockerlab.engine import Engine\n"
        "e = Engine()\n"
        "h = e.file_history('owners:1', '/data/private/p')\n"
        "i = h[0]['Index']\n"
        "print(e.file_at_layer('owners:1', i, '/data/c'))\n"
        "print(sorted(f['Path'] for f in e.layer_files('owners:1', i)"
        " if f['Path'].startswith('/data/private')))\n"
    )
    got = alice.user.run([alice.user.python(), "-c", code], {"PYTHONPATH": REPO})
    assert got.returncode == 0, got.stderr
    assert got.stdout.splitlines() == ["b'c\\n'", "['/data/private', '/data/private/p']"]


def test_a_single_id_user_is_told_which_ids_are_missing(owners_tar):
    """Without subordinate ranges only container uid 0 exists: loading files of uid 1000 is
    refused with Podman's advice, and nothing is left behind."""
    user = User(ranges=False)
    try:
        got = user.cli("load", "-i", owners_tar)
        assert got.returncode == 1
        assert "potentially insufficient UIDs or GIDs" in got.stderr
        assert "requested 1000:1000 for /data" in got.stderr and "Traceback" not in got.stderr
        assert user.cli("images", "-q").stdout == ""
        assert os.listdir(os.path.join(user.store, "tmp")) == []
    finally:
        user.remove()
