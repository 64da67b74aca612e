"""The first cell's capability probe (dockerlab/magics/probe.py, `host_problem`/`host_note`),
run for real: as root, as temporary unprivileged users with and without subordinate ranges
(Binder's case: no ranges, no XDG_RUNTIME_DIR), and with what a container or a stricter host
takes away, each made for real around the probe: newuidmap missing (an overlay over /usr/bin
whiting it out) or not setuid (a copy bound over it), Docker's default seccomp profile,
no_new_privs, a masked /proc (a bind over /proc/timer_list, as Docker masks it), a state root
on overlayfs, and user namespaces disabled (user.max_user_namespaces=0, set inside a user
namespace of the test's own: the sysctl is per namespace, the host's stays as it is)."""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest
from users import REPO, User, missing_tools, temp_user

from dockerlab.magics import probe as probe_mod
from dockerlab.magics.runner import host_note, host_problem

PROBE = (
    "import json\n"
    "from dockerlab.magics.runner import host_problem, host_note\n"
    "from dockerlab.magics.probe import probe\n"
    "c = probe()\n"
    "assert c.problem == host_problem() and c.note() == host_note()\n"
    "print(json.dumps([c.mode, c.problem, c.note()]))\n"
)
SECCOMP = (
    "import sys\n"
    "from dockerlab.engine.runtime import linux as L\n"
    "L.set_no_new_privs()\n"
    "if sys.argv[1] != '-':\n"
    "    L.install_seccomp(open(sys.argv[1], 'rb').read())\n"
)
MISSING = missing_tools()
needs_users = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


def _answer(r: subprocess.CompletedProcess[str]) -> tuple[str, str | None, str | None]:
    assert r.returncode == 0, r.stderr
    mode, problem, note = json.loads(r.stdout.strip().splitlines()[-1])
    return mode, problem, note


def _as_user(user: User, setup: str = "", prelude: str = "", arg: str = "-", **env: str):
    """The probe as `user`, after `setup` (shell, as root, in a private mount namespace)."""
    argv = [user.python(), "-c", prelude + PROBE, arg]
    inner = shlex.join(["runuser", "-u", user.name, "--", *argv])
    script = f"set -e; {setup}\nexec {inner}"
    cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script]
    return subprocess.run(
        cmd,
        env=user.env({"PYTHONPATH": REPO, **env}),
        cwd=user.home,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def ranged() -> Iterator[User]:
    if MISSING:
        pytest.skip(MISSING)
    with temp_user() as user:
        yield user
    shutil.rmtree(f"/tmp/dockerlab-{user.uid}", ignore_errors=True)


@pytest.fixture
def binder() -> Iterator[User]:
    """Binder's conditions: no subordinate ranges, no XDG_RUNTIME_DIR."""
    if MISSING:
        pytest.skip(MISSING)
    with temp_user(subids=False, runtime_dir=False) as user:
        yield user
    shutil.rmtree(f"/tmp/dockerlab-{user.uid}", ignore_errors=True)


def _no_scratch(folder: str) -> None:
    assert not [n for n in os.listdir(folder) if n.startswith(".dockerlab-probe-")]


def test_root_mode_is_told_nothing(monkeypatch, tmp_path):
    monkeypatch.delenv("DOCKERLAB_ROOTLESS", raising=False)
    monkeypatch.setenv("DOCKERLAB_ROOT", str(tmp_path / "root"))
    got = probe_mod.probe(fresh=True)
    assert (got.mode, got.problem, got.note()) == ("root", None, None)
    # the notebook's first cell prints nothing more on this (root) machine
    assert host_problem() is None and host_note() is None


def _runtime_dir(tmp_path) -> str:
    """Root's rootless runtime folder inside the test's tmp_path (0700, as the engine asks)."""
    path = tmp_path / "run"
    path.mkdir(mode=0o700)
    return str(path)


def test_root_asking_for_rootless_gets_it_for_real(tmp_path):
    env = {**os.environ, "DOCKERLAB_ROOTLESS": "1", "DOCKERLAB_ROOT": str(tmp_path / "s")}
    env["XDG_RUNTIME_DIR"] = _runtime_dir(tmp_path)  # not /tmp/dockerlab-0, left behind
    r = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60
    )
    mode, problem, note = _answer(r)
    assert (mode, problem) == ("rootless", None)
    assert note.startswith("containers run rootless") and "no pause" in note
    _no_scratch(str(tmp_path))


@needs_users
def test_user_with_ranges_works_rootless(ranged):
    mode, problem, note = _answer(_as_user(ranged))
    assert (mode, problem) == ("rootless", None)
    assert "no memory, CPU or pids limits" in note
    assert "single-ID" not in note  # its ranges were mapped by the real newuidmap
    _no_scratch(ranged.home)


@needs_users
def test_binder_user_without_ranges_or_runtime_dir_works_single_id(binder):
    assert "XDG_RUNTIME_DIR" not in binder.env()
    mode, problem, note = _answer(_as_user(binder))
    assert (mode, problem) == ("rootless", None)
    assert "single-ID mapping" in note and "usermod --add-subuids" in note
    _no_scratch(binder.home)


@needs_users
def test_newuidmap_missing_is_named(ranged, tmp_path):
    # an overlay over /usr/bin in this mount namespace only, newuidmap whited out
    up, work = tmp_path / "up", tmp_path / "work"
    setup = (
        f"mkdir {up} {work}; mount -t overlay overlay "
        f"-o lowerdir=/usr/bin,upperdir={up},workdir={work} /usr/bin; "
        "rm /usr/bin/newuidmap; for d in /usr/sbin /usr/local/bin /usr/local/sbin /sbin; do "
        'test ! -e "$d/newuidmap"; done'
    )
    mode, problem, _ = _answer(_as_user(ranged, setup))
    assert mode == "rootless"
    assert "needs newuidmap" in problem and "apt-get install uidmap" in problem


@needs_users
def test_newuidmap_not_setuid_is_named(ranged, tmp_path):
    copy = tmp_path / "newuidmap"
    setup = (
        f"cp /usr/bin/newuidmap {copy}; chmod 755 {copy}; mount --bind {copy} /usr/bin/newuidmap"
    )
    _, problem, _ = _answer(_as_user(ranged, setup))
    assert "/usr/bin/newuidmap to be setuid root" in problem and "chmod u+s" in problem


@needs_users
def test_docker_default_seccomp_blocks_the_user_namespace(binder, tmp_path):
    """A pod or container under Docker's default seccomp profile without CAP_SYS_ADMIN:
    unshare(CLONE_NEWUSER) is refused, and the probe says so (not "works")."""
    from dockerlab.engine.runtime import linux
    from dockerlab.engine.runtime.security import compile_profile, host_arch

    caps = sorted(linux.DEFAULT_CAPS)
    program = compile_profile(None, caps, host_arch(), linux.kernel_version())
    path = os.path.join(binder.home, "default.bpf")
    with open(path, "wb") as f:
        f.write(program)
    os.chmod(path, 0o644)
    mode, problem, _ = _answer(_as_user(binder, prelude=SECCOMP, arg=path))
    assert mode == "rootless"
    assert "unshare(CLONE_NEWUSER): Operation not permitted" in problem
    assert "seccomp" in problem and "CAP_SYS_ADMIN" in problem


@needs_users
def test_no_new_privs_with_ranges_is_named(ranged):
    """Kubernetes' allowPrivilegeEscalation: false sets no_new_privs: setuid newuidmap is
    disarmed, so a user with ranges cannot map them."""
    _, problem, _ = _answer(_as_user(ranged, prelude=SECCOMP))
    assert "no_new_privs" in problem and "allowPrivilegeEscalation: false" in problem


@needs_users
def test_masked_proc_is_named(binder):
    """Docker (and a pod without procMount: Unmasked) hides /proc files under mounts; the
    kernel then refuses a new /proc in a user namespace."""
    if not os.path.exists("/proc/timer_list"):
        pytest.skip("this kernel has no /proc/timer_list to mask")
    _, problem, _ = _answer(_as_user(binder, "mount --bind /dev/null /proc/timer_list"))
    assert "/proc cannot be mounted" in problem and "procMount: Unmasked" in problem
    _no_scratch(binder.home)


@needs_users
def test_state_root_on_overlayfs_is_named(binder, tmp_path):
    """An upper layer on overlayfs (a container's own root filesystem) is refused."""
    for part in ("l", "u", "w"):
        (tmp_path / part).mkdir()
    merged = os.path.join(binder.home, "merged")
    os.mkdir(merged)
    os.chown(merged, binder.uid, binder.gid)
    t = tmp_path
    setup = (
        f"mount -t overlay overlay -o lowerdir={t}/l,upperdir={t}/u,workdir={t}/w {merged}; "
        f"chown {binder.uid} {merged}"
    )
    _, problem, _ = _answer(_as_user(binder, setup, DOCKERLAB_ROOT=f"{merged}/state"))
    assert "overlayfs in a user namespace was refused" in problem and "emptyDir" in problem


def test_user_namespaces_disabled_names_the_sysctl(tmp_path):
    """user.max_user_namespaces=0, in a user namespace of the test's own (the sysctl is
    per user namespace): the probe names it."""
    root = tmp_path / "s"
    script = "echo 0 > /proc/sys/user/max_user_namespaces && exec " + shlex.join(
        [sys.executable, "-c", PROBE]
    )
    env = {**os.environ, "DOCKERLAB_ROOTLESS": "1", "DOCKERLAB_ROOT": str(root)}
    env["XDG_RUNTIME_DIR"] = _runtime_dir(tmp_path)
    r = subprocess.run(
        ["unshare", "--user", "--map-root-user", "sh", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if "max_user_namespaces" in r.stderr:
        pytest.skip(f"this kernel does not let a namespace's root set its limit: {r.stderr}")
    _, problem, _ = _answer(r)
    assert "user.max_user_namespaces=0" in problem


# ---- a Kubernetes pod with hostUsers: false, as far as one machine can make it ---------------

# python -c PODNS REPO BPF|- CMD...: CMD as root of a new user namespace mapping IDs 0..65535 to the
# host's same IDs (a pod's shape: 65536 IDs, its files' owners mapped, so setuid root works),
# in a mount namespace of its own; the maps are written from outside, as the kubelet's runtime
# does.
PODNS = """
import os, sys
sys.path.insert(0, sys.argv[1])
from dockerlab.engine.runtime import linux as L
L.load()
go_r, go_w = os.pipe(); ready_r, ready_w = os.pipe()
pid = os.fork()
if pid == 0:
    L.unshare(L.CLONE_NEWUSER | L.CLONE_NEWNS)
    os.write(ready_w, b"x"); os.read(go_r, 1)
    os.setresgid(0, 0, 0); os.setresuid(0, 0, 0)
    L.mount(None, "/", None, L.MS_REC | L.MS_PRIVATE)
    if sys.argv[2] != "-":  # the container's seccomp filter, as its runtime installs it
        L.install_seccomp(open(sys.argv[2], "rb").read())
    os.execvp(sys.argv[3], sys.argv[3:])
os.read(ready_r, 1)
for name in ("uid_map", "gid_map"):
    with open(f"/proc/{pid}/{name}", "w") as f:
        f.write("0 0 65536\\n")
os.write(go_w, b"g")
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""
IN_POD = "1:{below}\n{above_start}:{above_count}\n"
VALUES = os.path.join(REPO, "deploy", "kubernetes", "values.yaml")
DOCKER_DEFAULT_CAPS = (
    "CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP SETPCAP "
    "NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE"
).split()


def _values_caps() -> list[str]:
    """The capabilities deploy/kubernetes/values.yaml gives the single-user container."""
    yaml = pytest.importorskip("yaml")
    with open(VALUES) as f:
        values = yaml.safe_load(f)
    csc = values["hub"]["config"]["KubeSpawner"]["container_security_context"]
    assert csc["capabilities"]["drop"] == ["ALL"]
    assert csc["allowPrivilegeEscalation"] is True  # no no_new_privs: setuid must work
    return list(csc["capabilities"]["add"])


def _bounding(caps: list[str]) -> str:
    return ",".join(["-all", *(f"+{c.lower()}" for c in caps)])


@pytest.fixture(scope="module")
def image_tar(tmp_path_factory):
    """busybox:latest as a tar every test user can read."""
    from dockerlab.engine import Engine

    eng = Engine(str(tmp_path_factory.mktemp("probe") / "root"))
    eng.image_bootstrap("busybox")
    tar = f"/tmp/dockerlab-probe-busybox-{secrets.token_hex(4)}.tar"
    with open(tar, "wb") as f:
        eng.save(["busybox"], f)
    os.chmod(tar, 0o644)
    yield tar
    os.unlink(tar)


def _in_pod(
    user: User,
    ranges: str,
    tmp_path,
    script: str,
    caps: list[str],
    nnp: bool = False,
    seccomp: bool = False,
) -> subprocess.CompletedProcess[str]:
    """`script` (sh) as `user` in a pod-shaped user namespace where /etc/subuid and
    /etc/subgid give the user `ranges` (lines start:count; "pod": every ID of the pod but
    root's and the user's own, as deploy/kubernetes/Dockerfile gives jovyan), the bounding
    set is `caps` (a container's capabilities: a setuid program gets no other) and, with
    `nnp`, no_new_privs is set (allowPrivilegeEscalation: false); with `seccomp`, Docker's
    default profile made for `caps` is installed first (seccompProfile: RuntimeDefault:
    containerd's and CRI-O's default is Docker's, made for the container's capabilities)."""
    files = {}
    for kind, own in (("uid", user.uid), ("gid", user.gid)):
        lines = _pod_ranges(own) if ranges == "pod" else ranges
        files[kind] = tmp_path / f"sub{kind}"
        files[kind].write_text("".join(f"{user.name}:{line}\n" for line in lines.splitlines()))
        files[kind].chmod(0o644)
    env = user.env({"PYTHONPATH": REPO})
    inner = shlex.join(
        ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups"]
        + [f"--bounding-set={_bounding(caps)}", "--inh-caps=-all"]
        + (["--no-new-privs"] if nnp else [])
        + ["env", "-i", *(f"{k}={v}" for k, v in env.items()), "sh", "-c", script]
    )
    setup = f"mount --bind {files['uid']} /etc/subuid && mount --bind {files['gid']} /etc/subgid"
    bpf = "-"
    if seccomp:
        from dockerlab.engine.runtime import linux
        from dockerlab.engine.runtime.security import compile_profile, host_arch

        bpf = str(tmp_path / "seccomp.bpf")
        with open(bpf, "wb") as f:
            f.write(compile_profile(None, caps, host_arch(), linux.kernel_version()))
    return subprocess.run(
        [sys.executable, "-c", PODNS, REPO, bpf, "sh", "-c", f"{setup} && exec {inner}"],
        env=env,
        cwd=user.home,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _pod_ranges(uid: int) -> str:
    return IN_POD.format(below=uid - 1, above_start=uid + 1, above_count=65535 - uid)


def _run_script(user: User, image_tar: str) -> str:
    py = shlex.quote(user.python())
    return (
        f"{py} -c {shlex.quote(PROBE)} && {py} -m dockerlab load -i {image_tar} >/dev/null && "
        f"{py} -m dockerlab run --rm busybox id -u && "
        f"{py} -m dockerlab run --rm -u 65534 busybox id -u"
    )


@needs_users
def test_pod_as_values_yaml_makes_it_runs_containers_of_every_uid(binder, tmp_path, image_tar):
    """The Dockerfile's ranges (every pod ID but root's and the user's own) and exactly the
    capabilities values.yaml adds: the probe says rootless works, and containers run, as
    root and as nobody (65534: the ranges cover it)."""
    script = _run_script(binder, image_tar)
    r = _in_pod(binder, "pod", tmp_path, script, _values_caps())
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.strip().splitlines()
    mode, problem, note = json.loads(lines[0])
    assert (mode, problem) == ("rootless", None) and "single-ID" not in note
    assert lines[1:] == ["0", "65534"]


@needs_users
def test_pod_with_runtime_default_seccomp_is_told_pivot_root(binder, tmp_path, image_tar):
    """seccompProfile RuntimeDefault (Docker's profile, made for values.yaml's capabilities:
    SYS_ADMIN lets unshare and mount through) still refuses pivot_root: the probe says so
    (before it did, it said "works" and the first run failed), and the run fails as told."""
    script = _run_script(binder, image_tar)
    r = _in_pod(binder, "pod", tmp_path, script, _values_caps(), seccomp=True)
    _, problem, _ = json.loads(r.stdout.strip().splitlines()[0])
    assert "pivot_root: Operation not permitted" in problem and "Unconfined" in problem
    assert "pivot_root: Operation not permitted" in r.stderr  # what `run` then met


@needs_users
def test_pod_with_docker_default_caps_cannot_map_ranges(binder, tmp_path):
    """Without SYS_ADMIN in the bounding set (a default pod), setuid newuidmap is root of
    the pod's namespace but not capable in the student's child namespace: refused, told."""
    script = f"{binder.python()} -c {shlex.quote(PROBE)}"
    r = _in_pod(binder, "pod", tmp_path, script, DOCKER_DEFAULT_CAPS)
    _, problem, _ = _answer(r)
    assert "newuidmap/newgidmap refused" in problem and "Operation not permitted" in problem


@needs_users
def test_pod_with_host_style_ranges_is_told_newuidmap_refused(binder, tmp_path):
    """useradd's default range (100000 on) lies outside a pod's 65536 IDs."""
    script = f"{binder.python()} -c {shlex.quote(PROBE)}"
    r = _in_pod(binder, "100000:65536", tmp_path, script, _values_caps())
    _, problem, _ = _answer(r)
    assert "newuidmap/newgidmap refused" in problem and "Operation not permitted" in problem


@needs_users
def test_pod_without_ranges_needs_no_capability_nor_privilege_escalation(
    binder, tmp_path, image_tar
):
    """The strict alternative (README.md): no subordinate ranges, no capability, no_new_privs
    set: a single-ID mapping needs no helper. Containers run as root; USER 65534 cannot."""
    script = _run_script(binder, image_tar)
    r = _in_pod(binder, "", tmp_path, script, [], nnp=True)
    lines = r.stdout.strip().splitlines()
    mode, problem, note = json.loads(lines[0])
    assert (mode, problem) == ("rootless", None) and "single-ID mapping" in note
    assert lines[1:] == ["0"], r.stderr
    assert r.returncode != 0  # -u 65534: not mapped in a single-ID namespace
