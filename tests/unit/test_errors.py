"""The one exception tree: its two mappings, the boundary that converts foreign errors, and
the docstring that draws it."""

from __future__ import annotations

import ast
import errno
import importlib
import io
import json
import os
import pathlib
import tarfile
import zlib

import pytest

from dockerlab import errors
from dockerlab.errors import (
    ArgCountError,
    ClientError,
    CommandNotFound,
    CommandNotInvokable,
    Conflict,
    ContainerStartError,
    DockerlabError,
    Forbidden,
    InvalidParameter,
    NoSuchContainer,
    NoSuchImage,
    NoSuchVolume,
    NotFound,
    NotModified,
    SystemFailure,
    UsageError,
    boundary,
    exit_code,
    http_status,
    translate,
)

PKG = pathlib.Path(__file__).resolve().parents[2] / "dockerlab"


# ---- one mapping per face ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("err", "verb", "code"),
    [
        (DockerlabError("x"), "ps", 1),
        (DockerlabError("x"), "run", 125),
        (DockerlabError("x"), "create", 125),
        (NoSuchContainer("c"), "rm", 1),
        (NoSuchImage("i"), "run", 125),
        (Conflict("x"), "start", 1),
        (SystemFailure("x", errno.ENOSPC), "commit", 1),
        (SystemFailure("x", errno.ENOSPC), "run", 125),
        (ContainerStartError("x"), "start", 125),
        (CommandNotFound("x"), "run", 127),
        (CommandNotInvokable("x"), "start", 126),
        (UsageError("x"), "ps", 125),
        (ArgCountError("x"), "run", 1),  # cobra's Args checks: 1 even for run
        (ClientError("x"), "save", 1),
        (ClientError("the input device is not a TTY"), "run", 1),
    ],
)
def test_exit_codes_are_dockers(err, verb, code):
    assert exit_code(err, verb) == code


def test_an_exit_status_the_failure_carries_is_passed_on():
    from dockerlab.engine.build import BuildFailed

    failed = BuildFailed("The command '/bin/sh -c exit 3' returned a non-zero code: 3", 3)
    assert exit_code(failed, "build") == 3 and failed.exit_code == 3
    assert CommandNotFound("x").exit_code == 127  # the attribute reads the one mapping


@pytest.mark.parametrize(
    ("err", "status"),
    [
        (DockerlabError("x"), 500),
        (SystemFailure("x"), 500),
        (ContainerStartError("x"), 500),
        (CommandNotFound("x"), 400),  # moby's startInvalidConfigError
        (InvalidParameter("x"), 400),
        (UsageError("x"), 400),
        (NotFound("x"), 404),
        (NoSuchVolume("v"), 404),
        (Conflict("x"), 409),
        (NotModified("x"), 304),
        (Forbidden("x"), 403),
    ],
)
def test_http_statuses_are_mobys(err, status):
    assert http_status(err) == status == err.http_status


def test_template_errors_are_client_errors_printed_as_is():
    from dockerlab.format.gotemplate import TemplateError, render

    with pytest.raises(TemplateError) as info:
        render("{{.Foo | nope}}", {})
    assert isinstance(info.value, ClientError) and isinstance(info.value, ValueError)
    assert exit_code(info.value, "ps") == 1


# ---- translating foreign errors ------------------------------------------------------------


def test_an_oserror_names_the_verb_and_path_in_gos_words_never_errno():
    exc = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/var/lib/dockerlab/tmp/x")
    err = translate(exc, "commit")
    assert isinstance(err, SystemFailure) and err.errno == errno.ENOSPC
    assert str(err) == "commit: /var/lib/dockerlab/tmp/x: no space left on device"
    ro = translate(OSError(errno.EROFS, os.strerror(errno.EROFS), "/a", None, "/b"), "rename")
    assert str(ro) == "rename: /a /b: read-only file system"
    assert (
        str(translate(OSError(errno.EACCES, os.strerror(errno.EACCES)), "tag"))
        == "tag: permission denied"
    )
    # a message of our own (linux.py words the syscall) keeps its case
    own = OSError(errno.EINVAL, "mount /x: Invalid argument")
    assert str(translate(own, "start")) == "start: mount /x: Invalid argument"


def test_data_errors_are_invalid_parameters():
    with pytest.raises(tarfile.TarError) as tar_info:
        tarfile.open(fileobj=io.BytesIO(b"\1" * 1024))
    with pytest.raises(zlib.error) as zlib_info:
        zlib.decompress(b"nope")
    with pytest.raises(UnicodeDecodeError) as utf_info:
        b"\xff".decode()
    for exc, text in (
        (tar_info.value, "load: invalid tar archive: "),
        (zlib_info.value, "import: invalid zlib data: "),
        (utf_info.value, "build: 'utf-8' codec"),
        (OSError("Not a gzipped file (b'xx')"), "import: Not a gzipped file"),
    ):
        err = translate(exc, text.split(":")[0])
        assert isinstance(err, InvalidParameter) and str(err).startswith(text), err
    with pytest.raises(json.JSONDecodeError) as json_info:
        json.loads("{")
    assert str(translate(json_info.value, "inspect")).startswith("inspect: invalid JSON: ")


@pytest.mark.parametrize(
    "exc",
    [
        BrokenPipeError(errno.EPIPE, "Broken pipe"),  # the reader went away: the CLI ends quietly
        TimeoutError("timed out"),  # a timeout the caller set
        KeyError("a bug"),  # bugs stay bugs (--debug shows their traceback)
        KeyboardInterrupt(),
        Conflict("ours already"),
    ],
)
def test_what_is_not_foreign_goes_on_unchanged(exc):
    assert translate(exc, "verb") is None


# ---- the boundary --------------------------------------------------------------------------


@boundary(init="state root")
class _Toy:
    def __init__(self, path: str = "") -> None:
        if path:
            open(path)

    def image_tag(self, path: str) -> None:
        open(path)

    def outer(self, path: str) -> str:
        try:
            self.image_tag(path)  # a verb called by a verb: its own code sees the raw error
        except FileNotFoundError:
            return "handled inside"
        return "no error"

    def stream(self, fail_at: int):
        for i in range(3):
            if i == fail_at:
                raise OSError(errno.EIO, os.strerror(errno.EIO), "/dev/sda")
            yield i

    def _private(self, path: str) -> None:
        open(path)


def test_boundary_converts_at_the_verb_naming_it(tmp_path):
    missing = str(tmp_path / "missing")
    with pytest.raises(SystemFailure) as info:
        _Toy().image_tag(missing)
    assert str(info.value) == f"image tag: {missing}: no such file or directory"
    assert isinstance(info.value.__cause__, FileNotFoundError)
    assert _Toy.image_tag.__name__ == "image_tag" and _Toy.image_tag.__wrapped__
    with pytest.raises(SystemFailure, match=f"^state root: {missing}: no such file"):
        _Toy(missing)
    with pytest.raises(FileNotFoundError):  # private helpers are not verbs
        _Toy()._private(missing)


def test_only_the_outermost_verb_converts(tmp_path):
    assert _Toy().outer(str(tmp_path / "missing")) == "handled inside"


def test_streams_convert_what_they_raise_while_iterating():
    it = _Toy().stream(fail_at=2)
    assert next(it) == 0 and next(it) == 1
    with pytest.raises(SystemFailure, match="^stream: /dev/sda: input/output error$"):
        next(it)
    assert list(_Toy().stream(fail_at=9)) == [0, 1, 2]


def test_a_stream_closed_early_closes_what_it_wraps():
    closed = []

    @boundary()
    class Source:
        def lines(self):
            try:
                yield from range(10)
            finally:
                closed.append(True)

    it = Source().lines()
    assert next(it) == 0
    it.close()
    assert closed == [True]


def test_every_public_verb_of_the_engine_and_the_attachment_is_guarded():
    from dockerlab.engine.facade import Engine
    from dockerlab.engine.runtime.streams import Attachment

    for cls in (Engine, Attachment):
        public = [name for name, m in vars(cls).items() if callable(m) and not name.startswith("_")]
        assert public and all(hasattr(getattr(cls, n), "__wrapped__") for n in public), cls
    assert hasattr(Engine.__init__, "__wrapped__")


# ---- the tree: one place, drawn true -------------------------------------------------------


def _all_subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub, *_all_subclasses(sub)}
    return out


def test_the_docstring_draws_every_error_class():
    for path in PKG.rglob("*.py"):  # every module that may define one
        if "magics" in path.parts or "widgets" in path.parts or path.name == "__main__.py":
            continue
        name = ".".join(path.relative_to(PKG.parent).with_suffix("").parts)
        if "DockerlabError" in path.read_text() or "errors import" in path.read_text():
            importlib.import_module(name.removesuffix(".__init__"))
    doc = errors.__doc__ or ""
    missing = [
        c.__qualname__
        for c in _all_subclasses(DockerlabError)  # private ones aside
        if c.__module__.startswith("dockerlab")
        and not c.__name__.startswith("_")
        and c.__name__ not in doc
    ]
    assert missing == []


def test_the_cli_defines_no_error_classes_of_its_own():
    """Its refusals are errors.ClientError (or UsageError), not classes of its own."""
    tree = {c.__name__ for c in _all_subclasses(DockerlabError)} | {"DockerlabError"}
    found = []
    for path in (PKG / "cli").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases]
                if tree & set(bases):
                    found.append(f"{path.name}: {node.name}({', '.join(bases)})")
    assert found == []
