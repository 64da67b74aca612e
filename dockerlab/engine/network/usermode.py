"""Rootless networking: the user's own network namespace, with slirp4netns for the way out.

As rootless Podman's ``rootless-netns``: one network namespace per user (and state root),
owned by the user namespace of the user's containers, in which the lab's bridges, veths,
nftables masquerade and DNS run exactly as root mode's in the host's namespace (we are root
there). slirp4netns (a user-mode TCP/IP stack, Debian's ``slirp4netns``) is attached to it
as ``tap0`` (10.0.2.100/24, default route via 10.0.2.2): what leaves a bridge is masqueraded
out of ``tap0`` and slirp4netns opens ordinary sockets on the host as the user; 10.0.2.2 is
the host's loopback. Published ports are bound on the host by the monitor, as in root mode,
and served by the container's proxy, which enters this namespace to reach the container.

The holder (``dockerlab-netns``) is a process forked by the first rootless forkserver right
after it made the user namespace (:func:`dockerlab.engine.rootless.enter`): it unshares the
network namespace, keeps it at ``<run>/rootless.netns`` (a bind mount in the holder's mount
namespace, shared by the forkserver and its monitors), starts slirp4netns on it (restarted
if it dies) and names itself in ``<run>/rootless.pid``. A later forkserver (the first one
retired, or went stale) joins the holder's user and mount namespaces instead of making new
ones, so every container of the user is in one user namespace, on one set of bridges. The
holder exits, taking slirp4netns and the namespaces with it, once no other process is left
in its user namespace (no forkserver, monitor or container): it looks every second.

Imports only ``os`` at module level: the forkserver and the monitor load it.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

HOST = "10.0.2.2"  # slirp4netns's address of the host (its loopback)
TAP = "tap0"
TAP_MTU = 65520  # slirp4netns's fastest (Podman's default); the bridges keep 1500
_LOOK = 1.0  # seconds between the holder's looks for the namespace's other processes
_READY_WITHIN = 10.0  # seconds slirp4netns has to set up its tap device


def netns(run: str) -> str:
    """The user's network namespace (a bind mount seen by the forkserver and its monitors)."""
    return os.path.join(run, "rootless.netns")


def _pid_file(run: str) -> str:
    return os.path.join(run, "rootless.pid")


def _lock(run: str) -> str:
    return os.path.join(run, "rootless.lock")


def slirp4netns() -> str | None:
    from dockerlab.engine.rootless import tool

    return tool("slirp4netns")


def holder(run: str) -> int:
    """The live holder's pid, else 0."""
    from dockerlab.engine.runtime import linux as L

    try:
        with open(_pid_file(run)) as f:
            pid, start = (int(n) for n in f.read().split())
    except (OSError, ValueError):
        return 0
    return pid if L.pid_alive(pid, start) else 0


def enter(L: Any, run: str) -> None:
    """(The rootless forkserver, single-threaded, at its start) Join the live holder's user
    and mount namespaces; else make new ones (:func:`rootless.enter`) and fork a holder in
    them. Under the holder's lock, so a holder never leaves while it is joined."""
    from dockerlab.engine import rootless
    from dockerlab.engine.atomic import locked

    os.makedirs(run, mode=0o700, exist_ok=True)
    with locked(_lock(run)):
        pid = holder(run)
        if pid and _join(L, pid):
            return
        rootless.enter(L)
        _start_holder(L, run)


def _join(L: Any, pid: int) -> bool:
    try:
        user = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        mnt = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        os.close(user)
        return False
    try:  # we own its user namespace, so we may enter it (and are its root once in)
        L.setns(user, L.CLONE_NEWUSER)
        L.setns(mnt, L.CLONE_NEWNS)
    finally:
        os.close(user)
        os.close(mnt)
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    try:
        os.setgroups([])
    except OSError:
        pass  # a single-ID mapping denies setgroups
    return True


def _start_holder(L: Any, run: str) -> None:
    """Fork the holder (detached: its parent exits at once) and wait until it is ready."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(ready_r)
            os.setsid()
            if os.fork() == 0:
                _hold(L, run, ready_w)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.waitpid(pid, 0)
    try:
        while os.read(ready_r, 64):  # its end closes once it is ready (or has failed)
            pass
    finally:
        os.close(ready_r)


def _log(run: str, text: str) -> None:
    import time

    try:
        with open(os.path.join(run, "rootless-net.log"), "a") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {text}\n")
    except OSError:
        pass


def _hold(L: Any, run: str, ready: int) -> None:
    """The holder: the user's network namespace and its slirp4netns, until nobody needs
    them. Never returns."""
    for name in os.listdir("/proc/self/fd"):  # the forkserver's listener is not ours
        if int(name) not in (0, 1, 2, ready):
            try:
                os.close(int(name))
            except OSError:
                pass
    L.set_process_name("dockerlab-netns")
    _make_netns(L, netns(run))
    slirp = Slirp(run)
    slirp.start()
    from dockerlab.engine.atomic import write_bytes

    me = os.getpid()
    write_bytes(_pid_file(run), f"{me} {L.proc_start_time(me)}\n".encode(), 0o600, False)
    os.close(ready)
    _serve(L, run, slirp)


def _make_netns(L: Any, path: str) -> None:
    """The namespace, made by a child (we stay in the host's: slirp4netns must be started
    from there, its sockets are the host's, and a user namespace never goes back) and kept
    by its bind mount, with ``lo`` up and forwarding on."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            L.unshare(L.CLONE_NEWNET)
            try:
                L.umount(path, L.MNT_DETACH)  # an earlier holder's, in a namespace we joined
            except OSError:
                pass
            os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
            L.mount("/proc/self/ns/net", path, None, L.MS_BIND)
            from dockerlab.engine.network.netlink import Netlink

            nl = Netlink()
            try:
                nl.set_up(1)  # lo
            finally:
                nl.close()
            with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
                f.write("1")
            code = 0
        finally:
            os._exit(code)
    if os.waitpid(pid, 0)[1] != 0:
        raise RuntimeError("rootless mode: the user's network namespace could not be made")


class Slirp:
    """slirp4netns attached to our namespace; it exits when we do (``--exit-fd``)."""

    def __init__(self, run: str) -> None:
        self.run = run
        self.pid = 0
        self.pidfd = -1
        self.exit_w = -1

    def start(self) -> bool:
        path = slirp4netns()
        if path is None:
            _log(self.run, "slirp4netns is not installed: no outbound network")
            return False
        exit_r, self.exit_w = os.pipe()
        ready_r, ready_w = os.pipe()
        out = os.open(
            os.path.join(self.run, "slirp4netns.log"),
            os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
            0o600,
        )
        args = [
            path,
            "--configure",
            f"--mtu={TAP_MTU}",
            f"--exit-fd={exit_r}",
            f"--ready-fd={ready_w}",
            "--netns-type=path",
            netns(self.run),
            TAP,
        ]
        try:
            self.pid = os.posix_spawn(
                path,
                args,
                {},
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, exit_r, exit_r),  # onto itself: inherited
                    (os.POSIX_SPAWN_DUP2, ready_w, ready_w),
                    (os.POSIX_SPAWN_DUP2, out, 1),
                    (os.POSIX_SPAWN_DUP2, out, 2),
                ],
            )
        finally:
            for fd in (exit_r, ready_w, out):
                os.close(fd)
        import select

        ok = bool(select.select([ready_r], [], [], _READY_WITHIN)[0]) and os.read(ready_r, 1)
        os.close(ready_r)
        self.pidfd = os.pidfd_open(self.pid)
        if not ok:
            _log(self.run, "slirp4netns did not set up tap0 (see slirp4netns.log)")
            self.stop()
            return False
        return True

    def exited(self) -> bool:
        """Has it exited (reaped here)?"""
        if not self.pid:
            return False
        try:
            done = os.waitpid(self.pid, os.WNOHANG)[0]
        except ChildProcessError:
            done = self.pid
        if done:
            os.close(self.pidfd)
            os.close(self.exit_w)
            self.pid, self.pidfd, self.exit_w = 0, -1, -1
        return bool(done)

    def stop(self) -> None:
        if not self.pid:
            return
        import signal

        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        os.close(self.pidfd)
        os.close(self.exit_w)
        self.pid, self.pidfd, self.exit_w = 0, -1, -1


def _others(skip: set[int]) -> bool:
    """Is another process (not ``skip``) in our user namespace?"""
    own = os.readlink("/proc/self/ns/user")
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in skip:
            continue
        try:
            if os.readlink(f"/proc/{name}/ns/user") == own:
                return True
        except OSError:
            continue
    return False


def _serve(L: Any, run: str, slirp: Slirp) -> None:
    import select
    import signal

    from dockerlab.engine.atomic import locked

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    me = os.getpid()
    alone = 0
    while True:
        watch = [slirp.pidfd] if slirp.pidfd >= 0 else []
        if select.select(watch, [], [], _LOOK)[0] or slirp.exited():
            slirp.exited()  # reap it; a killed slirp4netns is noticed and replaced
            _log(run, "slirp4netns exited: started again")
            slirp.start()
            continue
        if _others({me, slirp.pid}):
            alone = 0
            continue
        alone += 1
        if alone < 2:
            continue
        with locked(_lock(run)):  # a forkserver joins under this lock
            if _others({me, slirp.pid}):
                alone = 0
                continue
            try:
                os.unlink(_pid_file(run))
            except FileNotFoundError:
                pass
        slirp.stop()
        _release_mounts(L, run)
        os._exit(0)


def _release_mounts(L: Any, run: str) -> None:
    """Our namespace's and the bridges' bind mounts (in the mount namespace that ends with
    us anyway): their files go too."""
    for name in os.listdir(run):
        if (
            name == "rootless.netns"
            or name == "bridge.netns"
            or (name.startswith("net-") and name.endswith(".netns"))
        ):
            path = os.path.join(run, name)
            try:
                L.umount(path, L.MNT_DETACH)
            except OSError:
                pass
            try:
                os.unlink(path)
            except OSError:
                pass


def in_user_netns(run: str, fn: Any, *args: Any) -> Any:
    """``fn(*args)`` in a thread that has entered the user's network namespace (the monitor,
    attaching a container to its bridges). A thread, because a process in a user namespace
    may not setns back to the host's namespace (owned by the host's user namespace), and
    the monitor's main thread must stay there to bind published ports again at a restart;
    namespaces are per thread, and a child forked by that thread (``nft``) is in its."""
    import threading

    from dockerlab.engine.network.bridge import is_netns
    from dockerlab.engine.runtime import linux as L

    path = netns(run)
    if not is_netns(path):
        raise RuntimeError(
            "rootless mode: the user's network namespace is gone (its holder, "
            "dockerlab-netns, was killed); it is made again once this user's forkserver "
            "and containers have ended"
        )
    out: dict[str, Any] = {}

    def body() -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                L.setns(fd, L.CLONE_NEWNET)
            finally:
                os.close(fd)
            out["result"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller
            out["error"] = exc

    thread = threading.Thread(target=body, name="user-netns")
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["result"]


def enter_user_netns(run: str) -> None:
    """This process (a fresh child: the proxy) into the user's network namespace, for good."""
    from dockerlab.engine.runtime import linux as L

    fd = os.open(netns(run), os.O_RDONLY | os.O_CLOEXEC)
    try:
        L.setns(fd, L.CLONE_NEWNET)
    finally:
        os.close(fd)


# ---- the CLI's way in: network verbs on running containers ---------------------------------
def delegate(root: str, run: str, verb: str, args: list[Any]) -> None:
    """Run ``networks.<verb>(store, *args)`` in a helper that joins the holder's user and
    mount namespaces and the user's network namespace (the CLI, and a multi-threaded
    kernel, may not: ``setns`` into a user namespace wants a single thread). Raises the
    helper's error as its own class, in its words."""
    import json
    import sys

    from dockerlab import errors

    if not holder(run):
        raise errors.Forbidden(
            "rootless mode: this user's network namespace is not running (no container of "
            "the user runs): nothing to connect"
        )
    pkg = os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    )
    out_r, out_w = os.pipe()
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "userhelper.py")
    argv = [sys.executable, "-I", "-S", script, pkg, root, run, verb]
    pid = os.posix_spawn(
        sys.executable,
        [*argv, json.dumps(args)],
        {},
        file_actions=[(os.POSIX_SPAWN_DUP2, out_w, 1)],
    )
    os.close(out_w)
    said = b""
    while chunk := os.read(out_r, 65536):
        said += chunk
    os.close(out_r)
    code = os.waitpid(pid, 0)[1]
    try:
        answer = json.loads(said or b"{}")
    except ValueError:
        answer = {}
    if code == 0 and answer.get("ok"):
        return
    kind = getattr(errors, str(answer.get("kind", "")), None)
    if not (isinstance(kind, type) and issubclass(kind, errors.DockerlabError)):
        kind = errors.SystemFailure
    raise kind(answer.get("message") or f"rootless mode: network {verb} failed")
