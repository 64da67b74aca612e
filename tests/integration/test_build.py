"""`build` with the classic builder, on real containers (no mocks)."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from dockerlab.engine.build import BuildFailed
from dockerlab.errors import InvalidParameter


def _build(engine, context, **kw):
    lines, image_id = [], ""
    for ev in engine.build(context, **kw):
        if ev.kind == "aux":
            image_id = ev.image_id
        else:
            lines.append(ev.text)
    return "".join(lines), image_id


def _ctx(tmp_path, dockerfile, **files):
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    for name, text in files.items():
        p = ctx / name.replace("__", "/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return ctx


def _run(engine, image, *cmd):
    _cid, att = engine.run({"Image": image, "Cmd": list(cmd), "HostConfig": {"AutoRemove": True}})
    return att.collect()


SIX = """FROM busybox
ENV A=1
RUN echo hello $A > /greeting
COPY a.txt /x/
WORKDIR /app
CMD ["sh"]
"""


def test_build_runs_steps_commits_and_prints_docker_s_lines(engine, tmp_path):
    ctx = _ctx(tmp_path, SIX, **{"a.txt": "A\n"})
    out, image_id = _build(engine, str(ctx), tags=["demo:v1"])
    assert out.startswith("Sending build context to Docker daemon  3.072kB")
    assert "Step 3/6 : RUN echo hello $A > /greeting\n ---> Running in " in out
    assert "Removing intermediate container " in out
    assert out.endswith(f"Successfully built {image_id[7:19]}\nSuccessfully tagged demo:v1\n")
    code, stdout, _ = _run(engine, "demo:v1", "sh", "-c", "pwd; cat /greeting /x/a.txt")
    assert (code, stdout) == (0, b"/app\nhello 1\nA\n")
    history = engine.image_history("demo:v1")
    assert history[0]["CreatedBy"] == '/bin/sh -c #(nop)  CMD ["sh"]'
    assert history[4]["CreatedBy"] == "/bin/sh -c #(nop)  ENV A=1"
    assert history[2]["CreatedBy"].startswith("/bin/sh -c #(nop) COPY file:")
    cfg = engine.image_inspect("demo:v1")["Config"]
    assert cfg["Cmd"] == ["sh"] and cfg["WorkingDir"] == "/app" and "A=1" in cfg["Env"]
    # intermediate images are kept untagged; intermediate containers are gone
    assert len(engine.images(all=True)) == 6
    assert engine.container_ids() == []


def test_rebuild_uses_the_cache_until_the_first_miss(engine, tmp_path):
    ctx = _ctx(tmp_path, SIX, **{"a.txt": "A\n"})
    _, first = _build(engine, str(ctx))
    out, again = _build(engine, str(ctx))
    assert again == first and out.count(" ---> Using cache") == 5
    (ctx / "a.txt").write_text("B\n")  # COPY is keyed by content: it and all after miss
    out, changed = _build(engine, str(ctx))
    assert changed != first and out.count(" ---> Using cache") == 2
    out, nocache = _build(engine, str(ctx), no_cache=True)
    assert "Using cache" not in out and nocache != changed


def test_failing_run_reports_docker_s_message_and_code(engine, tmp_path):
    ctx = _ctx(tmp_path, "FROM busybox\nRUN echo out; exit 3\n")
    with pytest.raises(BuildFailed) as err:
        _build(engine, str(ctx))
    assert str(err.value) == "The command '/bin/sh -c echo out; exit 3' returned a non-zero code: 3"
    assert err.value.exit_code == 3


def test_parse_error_names_the_line(engine, tmp_path):
    ctx = _ctx(tmp_path, "FROM busybox\nRUN true\nFOO bar\n")
    with pytest.raises(
        InvalidParameter, match="dockerfile parse error line 3: unknown instruction: FOO"
    ):
        _build(engine, str(ctx))


def test_copy_outside_the_context_is_refused(engine, tmp_path):
    (tmp_path / "secret").write_text("s")
    ctx = _ctx(tmp_path, "FROM busybox\nCOPY ../secret /x\n")
    with pytest.raises(
        BuildFailed,
        match=r"COPY failed: forbidden path outside the build "
        r"context: \.\./secret \(\)",
    ):
        _build(engine, str(ctx))


def test_symlinks_cannot_lead_writes_or_reads_outside(engine, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    ctx = _ctx(
        tmp_path,
        "FROM busybox\nRUN ln -s /../../../../.. /escape && "
        "ln -s " + str(outside) + " /abs\n"
        "COPY a.txt /escape/tmp/pwned\nCOPY a.txt /abs/pwned\n",
        **{"a.txt": "x"},
    )
    os.symlink(str(tmp_path / "outside"), ctx / "link")
    (outside / "host-file").write_text("host")
    _, image_id = _build(engine, str(ctx), tags=["safe"])
    assert not os.path.exists("/tmp/pwned") and not (outside / "pwned").exists()
    code, out, _ = _run(engine, "safe", "sh", "-c", "cat /tmp/pwned /abs/pwned")
    assert out == b"xx"
    # a context symlink pointing outside resolves inside the context: not found there
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY link /from-link\n")
    with pytest.raises(BuildFailed, match="file not found"):
        _build(engine, str(ctx))


def test_dockerignore_hides_files_from_copy(engine, tmp_path):
    ctx = _ctx(
        tmp_path,
        "FROM busybox\nCOPY . /c/\n",
        **{
            ".dockerignore": "*.log\n!keep.log\nsecret\n",
            "a.log": "1",
            "keep.log": "2",
            "secret__k": "3",
            "ok.txt": "4",
        },
    )
    _build(engine, str(ctx), tags=["ign"])
    _, out, _ = _run(engine, "ign", "ls", "-A", "/c")
    assert out.split() == [b".dockerignore", b"Dockerfile", b"keep.log", b"ok.txt"]


def test_multi_stage_copy_from_target_args_and_labels(engine, tmp_path):
    df = """ARG BASE=busybox
FROM $BASE AS builder
ARG WHO=world
RUN echo "hi $WHO" > /made
FROM busybox AS final
COPY --from=builder /made /made
LABEL stage=final
FROM final AS extra
RUN false
"""
    ctx = _ctx(tmp_path, df)
    out, image_id = _build(
        engine,
        str(ctx),
        tags=["ms"],
        target="final",
        build_args={"WHO": "you", "NOPE": "1"},
        labels={"L": "1"},
    )
    assert "[Warning] One or more build-args [NOPE] were not consumed\n" in out
    assert "Step 8/8 : LABEL L=1" in out
    _, made, _ = _run(engine, "ms", "cat", "/made")
    assert made == b"hi you\n"
    labels = engine.image_inspect("ms")["Config"]["Labels"]
    assert labels == {"stage": "final", "L": "1"}
    history = [h["CreatedBy"] for h in engine.image_history(image_id)]
    assert not any("WHO" in h for h in history)


def test_from_scratch_prints_docker_s_empty_arrow_line(engine, tmp_path):
    df = """FROM busybox AS build
RUN echo hi > /made
FROM scratch
COPY --from=build /made /made
"""
    out, image_id = _build(engine, str(_ctx(tmp_path, df)), tags=["tiny"])
    # Docker: " ---> %s" with scratch's empty ID, so the arrow stands alone
    assert "Step 3/4 : FROM scratch\n ---> \nStep 4/4 : COPY --from=build /made /made\n" in out
    assert len(engine.image_inspect("tiny")["RootFS"]["Layers"]) == 1


def test_metadata_instructions_land_in_the_config(engine, tmp_path):
    df = """FROM busybox
ENV X y
ENV P=1 Q="two words"
EXPOSE 80/tcp 443
USER root
VOLUME /data
STOPSIGNAL SIGTERM
SHELL ["/bin/sh", "-c"]
HEALTHCHECK --interval=5s CMD true
ONBUILD RUN echo triggered > /trig
ENTRYPOINT ["/bin/sh"]
"""
    _build(engine, str(_ctx(tmp_path, df)), tags=["meta"])
    cfg = engine.image_inspect("meta")["Config"]
    assert cfg["Env"][-3:] == ["X=y", "P=1", "Q=two words"]
    assert cfg["ExposedPorts"] == {"80/tcp": {}, "443/tcp": {}}
    assert cfg["Volumes"] == {"/data": {}} and cfg["StopSignal"] == "SIGTERM"
    assert cfg["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000}
    assert cfg["OnBuild"] == ["RUN echo triggered > /trig"] and cfg["Cmd"] is None
    history = [h["CreatedBy"] for h in engine.image_history("meta")]
    assert "/bin/sh -c #(nop)  EXPOSE 443 80/tcp" in history
    assert (
        '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "true"] "5s" "0s" "0s" \'\\x00\'}' in history
    )
    # ONBUILD triggers run when the image is used in FROM
    out, _ = _build(engine, b"FROM meta\nRUN true\n", tags=["child"])
    assert "# Executing 1 build trigger\n" in out
    code, trig, _ = _run(engine, "child", "-c", "cat /trig")
    assert trig == b"triggered\n"


def test_stdin_tar_context_and_add_unpacks_archives(engine, tmp_path):
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as tf:
        data = b"inside\n"
        ti = tarfile.TarInfo("pkg/file.txt")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    outer = io.BytesIO()
    with tarfile.open(fileobj=outer, mode="w") as tf:
        for name, data in (
            ("Dockerfile", b"FROM busybox\nADD pkg.tgz /opt/\n"),
            ("pkg.tgz", inner.getvalue()),
        ):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    out, _ = _build(engine, outer.getvalue(), tags=["added"])
    _, content, _ = _run(engine, "added", "cat", "/opt/pkg/file.txt")
    assert content == b"inside\n"


def test_add_url_says_offline(engine, tmp_path):
    with pytest.raises(BuildFailed, match="offline"):
        _build(engine, b"FROM busybox\nADD http://example.com/x /x\n")


def test_copy_dest_rules_and_chown(engine, tmp_path):
    df = """FROM busybox
COPY a.txt /file
COPY a.txt /dir/
COPY d /tree
COPY --chown=1:2 *.txt /many/
WORKDIR /w
COPY a.txt rel
"""
    ctx = _ctx(tmp_path, df, **{"a.txt": "a", "b.txt": "b", "d__sub__x": "x"})
    _build(engine, str(ctx), tags=["cp"])
    _, out, _ = _run(
        engine,
        "cp",
        "sh",
        "-c",
        "cat /file /dir/a.txt /tree/sub/x /w/rel; stat -c '%u:%g %n' /many/a.txt /many/b.txt",
    )
    assert out == b"aaxa1:2 /many/a.txt\n1:2 /many/b.txt\n"
    with pytest.raises(BuildFailed, match="more than one source file"):
        (ctx / "Dockerfile").write_text("FROM busybox\nCOPY a.txt b.txt /nodir\n")
        _build(engine, str(ctx))


def test_workdir_is_created_and_failed_run_container_stays_unless_force_rm(engine, tmp_path):
    _build(engine, b"FROM busybox\nWORKDIR /made/here\n", tags=["wd"])
    code, out, _ = _run(engine, "wd", "pwd")
    assert out == b"/made/here\n"
    with pytest.raises(BuildFailed):
        _build(engine, b"FROM busybox\nRUN false\n")
    assert len(engine.container_ids()) == 1
    with pytest.raises(BuildFailed):
        _build(engine, b"FROM busybox\nRUN false\n", force_rm=True)
    assert len(engine.container_ids()) == 1


def test_stdin_context_that_is_a_gzip_bomb_stops_at_the_expansion_bound(engine):
    """0.7 MB of gzip claiming a 640 MiB file: refused once 256 MiB are out."""
    import zlib

    def member(name: str, size: int) -> bytes:
        ti = tarfile.TarInfo(name)
        ti.size = size
        return ti.tobuf()

    dockerfile = b"FROM busybox\n"
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = member("Dockerfile", len(dockerfile)) + dockerfile.ljust(512, b"\0")
    zeros = b"\0" * (1 << 20)
    bomb = b"".join(
        [
            c.compress(head + member("zeros", 640 << 20)),
            *(c.compress(zeros) for _ in range(640)),
            c.compress(b"\0" * 1024),
            c.flush(),
        ]
    )
    assert len(bomb) < 1 << 20
    with open("/proc/self/io") as f:
        before = int(next(line for line in f if line.startswith("wchar:")).split()[1])
    with pytest.raises(InvalidParameter, match="refusing a decompression bomb"):
        _build(engine, bomb, tags=["bomb"])
    with open("/proc/self/io") as f:
        written = int(next(line for line in f if line.startswith("wchar:")).split()[1]) - before
    assert written < (256 + 16) << 20, f"build wrote {written} bytes"
    assert os.listdir(engine.paths.tmp) == []


def test_add_of_a_gzip_bomb_in_the_context_stops_at_the_expansion_bound(engine, tmp_path):
    import zlib

    ti = tarfile.TarInfo("zeros")
    ti.size = 640 << 20
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * (1 << 20)
    bomb = b"".join(
        [
            c.compress(ti.tobuf()),
            *(c.compress(zeros) for _ in range(640)),
            c.compress(b"\0" * 1024),
            c.flush(),
        ]
    )
    ctx = _ctx(tmp_path, "FROM busybox\nADD bomb.tgz /opt/\n")
    with open(os.path.join(ctx, "bomb.tgz"), "wb") as f:
        f.write(bomb)
    with open("/proc/self/io") as f:
        before = int(next(line for line in f if line.startswith("wchar:")).split()[1])
    with pytest.raises((InvalidParameter, BuildFailed), match="refusing a decompression bomb"):
        _build(engine, ctx, tags=["addbomb"])
    with open("/proc/self/io") as f:
        written = int(next(line for line in f if line.startswith("wchar:")).split()[1]) - before
    assert written < (256 + 16) << 20, f"ADD wrote {written} bytes"


def test_add_unpacks_a_zstd_tar_as_docker(engine, tmp_path):
    zstandard = pytest.importorskip("zstandard")
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w") as tf:
        data = b"from zstd\n"
        ti = tarfile.TarInfo("pkg/hello.txt")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    ctx = _ctx(tmp_path, "FROM busybox\nADD pkg.tar.zst /opt/\n")
    with open(os.path.join(ctx, "pkg.tar.zst"), "wb") as f:
        f.write(zstandard.ZstdCompressor().compress(inner.getvalue()))
    _build(engine, ctx, tags=["addzstd"])
    assert _run(engine, "addzstd", "cat", "/opt/pkg/hello.txt")[1] == b"from zstd\n"
