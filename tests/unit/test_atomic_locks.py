"""A lock file that may be removed (the forkserver's start lock): never two holders."""

from __future__ import annotations

import fcntl
import os
import threading

from helpers import wait_until

from dockerlab.engine.atomic import locked, remove_lock


def _waiting_on(path_inode: int) -> bool:
    """Someone waits for an flock on the file of that inode (a ``->`` line of /proc/locks)."""
    with open("/proc/locks") as f:
        return any("->" in line and f":{path_inode} " in line for line in f)


def _hold(path: str) -> tuple[int, int]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd, os.fstat(fd).st_ino


def test_a_waiter_on_a_removed_lock_file_locks_the_new_one(tmp_path):
    path = str(tmp_path / "start.lock")
    first, old = _hold(path)
    got: list[int] = []

    def waiter() -> None:
        with locked(path, removable=True) as fd:
            got.append(os.fstat(fd).st_ino)

    t = threading.Thread(target=waiter)
    t.start()
    wait_until(lambda: _waiting_on(old), what="the waiter on the first file")
    # The file is removed and another process locks a new one at the same path, then the
    # first holder lets go: the waiter wakes on the removed file and must not go on.
    os.unlink(path)
    second, new = _hold(path)
    os.close(first)
    wait_until(lambda: _waiting_on(new), what="the waiter on the new file")
    assert t.is_alive() and got == []  # two holders at once would have been the bug
    os.close(second)
    t.join(timeout=20)
    assert got == [new]


def test_remove_lock_waits_for_the_holder_then_removes(tmp_path):
    path = str(tmp_path / "start.lock")
    holder = locked(path, removable=True)
    fd = holder.__enter__()
    inode = os.fstat(fd).st_ino
    t = threading.Thread(target=remove_lock, args=(path,))
    t.start()
    wait_until(lambda: _waiting_on(inode), what="remove_lock waiting for the holder")
    assert os.path.exists(path)
    holder.__exit__()
    t.join(timeout=20)
    assert not os.path.exists(path)
    remove_lock(path)  # nothing there: nothing to do
