"""The console widget on a real container's terminal, driven from code as a click would."""

from __future__ import annotations

import pytest
from helpers import wait_until

pytest.importorskip("ipywidgets")

from IPython.utils.capture import capture_output  # noqa: E402

from dockerlab.magics.runner import Runner  # noqa: E402


@pytest.fixture
def docker(engine, monkeypatch):
    monkeypatch.setenv("DOCKERLAB_ROOT", engine.paths.root)
    runner = Runner()

    def run(line):
        with capture_output():
            return runner.line(line)

    return run


def commands(engine, cid):
    return [p[-1] for p in engine.top(cid)["Processes"]]


def test_sh_in_busybox_runs_a_line_and_ctrl_d_ends_it(docker):
    console = docker("run -it busybox sh")
    assert console.wait_for("/ #", 10)
    console.send("echo hi\n")
    assert console.wait_for("\nhi\n", 10)
    console.eof()
    assert console.wait(10) == 0
    assert console.state == "exited"
    assert console.text.splitlines()[-2:] == ["hi", "/ #"]


def test_submit_sends_the_input_line_and_clears_it(docker):
    console = docker("run -it --rm busybox sh")
    assert console.wait_for("/ #", 10)
    console._input.value = "echo $((6*7))"
    console.submit()
    assert console._input.value == ""
    assert console.wait_for("\n42\n", 10)
    console.send("exit 4\n")
    assert console.wait(10) == 4


def test_ctrl_c_interrupts_the_foreground_command_not_the_shell(docker, engine):
    console = docker("run -it busybox sh")
    assert console.wait_for("/ #", 10)
    console.send("sleep 30; echo after\n")
    assert console.wait_for("sleep 30; echo after", 10)
    # sleep runs, so the shell has made it the terminal's foreground process
    (cid,) = engine.container_ids()
    wait_until(lambda: commands(engine, cid).count("sleep 30") == 1)
    console.interrupt()
    assert console.wait_for("^C", 10)
    console.send("echo alive\n")
    assert console.wait_for("\nalive\n", 10)
    assert "after" not in console.text.replace("echo after", "")
    console.eof()
    assert console.wait(10) == 0


def test_colours_reach_the_view_as_spans(docker):
    console = docker("run -it busybox sh")
    assert console.wait_for("/ #", 10)
    console.send("printf '\\033[31mRED\\033[0m\\n'\n")
    assert console.wait_for("\nRED\n", 10)
    console.eof()
    console.wait(10)
    assert '<span style="color:#cd3131">RED</span>' in console._view.value


def test_without_a_tty_ctrl_d_closes_stdin(docker):
    console = docker("run -i busybox cat")
    console.send("line one\n")
    assert console.wait_for("line one", 10)
    console.eof()
    assert console.wait(10) == 0


def test_without_a_tty_ctrl_c_sends_sigint_to_the_container(docker):
    console = docker(
        'run -i busybox sh -c \'trap "echo got INT; exit 6" INT; '
        "echo ready; while :; do sleep 0.1; done'"
    )
    assert console.wait_for("ready", 10)
    console.interrupt()
    assert console.wait(10) == 6
    assert "got INT" in console.text


def test_detach_leaves_the_container_running_and_attach_comes_back(docker, engine):
    cid = docker("run -dit --name dt busybox sh")
    console = docker("attach dt")
    console.send("echo first\n")
    assert console.wait_for("first", 10)
    console.detach()
    assert console.state == "detached" and console.exit_code is None
    assert engine.inspect(cid)["State"]["Running"]
    again = docker("attach dt")
    again.send("exit 3\n")
    assert again.wait(10) == 3


def test_repr_is_deterministic_text(docker):
    console = docker("run -it busybox sh")
    text = "Console(busybox sh -it: Enter sends a line; Ctrl-C, Ctrl-D and Detach buttons)"
    assert repr(console) == text
    assert console._repr_mimebundle_()["text/plain"] == text
    console.eof()
    console.wait(10)
    assert repr(console) == text


def test_exec_it_opens_a_console_inside_a_running_container(docker, engine):
    cid, _ = engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, name="host2", attach="")
    console = docker("exec -it host2 sh")
    assert console.wait_for("/ #", 10)
    console.send("hostname; echo $((6*7))\n")
    assert console.wait_for("\n42\n", 10)
    assert cid[:12] in console.text
    console.send("sleep 30\n")
    wait_until(lambda: commands(engine, cid).count("sleep 30") == 2)  # PID 1 and the shell's
    console.interrupt()  # Ctrl-C reaches the shell's foreground job through its terminal
    console.send("echo back\n")
    assert console.wait_for("\nback\n", 10)
    console.eof()
    assert console.wait(10) == 0
    assert engine.inspect(cid)["State"]["Status"] == "running"


def test_exec_it_gives_a_named_terminal_as_run_it_does(docker, engine):
    # issue 9: `tty` said "not a tty" (the command had the kernel's host pty, unnamed inside)
    engine.run({"Image": "busybox", "Cmd": ["sleep", "30"]}, name="host3", attach="")
    console = docker("exec -it host3 sh")
    assert console.wait_for("/ #", 10)
    console.send("tty; echo tty-done\n")
    assert console.wait_for("\ntty-done\n", 10)
    assert "/dev/pts/0" in console.text and "not a tty" not in console.text
    console.eof()
    assert console.wait(10) == 0


def test_tab_completes_in_the_shell_and_esc_reaches_the_terminal(docker):
    """A browser keeps Tab and Esc (focus, command mode): the buttons send them."""
    console = docker("run -it --rm busybox sh")
    assert console.wait_for("/ #", 10)
    console._input.value = "echo $((2*21)); ec"
    console._buttons["tab"].click()  # the line so far and a Tab: ash completes "ec" to "echo"
    assert console._input.value == ""
    console.send(" done\n")
    assert console.wait_for("; echo  done\n42\ndone\n", 10)  # completed, with its space
    console.send("cat -v\n")
    console._buttons["esc"].click()
    console.send("\n")
    assert console.wait_for("^[", 10)  # cat -v shows the Escape byte it was sent
    console.interrupt()
    assert wait_until(lambda: console.text.rstrip().endswith("/ #"), 10)
    console.send("exit 0\n")
    assert console.wait(10) == 0, console.text
