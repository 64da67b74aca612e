"""%docker and %%dockerfile in a real IPython shell, against real containers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from helpers import wait_until

pytest.importorskip("IPython")

from IPython.testing.globalipapp import start_ipython  # noqa: E402
from IPython.utils.capture import capture_output  # noqa: E402


@pytest.fixture(scope="module")
def shell():
    from IPython import get_ipython

    ip = start_ipython() or get_ipython()  # one shell per process: another test may own it
    ip.run_line_magic("load_ext", "dockerlab")
    ip.display_formatter.formatters["text/html"].enabled = True  # as in a notebook kernel
    return ip


@pytest.fixture
def ip(shell, engine, monkeypatch):
    """The IPython shell with %docker on the test's engine root."""
    monkeypatch.setenv("DOCKERLAB_ROOT", engine.paths.root)
    # A kernel turns SIGINT into KeyboardInterrupt; pytest started in the background (`&` in a
    # script) inherits SIGINT ignored, and an interrupt test would then never end.
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    _test_over.clear()
    yield shell
    _test_over.set()
    signal.signal(signal.SIGINT, old)


_test_over = threading.Event()


def docker(ip, line):
    """Run `%docker line`; returns (value, captured output)."""
    with capture_output() as out:
        value = ip.run_line_magic("docker", line)
    return value, out


def shown(ip, value):
    """What the notebook would show for a cell's result: (data by MIME type, published)."""
    with capture_output() as out:
        data, _ = ip.display_formatter.format(value)
    return data, out.outputs


def interrupt_when(stream, needle, timeout=10.0, watchdog=30.0):
    """Raise KeyboardInterrupt in the main thread once `needle` was written to `stream` (or
    after `timeout`), as the kernel's interrupt does (SIGINT to the main thread).

    Watchdog: should the magic not return within `watchdog` seconds of the interrupt, the
    test root's containers are killed, so a lost interrupt fails the test instead of hanging it.
    """
    main = threading.main_thread().ident
    root = os.environ["DOCKERLAB_ROOT"]

    def watch():
        wait_until(lambda: needle in stream(), timeout)
        signal.pthread_kill(main, signal.SIGINT)
        if not _test_over.wait(watchdog):
            from dockerlab.engine import Engine

            eng = Engine(root)
            for cid in eng.container_ids():
                try:
                    eng.kill(cid)
                except Exception:  # noqa: BLE001 - it may have ended meanwhile
                    pass

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    return t


# ---- values ------------------------------------------------------------------------------


def test_ps_quiet_is_a_list_of_ids_assignable_in_a_cell(ip, engine):
    cid, _ = engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, attach="")
    ip.run_cell("ids = %docker ps -q")
    assert ip.user_ns["ids"] == [cid[:12]]
    assert isinstance(ip.user_ns["ids"], list)
    data, _ = shown(ip, ip.user_ns["ids"])
    assert data["text/plain"] == cid[:12]


def test_ps_is_an_html_table_with_dockers_columns_and_cli_text(ip, engine):
    engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, name="web", attach="")
    value, out = docker(ip, "ps")
    assert out.stdout == "" and out.stderr == ""
    data, _ = shown(ip, value)
    assert data["text/plain"].splitlines()[0].split() == [
        "CONTAINER",
        "ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ]
    assert '<th style="text-align:left">CONTAINER ID</th>' in data["text/html"]
    assert value.rows[0]["NAMES"] == "web"
    assert value.rows[0]["STATUS"].startswith("Up ")


def test_images_history_volume_ls_and_system_df_are_tables(ip, engine):
    for line, first in [
        ("images", "REPOSITORY"),
        ("history busybox", "IMAGE"),
        ("volume ls", "DRIVER"),
        ("system df", "TYPE"),
    ]:
        value, out = docker(ip, line)
        assert value.columns[0] == first, line
        assert "<table" in value._repr_html_()
    assert docker(ip, "images -q")[0] == [engine.images()[0]["Id"][7:19]]


def test_stats_no_stream_is_a_table_with_dockers_columns(ip, engine):
    engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, name="st", attach="")
    value, _ = docker(ip, "stats --no-stream st")
    assert value.columns == [
        "CONTAINER ID",
        "NAME",
        "CPU %",
        "MEM USAGE / LIMIT",
        "MEM %",
        "NET I/O",
        "BLOCK I/O",
        "PIDS",
    ]
    assert value.rows[0]["NAME"] == "st"


def test_inspect_one_is_a_dict_several_a_list(ip, engine):
    engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, name="aa", attach="")
    one, _ = docker(ip, "inspect aa")
    assert isinstance(one, dict) and one["State"]["Status"] == "running"
    assert shown(ip, one)[0]["text/plain"].startswith("[\n    {\n")
    both, _ = docker(ip, "inspect aa busybox")
    assert isinstance(both, list) and len(both) == 2
    assert both[1]["RepoTags"] == ["busybox:latest"]


def test_go_templates_survive_ipython_expansion_and_python_names_expand(ip, engine):
    engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, name="tpl", attach="")
    ip.user_ns["who"] = "tpl"
    ip.run_cell("status = %docker inspect -f '{{.Name}} {{.State.Status}}' {who}")
    assert ip.user_ns["status"] == "/tpl running"
    ip.run_cell("names = %docker ps --format '{{.Names}}'")
    assert ip.user_ns["names"] == ["tpl"]


def test_a_list_of_ids_expands_as_words_as_the_shells_command_substitution(ip, engine):
    # docker rm $(docker ps -a -q), in a notebook: ids = %docker ps -a -q; %docker rm -f $ids
    for name in ("sub1", "sub2"):
        engine.create({"Image": "busybox", "Cmd": ["true"]}, name=name)
    ip.run_cell("ids = %docker ps -a -q")
    assert len(ip.user_ns["ids"]) == 2
    ip.run_cell("%docker rm -f $ids")
    assert engine.containers(all=True) == [] and ip.user_ns["_exit_code"] == 0


def test_run_detached_returns_the_id(ip, engine):
    cid, out = docker(ip, "run -d busybox sleep 30")
    assert out.stdout == ""
    assert len(cid) == 64 and engine.inspect(cid)["State"]["Running"]


# ---- run: streamed output and its result ------------------------------------------------------


def test_run_streams_output_and_returns_exit_code_stdout_stderr(ip):
    result, out = docker(ip, "run --rm busybox sh -c 'echo out; echo err >&2; exit 3'")
    assert out.stdout == "out\n" and out.stderr == "err\n"
    assert (result.exit_code, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert ip.user_ns["_exit_code"] == 3


def test_run_result_shows_nothing_in_its_own_cell_and_a_summary_later(ip):
    result, _ = docker(ip, "run --rm busybox echo hi")
    data, published = shown(ip, result)
    assert data == {} and published == []  # the output was streamed already
    ip.execution_count += 1
    _, published = shown(ip, result)
    assert published[0].data["text/plain"] == "RunResult(exit_code=0, stdout='hi\\n', stderr='')"


def test_interrupt_forwards_sigint_to_the_container_and_collects_until_exit(ip):
    with capture_output():
        interrupt_when(sys.stdout.getvalue, "ready")
        result = ip.run_line_magic(
            "docker",
            "run --rm busybox sh -c "
            "'trap \"echo got INT; exit 5\" INT; echo ready; while :; do sleep 0.1; done'",
        )
    assert result.exit_code == 5
    assert result.stdout == "ready\ngot INT\n"


def test_logs_follow_streams_until_interrupted(ip, engine):
    engine.run(
        {"Image": "busybox", "Cmd": ["sh", "-c", "while :; do echo tick; sleep 0.1; done"]},
        name="ticker",
        attach="",
    )
    with capture_output() as out:
        interrupt_when(sys.stdout.getvalue, "tick\ntick\n")
        value = ip.run_line_magic("docker", "logs -f ticker")
    assert value is None
    assert out.stdout.startswith("tick\ntick\n")
    assert engine.inspect("ticker")["State"]["Running"]


def test_exec_streams_and_returns_its_result(ip, engine):
    engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, name="ex", attach="")
    result, out = docker(ip, "exec ex sh -c 'echo in; exit 2'")
    assert out.stdout == "in\n" and result.exit_code == 2


# ---- errors and usage ---------------------------------------------------------------------


def test_engine_errors_show_dockers_message_not_a_traceback(ip):
    value, out = docker(ip, "stop nosuch")
    assert value is None
    assert out.stderr == "Error response from daemon: No such container: nosuch\n"
    assert ip.user_ns["_exit_code"] == 1


def test_bad_flag_and_unknown_command_show_dockers_usage_messages(ip):
    value, out = docker(ip, "ps --bogus")
    assert value is None
    assert out.stderr == "unknown flag: --bogus\nSee 'dockerlab ps --help'.\n"
    assert ip.user_ns["_exit_code"] == 125
    _, out = docker(ip, "frobnicate")
    assert out.stderr.startswith("dockerlab: 'frobnicate' is not a dockerlab command.")
    _, out = docker(ip, "rm")
    assert '"dockerlab rm" requires at least 1 argument.' in out.stderr
    assert "Usage:  dockerlab rm [OPTIONS] CONTAINER [CONTAINER...]" in out.stderr


def test_run_of_a_missing_command_says_so_as_docker_does(ip):
    value, out = docker(ip, "run --rm busybox nosuchcmd")
    assert value is None
    assert 'exec: "nosuchcmd": executable file not found in $PATH' in out.stderr
    assert "Traceback" not in out.stderr
    assert ip.user_ns["_exit_code"] == 127


def test_help_is_returned_as_text(ip):
    value, _ = docker(ip, "ps --help")
    assert value.startswith("\nUsage:  dockerlab ps [OPTIONS]")


def test_save_without_output_refuses_as_on_a_terminal(ip):
    value, out = docker(ip, "save busybox")
    assert value is None and "cowardly refusing to save to a terminal" in out.stderr


# ---- %%dockerfile ---------------------------------------------------------------------------


def test_dockerfile_cell_builds_streams_steps_and_shows_layers(ip, engine):
    with capture_output() as out:
        result = ip.run_cell_magic(
            "dockerfile", "-t demo:1", 'FROM busybox\nRUN echo built > /f\nCMD ["cat", "/f"]\n'
        )
    assert "Step 1/3 : FROM busybox" in out.stdout
    assert "Successfully tagged demo:1" in out.stdout
    assert result.tags == ["demo:1"] and result.id.startswith("sha256:")
    assert engine.image_inspect("demo:1")["Id"] == result.id
    assert len(out.outputs) == 1  # the layers (LayerTree, or the history table)
    run, _ = docker(ip, "run --rm demo:1")
    assert run.stdout == "built\n"


def test_dockerfile_cell_uses_a_context_folder(ip, engine, tmp_path):
    (tmp_path / "hello.txt").write_text("hello from the context\n")
    with capture_output():
        result = ip.run_cell_magic(
            "dockerfile", f"-q -t ctx:1 {tmp_path}", "FROM busybox\nCOPY hello.txt /\n"
        )
    assert result.id
    run, _ = docker(ip, "run --rm ctx:1 cat /hello.txt")
    assert run.stdout == "hello from the context\n"


def test_failing_dockerfile_step_shows_dockers_message(ip, engine):
    with capture_output() as out:
        result = ip.run_cell_magic("dockerfile", "", "FROM busybox\nRUN exit 3\n")
    assert result is None
    assert "returned a non-zero code: 3" in out.stderr
    assert "Traceback" not in out.stderr


def test_dockerfile_refuses_a_file_flag(ip):
    with capture_output() as out:
        assert ip.run_cell_magic("dockerfile", "-f x", "FROM busybox\n") is None
    assert "cannot be used with %%dockerfile" in out.stderr


# ---- a host that cannot run containers ------------------------------------------------------


def test_extension_loads_with_one_clear_message_where_containers_cannot_run(monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    import dockerlab
    from dockerlab.engine import rootless
    from dockerlab.magics import probe

    # a non-root user on a kernel that allows no user namespaces: rootless cannot work either
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    monkeypatch.setattr(rootless, "_sysctl", lambda path: "0")
    monkeypatch.setattr(probe, "_CACHE", {})
    ip = InteractiveShell.instance()
    with capture_output() as out:
        dockerlab.load_ipython_extension(ip)
    assert "docker" in ip.magics_manager.magics["line"]
    assert "dockerfile" in ip.magics_manager.magics["cell"]
    assert out.stderr.count("\n") == 1
    assert "containers cannot run here rootless: " in out.stderr
    assert "user.max_user_namespaces=0" in out.stderr


def test_live_stats_updates_one_table_until_interrupted(ip, engine):
    engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, name="live", attach="")
    with capture_output() as out:
        interrupt_when(lambda: "", "never written", timeout=1.5)
        value = ip.run_line_magic("docker", "stats live")
    assert value is None
    assert out.outputs, "the table is displayed in the cell"
    first = out.outputs[0].data["text/plain"]
    assert first.splitlines()[0].startswith("CONTAINER ID   NAME")
    assert "\x1b" not in first


def test_a_host_failure_reads_as_in_the_cli(ip, engine, tmp_path, monkeypatch):
    """A read-only state root: the same words and exit code as the CLI, no [Errno N]."""
    ro = tmp_path / "ro"
    ro.mkdir()
    subprocess.run(["mount", "--bind", engine.paths.root, str(ro)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=True)
        monkeypatch.setenv("DOCKERLAB_ROOT", str(ro))
        for line in ("tag busybox other", "run --rm busybox true"):
            _, out = docker(ip, line)
            cli = subprocess.run(
                [sys.executable, "-m", "dockerlab", *line.split()],
                env={**os.environ, "DOCKERLAB_ROOT": str(ro)},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert "read-only file system" in out.stderr and "[Errno" not in out.stderr
            assert (out.stderr, ip.user_ns["_exit_code"]) == (cli.stderr, cli.returncode)
    finally:
        subprocess.run(["umount", "-l", str(ro)], check=False)


def test_events_streams_into_the_cell(ip, engine):
    t0 = f"{time.time() - 0.001:.9f}"
    engine.run({"Image": "busybox", "Cmd": ["true"]}, name="nb", attach="")
    until = f"{time.time():.9f}"
    value, out = docker(ip, f"events --since {t0} --until {until} --format '{{{{.Action}}}}'")
    assert value is None
    assert out.stdout.split()[:2] == ["create", "start"]
    assert ip.user_ns["_exit_code"] == 0


@pytest.mark.parametrize(
    "line", ["network ls", "network ls -q", "network inspect bridge", "port web", "port web 80"]
)
def test_network_verbs_route_as_every_other_verb(ip, engine, line):
    """`%docker network …` and `%docker port` go through the CLI's parser and handlers like
    every other verb (no list of verbs in the magics): same output, errors and exit code."""
    import json

    engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, name="web", attach="")
    value, out = docker(ip, line)
    cli = subprocess.run(
        [sys.executable, "-m", "dockerlab", *line.split()],
        env={**os.environ, "DOCKERLAB_ROOT": engine.paths.root},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (out.stderr, ip.user_ns["_exit_code"]) == (cli.stderr, cli.returncode)
    if line.startswith("network inspect") and cli.returncode == 0:
        assert dict(value) == json.loads(cli.stdout)[0]  # one object asked for: a dict
    elif value is not None:
        assert shown(ip, value)[0]["text/plain"] == cli.stdout.rstrip("\n")
    else:
        assert out.stdout == cli.stdout


def test_listings_become_dataframes_with_typed_columns(ip, engine):
    pd = pytest.importorskip("pandas")
    engine.run(
        {"Image": "busybox", "Cmd": ["sleep", "30"], "HostConfig": {"Memory": 32 * 1024 * 1024}},
        name="frames",
        attach="",
    )
    ps = docker(ip, "ps")[0].to_pandas()
    assert list(ps["NAMES"]) == ["frames"]
    created = ps["CREATED"][0]
    assert pd.api.types.is_datetime64_any_dtype(ps["CREATED"])
    # the list's Created is whole seconds, as Docker's API gives it
    assert created == pd.Timestamp(engine.inspect("frames")["Created"]).floor("s")
    images = docker(ip, "images")[0].to_pandas()
    busybox = images[images["REPOSITORY"] == "busybox"].iloc[0]
    assert (
        images["SIZE"].dtype == "int64"
        and busybox["SIZE"] == engine.image_inspect("busybox")["Size"]
    )
    history = docker(ip, "history busybox")[0].to_pandas()
    assert history["SIZE"].sum() == busybox["SIZE"]
    assert pd.api.types.is_datetime64_any_dtype(history["CREATED"])
    stats = docker(ip, "stats --no-stream frames")[0].to_pandas()
    row = stats.iloc[0]
    assert row["NAME"] == "frames" and row["MEM LIMIT"] == 32 * 1024 * 1024
    assert 0 < row["MEM USAGE"] < row["MEM LIMIT"] and row["PIDS"] == 1
