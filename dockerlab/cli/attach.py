"""The terminal side of an attached container: copy streams, raw mode, detach keys, signals.

Used by ``run`` (attached), ``start -a``, ``attach`` and ``exec``.
"""

from __future__ import annotations

import os
import selectors
import signal
import sys
import termios
import tty as ttylib

from dockerlab.engine.streams import STDERR, Attachment

_KEYS = {f"ctrl-{c}": ord(c) - 96 for c in "abcdefghijklmnopqrstuvwxyz"}
_KEYS.update({"ctrl-@": 0, "ctrl-[": 27, "ctrl-\\": 28, "ctrl-]": 29, "ctrl-^": 30,
              "ctrl-_": 31})


def parse_detach_keys(spec: str) -> bytes:
    """Docker's ``--detach-keys`` (``ctrl-p,ctrl-q``, letters) as the bytes to watch for."""
    out = bytearray()
    for key in filter(None, (k.strip() for k in spec.split(","))):
        if key in _KEYS:
            out.append(_KEYS[key])
        elif len(key) == 1:
            out.append(ord(key))
        else:
            raise ValueError(f"Unknown character: '{key}'")
    return bytes(out)


class raw_terminal:
    """``with raw_terminal(fd, enabled):`` the terminal in raw mode, restored after."""

    def __init__(self, fd: int, enabled: bool) -> None:
        self.fd = fd
        self.saved = None
        self.enabled = enabled and fd >= 0 and os.isatty(fd)

    def __enter__(self) -> None:
        if self.enabled:
            self.saved = termios.tcgetattr(self.fd)
            ttylib.setraw(self.fd, termios.TCSANOW)  # TCSAFLUSH would drop typed-ahead keys

    def __exit__(self, *exc: object) -> None:
        if self.saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)


def _winsize(fd: int) -> tuple[int, int] | None:
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return None
    return size.lines, size.columns


def pump(att: Attachment, stdin: bool, tty: bool, detach_keys: str = "ctrl-p,ctrl-q",
         on_interrupt=None) -> int | None:
    """Copy between this terminal and ``att`` until the container exits (its exit code) or
    the user types the detach keys (None)."""
    keys = parse_detach_keys(detach_keys) if tty or stdin else b""
    matched = 0
    sel = selectors.DefaultSelector()
    sel.register(att.sock, selectors.EVENT_READ, "att")
    in_fd = sys.stdin.fileno() if stdin else -1
    if stdin:
        sel.register(in_fd, selectors.EVENT_READ, "in")
    out_fd, err_fd = sys.stdout.fileno(), sys.stderr.fileno()
    sys.stdout.flush()
    if tty:
        size = _winsize(out_fd) or _winsize(in_fd) if stdin else _winsize(out_fd)
        if size:
            att.resize(*size)
        signal.signal(signal.SIGWINCH,
                      lambda *_: (s := _winsize(out_fd)) and att.resize(*s))
    with raw_terminal(in_fd, tty and stdin):
        while True:
            try:
                events = sel.select()
            except KeyboardInterrupt:
                if on_interrupt:
                    on_interrupt()
                    continue
                raise
            for key, _ in events:
                if key.data == "att":
                    frames = att.pump()
                    if frames is None:
                        return int(att.exit.get("ExitCode", 0)) if att.exit else 0
                    for kind, data in frames:
                        os.write(err_fd if kind == STDERR else out_fd, data)
                    if att.exit is not None:
                        return int(att.exit.get("ExitCode", 0))
                else:
                    data = os.read(in_fd, 4096)
                    if not data:
                        sel.unregister(in_fd)
                        att.close_stdin()
                        continue
                    if keys:
                        for byte in data:
                            matched = matched + 1 if byte == keys[matched] else (
                                1 if byte == keys[0] else 0)
                            if matched == len(keys):
                                att.close()
                                return None
                    att.write(data)


def run_attached(engine, cid: str, interactive: bool, tty: bool,
                 detach_keys: str = "ctrl-p,ctrl-q", sig_proxy: bool = True) -> int:
    """``run``/``start -a``: start ``cid`` attached; returns the exit code (0 on detach)."""
    att = engine.start(cid, attach="ioe" if interactive else "oe")
    if att is None:  # already running: attach to it instead
        return attach(engine, cid, not interactive, detach_keys, sig_proxy)
    return _follow(engine, cid, att, interactive, tty, detach_keys, sig_proxy)


def attach(engine, cid: str, no_stdin: bool = False, detach_keys: str = "ctrl-p,ctrl-q",
           sig_proxy: bool = True) -> int:
    info = engine.inspect(cid)
    cfg = info["Config"]
    stdin = cfg.get("OpenStdin") and not no_stdin
    att = engine.attach(cid, stdin=bool(stdin))
    return _follow(engine, cid, att, bool(stdin), bool(cfg.get("Tty")), detach_keys, sig_proxy)


def _follow(engine, cid: str, att: Attachment, stdin: bool, tty: bool, detach_keys: str,
            sig_proxy: bool) -> int:
    def forward() -> None:
        engine.kill(cid, "INT")

    code = pump(att, stdin, tty, detach_keys, forward if sig_proxy and not tty else None)
    att.close()
    if code is None:
        sys.stderr.write("read escape sequence\n")
        return 0
    return code


def exec_(engine, cid: str, cmd: list[str], env: list[str], workdir: str, user: str,
          interactive: bool, tty: bool, detach: bool, privileged: bool = False) -> int:
    """``exec``: the command gets this terminal's own streams; returns its exit code."""
    import subprocess

    proc = engine.exec(cid, cmd, env=env, workdir=workdir, user=user, tty=tty, detach=detach,
                       stdin=None if interactive else subprocess.DEVNULL, privileged=privileged)
    if proc is None:
        return 0
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)
