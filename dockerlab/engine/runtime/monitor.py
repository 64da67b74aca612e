"""A container's monitor: one small process per running container (like Podman's conmon).

Started by :func:`dockerlab.engine.runtime.spawn.spawn_monitor` as
``python -I -S monitor.py PKGDIR ROOT ID SYNC_FD SPEC_FD [ATTACH_FD:STREAMS]``, it reads the
container's config from SPEC_FD (``marshal``: no ``json`` import on this path), detaches, then

1. mounts the container's overlay and creates its cgroup,
2. forks the container's first process into new namespaces (see :func:`_container_main`),
3. tells the starter on SYNC_FD whether the command started (``{"ok": true, "pid": …}``)
   or why not (``{"ok": false, "code": 127, "message": …}``),
4. copies the container's output into the json-file log and to attached clients, feeds
   their input to it, and
5. when it exits, records the exit code and OOM flag in ``exit.json``, unmounts, removes
   the cgroup (and the container, with ``--rm``), and sends the exit to attached clients;
   unless its restart policy says to start it again (:meth:`Monitor.restart`): then it
   cleans up, records the wait in ``monitor.json`` (``"restarting": true``), waits the
   back-off and goes back to 1. ``restart-stop`` (left by ``stop``/``kill``/``rm -f``) and
   ``restart-policy`` (left by ``update``) in its runtime folder tell it the user's word.

It runs as a fresh single-threaded process, so forking here is safe — unlike in a Jupyter
kernel, which never forks.
"""

from __future__ import annotations

import errno
import fcntl
import marshal
import os
import select
import signal
import socket
import struct
import sys
import termios
import time

if __name__ == "__main__":  # started with -I -S: make the package importable, nothing more
    sys.path.insert(0, sys.argv[1])

from dockerlab.engine import events
from dockerlab.engine.atomic import locked, read_json, write_bytes
from dockerlab.engine.basics import daemon_env, dumps
from dockerlab.engine.basics import rfc3339_ns as log_time
from dockerlab.engine.paths import Paths
from dockerlab.engine.runtime import linux as L
from dockerlab.engine.runtime import streams as S
from dockerlab.errors import ContainerStartError, reason

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockerlab.engine.network.endpoint import Endpoint
    from dockerlab.engine.network.ports import Publisher
    from dockerlab.engine.runtime.cgroups import Cgroup
    from dockerlab.engine.runtime.health import Prober


def read_spec(fd: int) -> dict[str, Any]:
    """The container's config, as the starter wrote it with ``marshal`` (into a memfd)."""
    raw = b""
    while chunk := os.read(fd, 65536):
        raw += chunk
    os.close(fd)
    spec: dict[str, Any] = marshal.loads(raw)
    return spec


class Poller:
    """The little of ``selectors`` we need, on epoll directly (one import less)."""

    def __init__(self) -> None:
        self.epoll = select.epoll()
        self.entries: dict[int, tuple[object, object]] = {}

    def register(self, obj: object, data: object, events: int = select.EPOLLIN) -> None:
        fd = obj if isinstance(obj, int) else obj.fileno()  # type: ignore[attr-defined]
        self.epoll.register(fd, events)
        self.entries[fd] = (obj, data)

    def unregister(self, obj: object) -> None:
        fd = obj if isinstance(obj, int) else obj.fileno()  # type: ignore[attr-defined]
        if self.entries.pop(fd, None) is not None:
            self.epoll.unregister(fd)

    def select(self, timeout: float | None) -> list[tuple[int, object, object]]:
        events = self.epoll.poll(-1 if timeout is None else timeout)
        return [(fd, *self.entries[fd]) for fd, _ in events if fd in self.entries]

    def has(self, *datas: object) -> bool:
        return any(data in datas for _, data in self.entries.values())


_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(s, _SIOCGIFFLAGS, req + b"\0" * 14)[:18])[1]
        fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | _IFF_UP) + b"\0" * 14)


_HOSTS = (
    b"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    b"fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
    b"ff02::2\tip6-allrouters\n"
)


def write_etc_files(
    folder: str, hostname: str, network: str, cfg: dict[str, Any] | None = None
) -> None:
    """The container's /etc/hosts, /etc/hostname and /etc/resolv.conf, made at each start
    (derived from the config, so no fsync) and bind-mounted over the image's. ``cfg``'s
    ``EtcHosts``/``EtcResolv`` are the starter's (network/sandbox.etc_files); a container
    joining another's namespace (``container:``) uses that one's files."""
    if network.startswith("container:"):
        return
    files = {"hostname": hostname.encode() + b"\n", "hosts": _HOSTS, "resolv.conf": b""}
    if cfg is not None and "EtcHosts" in cfg:
        files["hosts"], files["resolv.conf"] = cfg["EtcHosts"], cfg["EtcResolv"]
        network = ""  # (made already)
    if network == "host":
        for name in ("hosts", "resolv.conf"):
            try:
                with open(f"/etc/{name}", "rb") as f:
                    files[name] = f.read()
            except OSError:
                pass
    for name, data in files.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


def mac_address(text: str) -> str:
    """``--mac-address`` as the kernel takes it (six bytes, ``:`` or ``-``); the daemon's
    error at start for anything else."""
    parts = text.replace("-", ":").split(":") if text else []
    if parts and (
        len(parts) != 6
        or not all(len(p) == 2 and all(ch in "0123456789abcdefABCDEF" for ch in p) for p in parts)
    ):
        raise ValueError(f"address {text}: invalid MAC address")
    return ":".join(parts).lower()


def _report(fd: int, code: int, message: str) -> None:
    """Why the command did not start, to the monitor; never fails to encode (a command or
    user in bytes that are not UTF-8 reaches here as lone surrogates)."""
    try:
        os.write(fd, f"{code}\n{message}".encode("utf-8", "replace"))
    except OSError:
        pass


def _container_main(
    cfg: dict[str, Any],
    merged: str,
    go_r: int,
    err_w: int,
    stdio: tuple[int, int, int],
    tty_sock: socket.socket | None,
    kernel: dict[str, Any],
) -> None:
    """The container's first process: namespaces, filesystem, user, then the command.

    ``kernel`` is what the monitor set up for it: ``DeviceNodes`` to create in /dev,
    ``CgroupMounts`` for /sys/fs/cgroup, and ``DeviceControl`` (False: no device cgroup on
    this host, so CAP_MKNOD goes and the image's device nodes do not open).

    Until ``execve`` this is the host's Python, forked from the monitor with the monitor's
    descriptors: it is made non-dumpable first (no ``/proc/1/exe``, ``environ``, ``fd`` or
    ptrace for the container, as runc's CVE-2019-5736 taught) and keeps only its own pipes,
    so a working dir like ``/proc/self/fd/N`` finds nothing of ours (CVE-2024-21626).
    """
    from dockerlab.engine.runtime import process, rootfs

    config, host = cfg["Config"], cfg["HostConfig"]
    try:
        L.prctl(L.PR_SET_DUMPABLE, 0)  # execve makes the command dumpable again
        keep = {0, 1, 2, go_r, err_w, *stdio}  # 0-2: the monitor's /dev/null until dup2
        if kernel.get("NetNSFd"):  # rootless: made by the monitor's thread (join_bridge)
            keep.add(kernel["NetNSFd"])
        if tty_sock is not None:
            keep.add(tty_sock.fileno())
        _close_all_but(keep - {-1})
        net = host.get("NetworkMode") or "none"
        flags = L.CLONE_NEWNS | L.CLONE_NEWUTS | L.CLONE_NEWIPC
        if cfg.get("JoinPid"):  # container:<ref>: that container's namespace, as runc's path
            ns = os.open(f"/proc/{cfg['JoinPid']}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            L.setns(ns, L.CLONE_NEWNET)
            os.close(ns)
            net = "container"
        elif kernel.get("NetNSFd"):
            L.setns(kernel["NetNSFd"], L.CLONE_NEWNET)
            os.close(kernel["NetNSFd"])
        elif net != "host" and not kernel.get("NetNS"):  # NetNS: the monitor made it (bridge)
            flags |= L.CLONE_NEWNET
        L.unshare(flags)
        if config.get("Domainname"):  # runc's spec.Domainname (the host's /proc: still ours)
            with open("/proc/sys/kernel/domainname", "w") as f:
                f.write(config["Domainname"])
        if host.get("Sysctls"):  # into the new IPC and network namespaces, as runc's init
            process.write_sysctls(host["Sysctls"], net == "host")
        readonly = bool(host.get("ReadonlyRootfs"))
        points = cfg.get("MountPoints", [])
        binds: list[tuple[Any, ...]] = [
            (
                b["Source"],
                b["Destination"],
                not b.get("RW", True),
                b.get("Propagation") or "",
                bool(b.get("NonRecursive")),
            )
            for b in points
            if b.get("Type") != "tmpfs"
        ]
        tmpfs = [(d, o, False) for d, o in (host.get("Tmpfs") or {}).items()]
        tmpfs += [
            (t["Destination"], t.get("Data") or "", not t.get("RW", True))
            for t in points
            if t.get("Type") == "tmpfs"
        ]
        binds += [
            (cfg[k], dest, readonly)  # Docker makes them read-only with --read-only
            for k, dest in (
                ("HostsPath", "/etc/hosts"),
                ("HostnamePath", "/etc/hostname"),
                ("ResolvConfPath", "/etc/resolv.conf"),
            )
            if cfg.get(k)
        ]
        if host.get("Init"):
            binds.append((cfg["Runtime"]["InitPath"], "/sbin/docker-init", True))
        guarded = kernel["DeviceControl"]
        privileged = bool(host.get("Privileged"))
        rootfs.prepare(
            merged,
            binds,
            kernel["DeviceNodes"],
            nodev=not guarded,
            privileged=privileged,
            tmpfs=tmpfs,
            readonly=readonly,
            shm_size=int(host.get("ShmSize") or 0),
            console=tty_sock is not None,
            workdir=config.get("WorkingDir") or "",
        )
        rootfs.enter(merged, privileged)
        L.sethostname(config.get("Hostname") or cfg["Id"][:12])  # host too: its own UTS
        if net not in ("host", "container"):
            _loopback_up()
        os.read(go_r, 1)  # the monitor has put us in the cgroup: nothing counted escapes it
        os.close(go_r)
        # Only now, inside its cgroups, can its cgroup namespace be rooted at them.
        L.unshare(L.CLONE_NEWCGROUP)
        rootfs.mount_cgroups(kernel["CgroupMounts"], readonly=not host.get("Privileged"))
        if not guarded:
            L.prctl(L.PR_CAPBSET_DROP, L.CAPS.index("MKNOD"))  # gone at execve
        if tty_sock is not None:
            master, slave = os.openpty()
            socket.send_fds(tty_sock, [b"pty"], [master])
            os.close(master)
            tty_sock.close()
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            L.mount(os.ttyname(slave), "/dev/console", None, L.MS_BIND)
            stdio = (slave, slave, slave)
        for target, fd in enumerate(stdio):
            os.dup2(fd, target)
        argv = [cfg["Path"], *cfg.get("Args", [])]
        if host.get("Init"):  # Docker's docker-init is tini too
            argv = ["/sbin/docker-init", "--", *argv]
        process.run(
            config.get("User") or "",
            config.get("WorkingDir") or "",
            daemon_env(
                config.get("Hostname") or "",
                [*cfg.get("LinkEnv", []), *(config.get("Env") or [])],  # -e wins over links
                bool(config.get("Tty")),
            ),
            argv,
            cfg.get("Security"),
        )
    except process.StartFailure as exc:
        _report(err_w, exc.code, exc.for_run())
        os._exit(exc.code)
    except BaseException as exc:  # anything else: the engine failed to set up the container
        _report(err_w, 125, reason(exc))
        os._exit(125)


def _close_all_but(keep: set[int]) -> None:
    """Close every descriptor not in ``keep`` (close_range, a few syscalls at most)."""
    low = 0
    for fd in sorted(keep):
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


class Client:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = S.FrameReader()
        self.streams: set[int] = set()
        self.stdin = False
        self.ready = False


class Monitor:
    def __init__(
        self,
        paths: Paths,
        cid: str,
        sync_fd: int,
        spec_fd: int,
        attach_fd: int | None,
        want: str = "",
    ) -> None:
        self.paths, self.cid, self.sync_fd = paths, cid, sync_fd
        self.dir = paths.container(cid)
        self.rundir = os.path.join(paths.run, cid)
        self.cfg = (
            read_spec(spec_fd)
            if spec_fd >= 0
            else read_json(os.path.join(self.dir, "config.v2.json"))
        )
        self.sel = Poller()
        self.clients: dict[int, Client] = {}
        self.first = socket.socket(fileno=attach_fd) if attach_fd is not None else None
        self.first_wants = want
        self.log = open(os.path.join(self.dir, f"{cid}-json.log"), "ab", buffering=0)
        self.partial: dict[int, bytes] = {S.STDOUT: b"", S.STDERR: b""}
        self.stdin_w: int | None = None
        # Input not yet taken by the container: its stdin is written without blocking, so a
        # container busy writing output is never stuck on a monitor stuck writing its input.
        self.stdin_queue = bytearray()
        self.stdin_closing = False  # close stdin once the queue is written (StdinOnce)
        self.paused: list[Client] = []  # clients not read while the queue is full
        self.pid = 0
        self.status: int | None = None
        self.cgroup: Cgroup | None = None
        self.prober: Prober | None = None
        self.restarts = 0  # by its restart policy, since the user started it (RestartCount)
        self.delay = 0.0  # the last back-off before a restart, in seconds
        self.started_at = 0.0  # time.monotonic() of the last launch
        self.endpoint: Endpoint | None = None  # on the bridge network, while it runs
        self.publisher: Publisher | None = None  # its published ports (-p, -P), ditto
        self.sandbox: dict[str, str] = {}  # SandboxID and SandboxKey of this run
        self.more_endpoints: list[Endpoint] = []  # eth1...: its other (user) networks
        self.dns: Any = None  # engine/network/dns.Server, on a user network

    # ---- set-up -----------------------------------------------------------------------
    def mount_rootfs(self) -> str:
        rt = self.cfg["Runtime"]
        merged = os.path.join(self.paths.overlay, rt["Layer"], "merged")
        data = (
            f"lowerdir={':'.join(rt['LowerLinks'])},upperdir={rt['Layer']}/diff,"
            f"workdir={rt['Layer']}/work"
        )
        driver = rt.get("Driver") or "overlay2"  # (engine/storage)
        if driver == "vfs":  # a full copy: bound on itself, as pivot_root needs a mount
            L.mount(merged, merged, None, L.MS_BIND)
            return merged
        if self.cfg.get("Rootless") and driver == "overlay2":  # trusted.* is the host root's
            data += ",userxattr"
        os.chdir(self.paths.overlay)  # lower links are relative: mount options fit a page
        try:
            if driver == "fuse-overlayfs":
                from dockerlab.engine.storage import fuse

                fuse.mount(data, merged)
            else:
                L.mount("overlay", merged, "overlay", 0, data)
        finally:
            os.chdir("/")
        return merged

    def mount_volumes(self, detach: bool = False) -> None:
        """Volumes made with options (``volume-opt``, ``volume create -o``): mounted on the
        host for their first user, unmounted after their last (``detach``)."""
        from dockerlab.engine.runtime import volmount

        for m in self.cfg.get("MountPoints", []):
            if m.get("Type") == "volume" and m.get("LocalMount"):
                folder = os.path.dirname(m["Source"])
                if detach:
                    volmount.detach(folder, self.cid)
                else:
                    volmount.attach(folder, self.cid, m["LocalMount"])

    def fill_volumes(self, merged: str) -> None:
        """An empty volume gets what the image has at its mount point (Docker's copy-up)."""
        for m in self.cfg.get("MountPoints", []):
            if m.get("Type") != "volume" or m.get("NoCopy") or os.listdir(m["Source"]):
                continue  # NoCopy: volume-nocopy, and what --volumes-from brought
            from dockerlab.engine.runtime.inroot import Root

            with Root(merged) as root:
                try:
                    entry = root.resolve(m["Destination"])
                except OSError:
                    continue
                with entry:
                    src = f"/proc/self/fd/{entry.fd}"  # what was resolved, never re-resolved
                    if entry.is_dir and os.listdir(src):
                        import shutil

                        shutil.copytree(src, m["Source"], symlinks=True, dirs_exist_ok=True)

    def devices(self, cgroup: Cgroup) -> dict[str, Any]:
        """Set the container's device rules (before any of its processes joins the cgroup);
        returns what its first process needs (see :func:`_container_main`)."""
        from dockerlab.engine.runtime.cgroups import devices as D

        host = self.cfg["HostConfig"]
        privileged = bool(host.get("Privileged"))
        nodes = self.cfg.get("DeviceNodes")  # read from the host by the starter
        if nodes is None:  # a config too big for the pipe: read from disk without them
            nodes = D.gather(host)
        if privileged:
            nodes = D.privileged_devices() + nodes
        enforced = cgroup.set_devices(D.rules_for(privileged, nodes))
        return {
            "DeviceNodes": nodes,
            "CgroupMounts": cgroup.ns_mounts(),
            "DeviceControl": enforced or privileged,
        }

    def start(self) -> None:
        os.makedirs(self.rundir, exist_ok=True)
        # a start by the user: no exit yet, and no stop or policy change of an earlier run
        # (and "name": ours, the config's, until a rename writes it)
        for name in ("exit.json", "restart-stop", "restart-policy", "name"):
            try:
                os.unlink(os.path.join(self.rundir, name))
            except FileNotFoundError:
                pass
        failure = self.launch(first=True)
        if failure is not None:
            self.cleanup()
            self.finish_failed(failure)  # exit.json first: the starter reads it next
            self.sync({"ok": False, **failure})
            return
        self.loop()

    def launch(self, first: bool) -> dict[str, Any] | None:
        """Set up and fork the container's process (again, on a restart); None once it
        runs, else why it did not start (``{"code", "message"}``)."""
        from dockerlab.engine.runtime.cgroups import Resources, open_cgroup

        config, host = self.cfg["Config"], self.cfg["HostConfig"]
        write_etc_files(
            self.dir,
            config.get("Hostname") or self.cid[:12],
            host.get("NetworkMode") or "none",
            self.cfg,
        )
        merged = self.mount_rootfs()
        self.mount_volumes()
        self.fill_volumes(merged)
        if self.cfg.get("Rootless"):  # no cgroup delegated to us (engine/rootless.py)
            from dockerlab.engine.runtime.cgroups.none import NoCgroup

            cgroup: Cgroup = NoCgroup(f"dockerlab/{self.cid}")
        else:
            cgroup = open_cgroup(f"dockerlab/{self.cid}")
        cgroup.create(Resources.from_host_config(host))
        self.cgroup = cgroup
        kernel = self.devices(cgroup)
        tty = bool(config.get("Tty"))
        if first and self.first is not None:
            client = self.add_client(self.first)
            client.streams = {
                k for f, k in (("o", S.STDOUT), ("e", S.STDERR)) if f in self.first_wants
            }
            client.stdin = "i" in self.first_wants
            client.ready = True
        go_r, go_w = os.pipe()
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        child_ends: list[int] = []
        if config.get("OpenStdin"):
            in_r, self.stdin_w = os.pipe()
            os.set_blocking(self.stdin_w, False)  # the write end only: the container's blocks
            child_ends.append(in_r)
        else:
            in_r = os.open("/dev/null", os.O_RDONLY)
            child_ends.append(in_r)
        tty_parent = tty_child = None
        if tty:
            tty_parent, tty_child = socket.socketpair()
            out_r = err_r2 = -1
            stdio = (in_r, -1, -1)
        else:
            out_r, out_w = os.pipe()
            err_r2, err_w2 = os.pipe()
            child_ends += [out_w, err_w2]
            stdio = (in_r, out_w, err_w2)

        test = (config.get("Healthcheck") or {}).get("Test") or [""]
        probed = (
            test[0] in ("CMD", "CMD-SHELL") and len(test) > 1 and "Security" in self.cfg
        )  # as health.probe_command, without importing it when there is no probe
        if self.cfg.get("BridgeNetwork") or self.cfg.get("UserNetworks"):
            try:
                self.publish()  # host ports bound first: a taken one fails the start here
                if self.cfg.get("Rootless"):  # the bridges' host is the user's netns
                    from dockerlab.engine.network import usermode

                    kernel["NetNSFd"] = usermode.in_user_netns(
                        self.paths.run, self.join_bridge_rootless, config
                    )
                else:
                    self.join_bridge(config)  # the monitor is in the container's netns now
            except Exception as exc:  # noqa: BLE001 - told as Docker tells a start failure
                for fd in (go_r, go_w, err_r, err_w, *child_ends, out_r, err_r2):
                    if fd >= 0:
                        os.close(fd)
                if tty_parent is not None and tty_child is not None:
                    tty_parent.close()
                    tty_child.close()
                return {"code": getattr(exc, "start_code", 125), "message": reason(exc)}
            kernel["NetNS"] = True
        # The container's process is pid 1 of a new PID namespace; the monitor's later
        # children (health probes) and a restart's unshare start from its own again.
        if self.cfg.get("Rootless"):
            pid = self.fork_rootless(merged, go_r, err_w, stdio, tty_child, kernel)
        else:
            host_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
            L.unshare(L.CLONE_NEWPID)
            pid = os.fork()
            if pid == 0:  # never returns into the monitor's stack, whatever is raised
                try:
                    _container_main(self.cfg, merged, go_r, err_w, stdio, tty_child, kernel)
                finally:
                    os._exit(125)
            try:
                L.setns(host_pidns, L.CLONE_NEWPID)
            finally:
                os.close(host_pidns)
        self.pid = pid
        if self.endpoint is not None:
            self.endpoint.leave()  # the container's first process holds its netns now
            if self.publisher is not None:
                self.publisher.serve(self.endpoint.ip)  # the proxy, in the host's netns
        if kernel.get("NetNSFd"):
            os.close(kernel.pop("NetNSFd"))  # the container's first process holds it now
        self.started_at = time.monotonic()
        os.close(go_r)
        os.close(err_w)
        for fd in child_ends:
            os.close(fd)
        try:  # a cgroup v1 move waits an RCU grace period: the child sets up meanwhile
            cgroup.add(pid)
        finally:
            try:
                os.write(go_w, b"g")
            except BrokenPipeError:
                pass  # it failed before it waited for us: its report says why
            os.close(go_w)
        if first:
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock_path = os.path.join(self.rundir, "attach.sock")
            try:
                os.unlink(sock_path)
            except FileNotFoundError:
                pass
            listener.bind(sock_path)
            listener.listen(16)
            self.sel.register(listener, "listen")
        if tty_child is not None:
            tty_child.close()
        failure = b""
        while chunk := os.read(err_r, 65536):
            failure += chunk
        os.close(err_r)
        if failure:
            code, _, message = failure.decode("utf-8", "replace").partition("\n")
            os.waitpid(pid, 0)
            for fd in (out_r, err_r2):
                if fd >= 0:
                    os.close(fd)
            return {"code": int(code), "message": message}
        if tty_parent is not None:
            _, fds, _, _ = socket.recv_fds(tty_parent, 16, 1)
            tty_parent.close()
            self.master: int | None = fds[0]
            self.sel.register(self.master, S.STDOUT)
        else:
            self.master = None
            self.sel.register(out_r, S.STDOUT)
            self.sel.register(err_r2, S.STDERR)
        started = time.time_ns()
        report: dict[str, Any] = {
            "ok": True,
            "pid": pid,
            "monitor": os.getpid(),
            "monitor_start": L.proc_start_time(os.getpid()),
            "started": log_time(started),
            "restarts": self.restarts,
        }
        if self.endpoint is not None and self.cfg.get("BridgeNetwork"):
            report["network"] = self.endpoint.settings()
            if self.publisher is not None:
                report["network"]["Ports"] = self.publisher.ports
        if self.publisher is not None:  # (on a user network too)
            report["ports"] = self.publisher.ports
        report["sandbox"] = self.bind_sandbox(pid, host.get("NetworkMode") or "none")
        if self.cfg.get("UserNetworks"):
            eps = ([] if self.cfg.get("BridgeNetwork") else [self.endpoint]) + self.more_endpoints
            report["networks"] = {ep.net["Name"]: ep.settings() for ep in eps if ep is not None}
        # The runtime's own record: the container is running even if its starter dies now.
        write_bytes(
            os.path.join(self.rundir, "monitor.json"), dumps(report).encode(), durable=False
        )  # runtime files: meaningless after a reboot anyway
        self.event("start")  # here, so that it comes before the "die" we may tell next
        if first:
            self.sync(report)
        if probed:
            from dockerlab.engine.runtime.health import Prober

            self.prober = Prober(self.cfg, self.paths, pid, started, self.sel, cgroup.frozen)
        return None

    def fork_rootless(
        self,
        merged: str,
        go_r: int,
        err_w: int,
        stdio: tuple[int, int, int],
        tty_child: socket.socket | None,
        kernel: dict[str, Any],
    ) -> int:
        """Fork the container's first process as PID 1 of a new PID namespace without
        leaving ours: a user namespace may not setns back to the host's, so a short-lived
        child unshares and forks it, and we, its subreaper, inherit it. Returns its pid."""
        L.prctl(L.PR_SET_CHILD_SUBREAPER, 1)
        pid_r, pid_w = os.pipe()
        middle = os.fork()
        if middle == 0:
            try:
                os.close(pid_r)
                L.unshare(L.CLONE_NEWPID)
                pid = os.fork()
                if pid == 0:
                    os.close(pid_w)
                    _container_main(self.cfg, merged, go_r, err_w, stdio, tty_child, kernel)
                os.write(pid_w, str(pid).encode())
            except BaseException as exc:  # noqa: BLE001 - told as the container's failure
                _report(err_w, 125, reason(exc))
            finally:
                os._exit(125)
        os.close(pid_w)
        raw = os.read(pid_r, 32)
        os.close(pid_r)
        os.waitpid(middle, 0)
        if not raw:
            raise ContainerStartError("the container's first process was not forked")
        return int(raw)

    def join_bridge_rootless(self, config: dict[str, Any]) -> int:
        """:meth:`join_bridge` in a thread in the user's network namespace (a process in a
        user namespace may not setns back to the host's: the monitor's main thread stays
        there, for the ports); returns the container's namespace, which its first process
        joins, and leaves that thread where it began."""
        try:
            self.join_bridge(config)
            return os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        finally:
            if self.endpoint is not None:
                self.endpoint.leave()

    def join_bridge(self, config: dict[str, Any]) -> None:
        """Attach the coming container to the bridge network (see engine/network/endpoint)
        and write its /etc/hosts and /etc/resolv.conf for its address."""
        from dockerlab.engine.network import etcfiles
        from dockerlab.engine.network.endpoint import Endpoint

        folder = os.path.join(self.paths.root, "network")
        users = self.cfg.get("UserNetworks") or []  # [{**record, Aliases, IPv4Address}]
        nets = ([self.cfg["BridgeNetwork"]] if self.cfg.get("BridgeNetwork") else []) + users
        endpoint = Endpoint(
            nets[0],
            folder,
            self.cid,
            self.paths.containers,
            want_ip=nets[0].get("IPv4Address") or "",
            mac=mac_address(config.get("MacAddress") or ""),
        )
        from dockerlab.engine.network import bridge

        for net in nets[1:]:  # from the host's namespace, where their uplinks are
            bridge.ensure(net, folder)
        endpoint.enter()
        self.endpoint = endpoint
        for i, net in enumerate(nets[1:], 1):
            more = Endpoint(
                net,
                folder,
                self.cid,
                self.paths.containers,
                f"eth{i}",
                net.get("IPv4Address") or "",
            )
            more.join()
            self.more_endpoints.append(more)
        hostname = config.get("Hostname") or self.cid[:12]
        own = etcfiles.own_line(endpoint.ip, hostname, config.get("Domainname") or "")
        try:
            with open("/etc/resolv.conf", "rb") as f:
                host_resolv = f.read()
        except OSError:
            host_resolv = b""
        files: list[tuple[str, bytes]]
        if "EtcHosts" in self.cfg:  # the starter's: add-host and link records, resolv.conf
            files = [("hosts", self.cfg["EtcHosts"] + own)]
        else:
            files = [
                ("hosts", etcfiles.HOSTS_HEAD + own),
                ("resolv.conf", etcfiles.resolv_conf(host_resolv)),
            ]
        if users:  # (not on the default bridge alone: its port 53 stays the container's)
            self.serve_dns(users, folder, host_resolv)
            files.append(("resolv.conf", etcfiles.embedded_resolv_conf()))
        for name, data in files:
            with open(os.path.join(self.dir, name), "wb") as f:
                f.write(data)

    def serve_dns(self, users: list[dict[str, Any]], folder: str, host_resolv: bytes) -> None:
        """(in the container's namespace) The embedded DNS server's socket, and this
        container's names on each user network (see engine/network/dns)."""
        from dockerlab.engine.network import dns

        eps = ([] if self.cfg.get("BridgeNetwork") else [self.endpoint]) + self.more_endpoints
        name = self.cfg.get("Name", "").lstrip("/")
        for net, ep in zip(users, [e for e in eps if e is not None]):
            names = [name, self.cid[:12], *(net.get("Aliases") or [])]
            dns.register(folder, net["Name"], ep.ip, self.cid, names)
        dns.set_networks(self.rundir, [net["Name"] for net in users])
        self.dns = dns.Server(folder, self.rundir, dns.upstreams(host_resolv))
        self.sel.register(self.dns.sock, "dns")
        self.sel.register(self.dns.upstream, "dns-up")

    def publish(self) -> None:
        """Bind the container's published host ports (see engine/network/ports); nothing
        is imported for a container that publishes none."""
        host = self.cfg["HostConfig"]
        if not host.get("PortBindings") and not (
            host.get("PublishAllPorts") and self.cfg["Config"].get("ExposedPorts")
        ):
            return
        from dockerlab.engine.network.ports import PortError, Publisher

        publisher = Publisher(os.path.join(self.paths.root, "network"), self.cid)
        if self.cfg.get("Rootless"):
            publisher.user_netns = self.paths.run
        self.publisher = publisher
        try:
            publisher.bind(self.cfg)
        except PortError as exc:
            name = self.cfg["Name"].lstrip("/")
            failure = RuntimeError(
                f"driver failed programming external connectivity on endpoint {name} "
                f"({os.urandom(32).hex()}): {exc}"
            )
            failure.start_code = 128  # type: ignore[attr-defined]  # Docker's ExitCode
            raise failure from None

    def bind_sandbox(self, pid: int, mode: str) -> dict[str, str]:
        """This run's SandboxID and SandboxKey: the key a bind mount of the container's
        network namespace, kept while it runs (none for host's and container: modes)."""
        from dockerlab.engine.network import runfiles

        self.sandbox = runfiles.new_sandbox(self.paths.run, mode)
        key = self.sandbox["SandboxKey"]
        if runfiles.owns_key(key):
            runfiles.make_key(key, f"/proc/{pid}/ns/net")
        return dict(self.sandbox)

    def sync(self, message: dict[str, Any]) -> None:
        try:
            os.write(self.sync_fd, dumps(message).encode() + b"\n")
            os.close(self.sync_fd)
        except OSError:
            pass  # the starter is gone; the state on disk still tells
        self.sync_fd = -1

    # ---- clients ------------------------------------------------------------------------
    def add_client(self, sock: socket.socket) -> Client:
        sock.setblocking(True)
        client = Client(sock)
        self.clients[sock.fileno()] = client
        self.sel.register(sock, "client")
        return client

    def drop_client(self, client: Client) -> None:
        self.clients.pop(client.sock.fileno(), None)
        try:
            self.sel.unregister(client.sock)
        except (KeyError, ValueError):
            pass
        client.sock.close()
        if client in self.paused:
            self.paused.remove(client)
        if client.stdin and self.cfg["Config"].get("StdinOnce"):
            self.close_stdin_after_queue()

    def close_stdin(self) -> None:
        if self.stdin_w is not None:
            if self.stdin_queue:
                self.sel.unregister(self.stdin_w)
                self.stdin_queue.clear()
            os.close(self.stdin_w)
            self.stdin_w = None

    def close_stdin_after_queue(self) -> None:
        if self.stdin_queue:
            self.stdin_closing = True
        else:
            self.close_stdin()

    STDIN_LIMIT = 1 << 20  # queued input before clients are no longer read

    def feed_stdin(self, data: bytes = b"") -> None:
        """Queue ``data`` for the container's stdin and write what the pipe takes now."""
        if self.stdin_w is None:
            return
        was_queued = bool(self.stdin_queue)
        self.stdin_queue += data
        while self.stdin_queue:
            try:
                sent = os.write(self.stdin_w, self.stdin_queue)
            except BlockingIOError:
                break
            except OSError:  # EPIPE: the container closed its stdin; the input goes nowhere
                self.stdin_queue.clear()
                break
            del self.stdin_queue[:sent]
        if self.stdin_queue and not was_queued:
            self.sel.register(self.stdin_w, "stdin", select.EPOLLOUT)
        elif was_queued and not self.stdin_queue:
            self.sel.unregister(self.stdin_w)
        if len(self.stdin_queue) < self.STDIN_LIMIT:
            for client in self.paused:
                self.sel.register(client.sock, "client")
            self.paused.clear()
        if self.stdin_closing and not self.stdin_queue:
            self.stdin_closing = False
            self.close_stdin()

    def on_client(self, client: Client) -> None:
        try:
            data = client.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self.drop_client(client)
            return
        for kind, payload in client.reader.feed(data):
            if kind == S.HELLO:
                client.streams = {
                    s for s, k in ((S.STDOUT, b"o"), (S.STDERR, b"e")) if k in payload
                }
                client.stdin = b"i" in payload
                client.ready = True
            elif kind == S.STDIN:
                if self.master is None:
                    self.feed_stdin(payload)
                else:
                    try:
                        os.write(self.master, payload)
                    except OSError:
                        pass
            elif kind == S.CLOSE_STDIN:
                if self.master is not None:
                    os.write(self.master, b"\x04")
                elif self.cfg["Config"].get("StdinOnce"):
                    self.close_stdin_after_queue()
            elif kind == S.RESIZE and self.master is not None:
                rows, cols = S.WINSIZE.unpack(payload)
                fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
                self.event("resize", {"height": str(rows), "width": str(cols)})
        if len(self.stdin_queue) >= self.STDIN_LIMIT and client not in self.paused:
            self.sel.unregister(client.sock)  # read again once the container has taken some
            self.paused.append(client)

    # ---- output -------------------------------------------------------------------------
    def on_output(self, fd: int, kind: int) -> bool:
        try:
            data = os.read(fd, 65536)
        except OSError as exc:  # EIO: the terminal's last writer is gone
            if exc.errno != errno.EIO:
                raise
            data = b""
        if not data:
            self.sel.unregister(fd)
            os.close(fd)
            self.flush_partial(kind)
            return False
        self.write_log(kind, data)
        frame = S.frame(kind, data)
        for client in list(self.clients.values()):
            if kind in client.streams:
                try:
                    client.sock.sendall(frame)
                except OSError:
                    self.drop_client(client)
        return True

    def write_log(self, kind: int, data: bytes) -> None:
        stream = "stdout" if kind == S.STDOUT else "stderr"
        text = self.partial[kind] + data
        lines = text.split(b"\n")
        self.partial[kind] = lines.pop()
        if len(self.partial[kind]) > 16384:
            lines.append(self.partial[kind])
            self.partial[kind] = b""
            tail_newline = False
        else:
            tail_newline = True
        now = log_time(time.time_ns())
        out = []
        for i, line in enumerate(lines):
            nl = "\n" if (tail_newline or i < len(lines) - 1) else ""
            out.append(
                dumps({"log": line.decode("utf-8", "replace") + nl, "stream": stream, "time": now})
                + "\n"
            )
        if out:
            self.append_log("".join(out).encode())

    def flush_partial(self, kind: int) -> None:
        rest = self.partial[kind]
        if rest:
            self.partial[kind] = b""
            stream = "stdout" if kind == S.STDOUT else "stderr"
            self.append_log(
                (
                    dumps(
                        {
                            "log": rest.decode("utf-8", "replace"),
                            "stream": stream,
                            "time": log_time(time.time_ns()),
                        }
                    )
                    + "\n"
                ).encode()
            )

    def append_log(self, data: bytes) -> None:
        """Lines that cannot be written (a full disk) are dropped, as Docker's json-file
        logger drops them: the container and its attached clients go on."""
        try:
            self.log.write(data)
        except OSError:
            pass

    # ---- the loop -----------------------------------------------------------------------
    def loop(self) -> None:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # only the container's end ends us
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        self.sel.register(wake_r, "wake")
        while True:
            self.run_until_exit()
            assert self.status is not None
            record = self.exit_record(self.status)
            if record["OOMKilled"]:
                self.event("oom")
            self.event("die", {"exitCode": str(record["ExitCode"])})  # each exit, as Docker's
            final = self.restart(record)
            if final is not None:
                break
        self.cleanup()
        events.volume_mounts(self.paths, self.cfg, "unmount")
        self.done(final)

    def run_until_exit(self) -> None:
        """Serve the container until its process has exited and its output is drained."""
        self.status = None
        while True:
            if self.status is None:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    self.status = status
            wait = None
            if self.prober is not None:
                if self.status is None:
                    wait = self.prober.tick()
                else:  # no probe outlives the container
                    self.prober.stop()
                    self.prober = None
            if self.status is not None and not self.sel.has(S.STDOUT, S.STDERR):
                break
            timeout = 0.2 if self.status is not None else wait
            events = self.sel.select(timeout)
            if not events and self.status is not None:
                break  # output still held open by an escaped process: stop waiting for it
            for fd, obj, data in events:
                self.dispatch(fd, obj, data)

    def dispatch(self, fd: int, obj: object, data: object) -> None:
        if data == "wake":
            try:
                os.read(fd, 4096)
            except BlockingIOError:
                pass
            if self.publisher is not None:  # a SIGCHLD may be its proxy's: replaced
                self.publisher.check()
        elif data == "listen":
            conn, _ = obj.accept()  # type: ignore[attr-defined]
            self.add_client(conn)
        elif data == "client":
            client = self.clients.get(fd)
            if client:
                self.on_client(client)
        elif data == "stdin":
            self.feed_stdin()
        elif data == "health":
            if self.prober is not None:
                self.prober.on_output()
        elif data == "dns":
            if self.dns is not None:
                self.dns.on_query()
        elif data == "dns-up":
            if self.dns is not None:
                self.dns.on_upstream()
        else:
            self.on_output(fd, data)  # type: ignore[arg-type]

    def exit_record(self, status: int) -> dict[str, Any]:
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
        assert self.cgroup is not None  # a child exited, so start() made its cgroup
        return {
            "ExitCode": code,
            "OOMKilled": self.cgroup.oom_killed(),
            "FinishedAt": log_time(time.time_ns()),
            "Error": "",
            "RestartCount": self.restarts,
        }

    # ---- restart policies (see dockerlab.engine.runtime.restarts) ---------------------
    def restart_policy(self) -> tuple[str, int]:
        """The policy now: as ``update --restart`` left it, else as the container started."""
        try:
            with open(os.path.join(self.rundir, "restart-policy")) as f:
                text = f.read()
        except FileNotFoundError:
            policy = self.cfg["HostConfig"].get("RestartPolicy") or {}
            return policy.get("Name") or "no", int(policy.get("MaximumRetryCount") or 0)
        from dockerlab.engine.runtime.restarts import decode

        return decode(text)

    def stop_request(self) -> str:
        """ "cancel" once the user stopped or killed the container, "manual" after another
        signal of theirs (Docker's HasBeenManuallyStopped), else ""."""
        try:
            with open(os.path.join(self.rundir, "restart-stop")) as f:
                return f.read().strip()
        except FileNotFoundError:
            return ""

    def restart(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """After an exit: None once the process runs again (its policy said so, the back-off
        passed), else the record to finish with."""
        name, count = self.restart_policy()
        if name in ("no", "") or self.cfg["HostConfig"].get("AutoRemove"):
            return record
        from dockerlab.engine.runtime import restarts as R

        stop = self.stop_request()
        ran_for = time.monotonic() - self.started_at
        self.delay = R.next_delay(self.delay, ran_for)
        if stop == "cancel" or not R.should_restart(
            name, count, record["ExitCode"], stop == "manual", self.restarts
        ):
            return record
        self.restarts += 1
        record["RestartCount"] = self.restarts
        self.cleanup(keep_socket=True)
        self.drop_outputs()
        self.announce_restart(record)
        deadline = time.monotonic() + self.delay
        while (left := deadline - time.monotonic()) > 0 and self.stop_request() != "cancel":
            for fd, obj, data in self.sel.select(left):
                self.dispatch(fd, obj, data)
        if self.stop_request() == "cancel":
            return record
        try:
            self.reload_host_config()
            self.follow_links()
            failure = self.launch(first=False)
        except Exception as exc:  # noqa: BLE001 - recorded, as Docker records a failed restart
            failure = {"code": 128, "message": reason(exc)}
        if failure is None:
            if self.stop_request() == "cancel":  # stopped while it started: no process to see
                os.kill(self.pid, signal.SIGKILL)
            if self.endpoint is not None:  # a link's child: its parents' records follow it
                from dockerlab.engine.network.runfiles import update_parents

                update_parents(self.paths, self.cid, self.endpoint.ip)
            return None
        code = failure["code"] if failure["code"] in (126, 127) else record["ExitCode"] or 128
        return {**record, "ExitCode": code, "Error": failure["message"]}

    def announce_restart(self, record: dict[str, Any]) -> None:
        """Tell the store (monitor.json) and the attached clients that the process exited
        and will be restarted (Docker's State.Restarting)."""
        report = {
            "monitor": os.getpid(),
            "monitor_start": L.proc_start_time(os.getpid()),
            "pid": 0,
            "restarting": True,
            "restarts": self.restarts,
            "exit": record,
        }
        write_bytes(
            os.path.join(self.rundir, "monitor.json"), dumps(report).encode(), durable=False
        )
        self.tell_exit(record)

    def drop_outputs(self) -> None:
        """Close what is left of the last process's output (held by escaped processes)."""
        for fd, (_, data) in list(self.sel.entries.items()):
            if data in (S.STDOUT, S.STDERR):
                self.sel.unregister(fd)
                os.close(fd)
                self.flush_partial(data)
        self.master = None
        self.close_stdin()

    def follow_links(self) -> None:
        """A restart's hosts file names its links' children where they are now (the
        starter's records are of the first start), as Docker builds it again."""
        if not self.cfg.get("LinkIds") or "EtcHosts" not in self.cfg:
            return
        from dockerlab.engine.network.etcfiles import update_records

        for child, alias, *_ in self.cfg["LinkIds"]:
            try:
                report = read_json(os.path.join(self.paths.run, child, "monitor.json"))
                ip = (report.get("network") or {}).get("IPAddress") or ""
            except (OSError, ValueError, AttributeError):
                continue
            if ip:
                self.cfg["EtcHosts"] = update_records(self.cfg["EtcHosts"], ip, alias)

    def reload_host_config(self) -> None:
        """A restart runs with the limits ``update`` recorded meanwhile."""
        try:
            saved = read_json(os.path.join(self.dir, "config.v2.json"))
        except (OSError, ValueError):
            return
        if isinstance(saved, dict) and isinstance(saved.get("HostConfig"), dict):
            self.cfg["HostConfig"] = saved["HostConfig"]

    def event(self, action: str, extra: dict[str, str] | None = None) -> None:
        """Journal a container event, under the name it has now (``rename`` tells us)."""
        try:
            with open(os.path.join(self.rundir, "name")) as f:
                self.cfg["Name"] = f.read()
        except OSError:
            pass
        events.container(self.paths, self.cfg, action, extra)

    def finish_failed(self, report: dict[str, Any]) -> None:
        self.done(
            {
                "ExitCode": report["code"],
                "OOMKilled": False,
                "Error": report["message"],
                "FinishedAt": log_time(time.time_ns()),
                "StartFailed": True,
            }
        )

    def done(self, record: dict[str, Any]) -> None:
        write_bytes(os.path.join(self.rundir, "exit.json"), dumps(record).encode(), durable=False)
        trash = None
        if self.cfg["HostConfig"].get("AutoRemove") and not record.get("StartFailed"):
            trash = self.hide()
            if any(m.get("Anonymous") for m in self.cfg.get("MountPoints", [])):
                from dockerlab.engine.containers.store import remove_anonymous_volumes

                remove_anonymous_volumes(self.paths, self.cfg)
            if trash:
                self.event("destroy")
        self.tell_exit(record)
        if trash:  # the slow part of --rm (layer folders), once nobody waits for it
            from dockerlab.engine.containers.store import ContainerStore

            ContainerStore(self.paths).discard(self.cid, trash)

    def tell_exit(self, record: dict[str, Any]) -> None:
        """Send the exit to every attached client and let them go."""
        exit_frame = S.frame(S.EXIT, dumps(record).encode())
        for client in list(self.clients.values()):
            try:
                client.sock.sendall(exit_frame)
            except OSError:
                pass
            self.clients.pop(client.sock.fileno(), None)
            self.sel.unregister(client.sock)
            client.sock.close()

    def hide(self) -> str | None:
        """``--rm``, first half: rename the container's folder away, so it is removed for
        every reader at once; returns where it went.

        Under the store lock, then the container's own lock (the order every removal takes):
        a verb holding the container (a start still recording that it began) finishes first,
        so nothing writes into a folder renamed away under it."""
        trash = os.path.join(self.paths.containers, f".removing-{self.cid}")
        with locked(os.path.join(self.paths.containers, ".lock")):
            lock = locked(os.path.join(self.dir, "lock"))
            try:
                lock.__enter__()
            except FileNotFoundError:  # removed by someone else meanwhile
                return None
            try:
                os.rename(self.dir, trash)
            except FileNotFoundError:
                lock.__exit__()
                return None
        # The lock moved with the folder: held until we have deleted it, so nobody else
        # does the work twice (the store lock's sweep leaves a held folder alone).
        self.trash_lock = lock
        return trash

    def cleanup(self, keep_socket: bool = False) -> None:
        """Leave nothing behind: processes, cgroup, mounts, socket (each as far as made);
        ``keep_socket`` between two runs of a restarting container."""
        if self.publisher is not None:
            try:
                self.publisher.stop()  # the proxy killed, the host ports given back
            except Exception:  # noqa: BLE001 - the rest must still go
                pass
            self.publisher = None
        had_network = self.endpoint is not None or bool(self.more_endpoints)
        if self.dns is not None:
            self.sel.unregister(self.dns.sock)
            self.sel.unregister(self.dns.upstream)
            self.dns.close()
            self.dns = None
        if self.endpoint is not None:
            try:
                self.endpoint.leave()  # (a failure between enter and fork left us inside)
                self.endpoint.release()
            except Exception:  # noqa: BLE001 - the rest must still go
                pass
            self.endpoint = None
        if self.sandbox.get("SandboxKey"):
            from dockerlab.engine.network import runfiles

            runfiles.release_key(self.sandbox["SandboxKey"])
        self.sandbox = {}
        if had_network:
            from dockerlab.engine.network import ipam  # every network's, connect's too

            try:
                ipam.release_all(os.path.join(self.paths.root, "network"), self.cid)
            except Exception:  # noqa: BLE001 - the rest must still go
                pass
            self.more_endpoints = []
        if self.cgroup is not None:
            try:
                self.cgroup.kill_all(signal.SIGKILL)
            except OSError:
                pass
            try:
                self.cgroup.destroy()
            except Exception:  # noqa: BLE001 - the mounts must still go
                pass
        merged = os.path.join(self.paths.overlay, self.cfg["Runtime"]["Layer"], "merged")
        try:
            L.umount(merged, L.MNT_DETACH)
        except OSError:
            pass
        if keep_socket:
            return
        try:
            self.mount_volumes(detach=True)
        except Exception:  # noqa: BLE001 - the rest must still go
            pass
        try:
            os.unlink(os.path.join(self.rundir, "attach.sock"))
        except FileNotFoundError:
            pass


def run(
    root: str,
    cid: str,
    sync: int,
    spec: int,
    attach: int | None,
    want: str,
    run_dir: str | None = None,
) -> None:
    """Be ``cid``'s monitor: keep only our fds, detach, start the container, serve it.
    ``run_dir`` is the starter's runtime folder (we have no environment to find it in)."""
    keep = {0, 1, 2, sync, spec, attach if attach is not None else sync} - {-1}
    for name in os.listdir("/proc/self/fd"):  # whatever the starter let leak stops here
        if int(name) not in keep:
            try:
                os.close(int(name))
            except OSError:
                pass
    for fd in keep - {0, 1, 2}:  # and the container never inherits ours
        os.set_inheritable(fd, False)
    if os.fork():  # the starter reaps this parent at once; the monitor lives on, detached
        os._exit(0)
    L.set_process_name("dockerlab-mon")
    devnull = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    paths = Paths(root, run_dir) if run_dir else Paths.of(root)
    monitor = Monitor(paths, cid, sync, spec, attach, want)
    try:
        monitor.start()
    except BaseException as exc:  # set-up failed before the container ran: undo, report
        monitor.cleanup()
        report = {"code": 125, "message": reason(exc)}
        monitor.finish_failed(report)
        monitor.sync({"ok": False, **report})
        raise


def main(argv: list[str]) -> None:
    _, root, cid, sync, spec = argv[:5]
    attach, want = argv[5].split(":") if len(argv) > 5 else (None, "")
    run(root, cid, int(sync), int(spec), int(attach) if attach else None, want)


if __name__ == "__main__":
    main(sys.argv[1:])
