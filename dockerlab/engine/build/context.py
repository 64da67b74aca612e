"""The build context: a folder, or a tar (or a bare Dockerfile) sent on standard input.

A folder is used in place (nothing is copied): what ``.dockerignore`` excludes is simply
invisible to COPY and ADD, as if Docker's client had left it out of the tar it sends. A tar
is unpacked safely into a temporary folder first. :attr:`BuildContext.size` is the size of
the tar Docker's client would send (Go's tar: a 512-byte header per entry, data padded to
512, two zero blocks at the end), for ``Sending build context to Docker daemon  2.048kB``.

``.dockerignore`` follows moby's ``patternmatcher``: one pattern a line, ``#`` comments,
``!`` re-includes, ``*`` and ``?`` stop at ``/``, ``**`` spans folders, a pattern matching a
folder excludes everything below it, the last matching pattern wins.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import tempfile

from dockerlab.engine.work import prefix as work_prefix
from dockerlab.errors import InvalidParameter

_BLOCK = 512


def human_size(size: float) -> str:
    """go-units ``HumanSize``: decimal units, 4 significant digits (``2.048kB``)."""
    units = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
    i = 0
    while size >= 1000 and i < len(units) - 1:
        size /= 1000.0
        i += 1
    return f"{size:.4g}{units[i]}"


# ---- patterns ------------------------------------------------------------------------------


def _pattern_regex(pattern: str, double_star: bool = True) -> re.Pattern[str]:
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if double_star and i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                out.append(".*" if i >= n else "(.*/)?")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1 if i < n and pattern[i] in "^!" else i)
            if end < 0:
                raise InvalidParameter(f"syntax error in pattern: {pattern}")
            body = pattern[i:end]
            if body[:1] in ("^", "!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        elif ch == "\\":
            if i < n:
                out.append(re.escape(pattern[i]))
                i += 1
            else:
                out.append("\\\\")
        else:
            out.append(re.escape(ch))
    out.append("$")
    return re.compile("".join(out), re.DOTALL)


def go_match(pattern: str, name: str) -> bool:
    """Go's ``filepath.Match`` (``*`` and ``?`` never match ``/``)."""
    return _pattern_regex(pattern, double_star=False).match(name) is not None


def has_wildcards(path: str) -> bool:
    i = 0
    while i < len(path):
        if path[i] == "\\":
            i += 2
            continue
        if path[i] in "*?[":
            return True
        i += 1
    return False


def read_dockerignore(text: str) -> list[str]:
    """Patterns of a ``.dockerignore`` file, cleaned as Docker's client does."""
    out = []
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        pattern = raw.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = os.path.normpath(pattern)
            if pattern.startswith("//"):
                pattern = pattern.lstrip("/") or "/"
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        out.append("!" + pattern if invert else pattern)
    return out


class PatternMatcher:
    """moby's ``patternmatcher.PatternMatcher`` (``MatchesOrParentMatches``)."""

    def __init__(self, patterns: list[str]) -> None:
        self.raw = list(patterns)  # (for a rootless build step's helper: engine/userns.py)
        self.patterns: list[tuple[bool, re.Pattern[str]]] = []
        for p in patterns:
            exclusion = p.startswith("!")
            body = p[1:] if exclusion else p
            if not body:
                raise InvalidParameter('illegal exclusion pattern: "!"')
            self.patterns.append((exclusion, _pattern_regex(body)))
        self.has_exclusions = any(e for e, _ in self.patterns)

    def matches(self, path: str) -> bool:
        """True when ``path`` (relative, ``/``-separated) is excluded."""
        parents = path.split("/")[:-1]
        matched = False
        for exclusion, rx in self.patterns:
            if exclusion != matched:
                continue
            hit = rx.match(path) is not None
            if not hit:
                for i in range(len(parents)):
                    if rx.match("/".join(parents[: i + 1])):
                        hit = True
                        break
            if hit:
                matched = not exclusion
        return matched


# ---- the context ---------------------------------------------------------------------------


class BuildContext:
    """Files COPY and ADD may read, under ``root``; ``dockerfile`` holds the Dockerfile text."""

    def __init__(
        self,
        root: str,
        dockerfile: str,
        dockerfile_name: str,
        size: int,
        matcher: PatternMatcher | None,
        temporary: bool,
    ) -> None:
        self.root = root
        self.dockerfile = dockerfile
        self.dockerfile_name = dockerfile_name
        self.size = size
        self.matcher = matcher
        self._temporary = temporary

    def close(self) -> None:
        if self._temporary:
            shutil.rmtree(self.root, ignore_errors=True)

    def excluded(self, rel: str) -> bool:
        return self.matcher is not None and rel not in ("", ".") and self.matcher.matches(rel)

    def walk(self) -> list[str]:
        """Every visible path (relative, ``/``-separated), folders before their contents."""
        out: list[str] = []

        def visit(rel: str) -> None:
            folder = os.path.join(self.root, rel) if rel else self.root
            for name in sorted(os.listdir(folder)):
                sub = f"{rel}/{name}" if rel else name
                if self.excluded(sub):
                    if (
                        not (self.matcher and self.matcher.has_exclusions)
                        or not os.path.isdir(os.path.join(self.root, sub))
                        or os.path.islink(os.path.join(self.root, sub))
                    ):
                        continue
                else:
                    out.append(sub)
                full = os.path.join(self.root, sub)
                if os.path.isdir(full) and not os.path.islink(full):
                    visit(sub)

        visit("")
        return out


def _tar_size(ctx: BuildContext) -> int:
    total = 2 * _BLOCK
    for rel in ctx.walk():
        st = os.lstat(os.path.join(ctx.root, rel))
        name = rel + "/" if stat.S_ISDIR(st.st_mode) else rel
        total += _BLOCK
        if len(name.encode()) > 100 and not _ustar_splits(name):
            total += 2 * _BLOCK  # a PAX header and its record
        if stat.S_ISREG(st.st_mode):
            total += -(-st.st_size // _BLOCK) * _BLOCK
    return total


def _ustar_splits(name: str) -> bool:
    raw = name.encode()
    if len(raw) > 255:
        return False
    for i in range(len(raw) - 1, 0, -1):
        if raw[i : i + 1] == b"/" and i <= 155 and len(raw) - i - 1 <= 100 and len(raw) - i > 1:
            return True
    return False


def _dockerignore(root: str) -> PatternMatcher | None:
    try:
        with open(os.path.join(root, ".dockerignore"), encoding="utf-8") as f:
            patterns = read_dockerignore(f.read())
    except FileNotFoundError:
        return None
    return PatternMatcher(patterns) if patterns else None


def _hide_build_files(ctx: BuildContext) -> None:
    """Docker's daemon drops the Dockerfile and .dockerignore when .dockerignore names them."""
    if ctx.matcher is None:
        return
    for rel in (".dockerignore", ctx.dockerfile_name):
        if not ctx.matcher.matches(rel):
            continue
        if ctx._temporary:
            path = os.path.join(ctx.root, rel)
            if os.path.isfile(path) or os.path.islink(path):
                os.unlink(path)


def from_dir(path: str, dockerfile: str = "Dockerfile") -> BuildContext:
    """A folder context; ``dockerfile`` relative to it, or an absolute host path."""
    root = os.path.abspath(path)
    if not os.path.isdir(root):
        raise InvalidParameter(f'unable to prepare context: path "{path}" not found')
    df_path = dockerfile if os.path.isabs(dockerfile) else os.path.join(root, dockerfile)
    if (
        not os.path.isabs(dockerfile)
        and dockerfile == "Dockerfile"
        and not os.path.exists(df_path)
        and os.path.exists(os.path.join(root, "dockerfile"))
    ):
        df_path = os.path.join(root, "dockerfile")
    try:
        with open(df_path, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except (FileNotFoundError, NotADirectoryError):
        raise InvalidParameter(
            "unable to prepare context: unable to evaluate symlinks in "
            f"Dockerfile path: lstat {df_path}: no such file or "
            "directory"
        ) from None
    rel = os.path.relpath(df_path, root)
    ctx = BuildContext(root, text, rel, 0, _dockerignore(root), temporary=False)
    ctx.size = _tar_size(ctx)
    if ctx.matcher is not None:
        for name in (".dockerignore", rel):  # always sent, as Docker's client does
            if ctx.matcher.matches(name) and os.path.exists(os.path.join(root, name)):
                ctx.size += (
                    _BLOCK + -(-os.path.getsize(os.path.join(root, name)) // _BLOCK) * _BLOCK
                )
    return ctx


def is_archive(data: bytes) -> bool:
    """A tar, or a compressed stream (gzip, bzip2, xz, zstd: as moby's DetectCompression)."""
    from dockerlab.engine.images.inflate import compression

    if compression(data[:6]):
        return True
    return len(data) >= 512 and data[257:262] == b"ustar" or _valid_tar_header(data)


def _valid_tar_header(data: bytes) -> bool:
    if len(data) < 512:
        return False
    header = data[:512]
    try:
        chk = int(header[148:156].split(b"\0", 1)[0].strip() or b"-1", 8)
    except ValueError:
        return False
    calc = sum(header[:148]) + 8 * 32 + sum(header[156:])
    return chk == calc


def from_bytes(data: bytes, tmp_dir: str, dockerfile: str = "Dockerfile") -> BuildContext:
    """A context sent on standard input: a tar (maybe compressed) or a bare Dockerfile."""
    os.makedirs(tmp_dir, mode=0o700, exist_ok=True)
    if not is_archive(data):
        root = tempfile.mkdtemp(prefix=work_prefix("context"), dir=tmp_dir)
        text = data.decode("utf-8", "surrogateescape")
        with open(
            os.path.join(root, "Dockerfile"), "w", encoding="utf-8", errors="surrogateescape"
        ) as f:
            f.write(text)
        size = 2 * _BLOCK + _BLOCK + -(-len(data) // _BLOCK) * _BLOCK
        return BuildContext(root, text, "Dockerfile", size, None, temporary=True)
    root = tempfile.mkdtemp(prefix=work_prefix("context"), dir=tmp_dir)
    try:
        from dockerlab.engine.images.archive import extract
        from dockerlab.engine.images.inflate import Budget
        from dockerlab.engine.runtime.inroot import join

        try:
            # one pass, decompressed within bounds (ratio, free disk, header sizes)
            extract(
                io.BytesIO(data),
                root,
                keep_owner=False,
                shown=".",
                error_prefix="the build context is not a valid tar",
                budget=Budget(tmp_dir),
            )
        except (EOFError, OSError) as exc:
            raise InvalidParameter(f"the build context is not a valid tar: {exc}") from exc
        df_path = join(root, dockerfile)
        try:
            with open(df_path, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise InvalidParameter(f"Cannot locate specified Dockerfile: {dockerfile}") from None
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    ctx = BuildContext(
        root, text, os.path.relpath(df_path, root), len(data), _dockerignore(root), temporary=True
    )
    _hide_build_files(ctx)
    return ctx
