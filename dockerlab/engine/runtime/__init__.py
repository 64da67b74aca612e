"""The runtime: what starts, confines and watches a container's processes.

    spawn.py      the caller's side: the forkserver on demand, a monitor per container
    forkserver.py a warm ``python -I -S`` per state root that forks the monitors (a script)
    monitor.py    one per running container, like Podman's conmon (a script, forked)
    restarts.py   restart policies as moby's restartmanager decides them (pure)
    nsexec.py     ``exec``'s helper: joins a container's cgroup and namespaces (a script)
    rootfs.py     the container's filesystem view, set up in its mount namespace
    process.py    the last steps before ``execve``: user, capabilities, seccomp, command
    linux.py      the syscalls ``os`` lacks (ctypes): namespaces, mounts, capabilities
    streams.py    the attach protocol: framed messages over a unix socket
    inroot.py     paths inside a container root, resolved through file descriptors
    cgroups/      limits, freezer, OOM and stats on cgroup v1 and v2; device rules as BPF
    security/     capabilities, seccomp profiles compiled to BPF, no-new-privileges

monitor.py, forkserver.py and nsexec.py run as ``python -I -S <file> PKGDIR …``: they put
PKGDIR (the folder holding ``dockerlab/``) on ``sys.path`` and import only what they need, so
this package imports nothing (the monitor's import set is pinned by
tests/unit/test_architecture.py). Runtime files (sockets, pids) live under /run/dockerlab.
"""
