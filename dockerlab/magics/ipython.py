"""The IPython side: the ``Magics`` class registered by ``%load_ext dockerlab``."""

from __future__ import annotations

import sys
from typing import Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand

from dockerlab.magics.runner import Runner, host_problem


@magics_class
class DockerMagics(Magics):
    """``%docker`` and ``%%dockerfile`` (see :mod:`dockerlab.magics`)."""

    def __init__(self, shell: Any, runner: Runner | None = None) -> None:
        super().__init__(shell)
        self.runner = runner or Runner()

    def _done(self, value: Any) -> Any:
        if self.shell is not None:
            self.shell.user_ns["_exit_code"] = self.runner.exit_code
        return value

    def _expand(self, line: str) -> str:
        """IPython's ``{expr}`` and ``$name`` expansion, leaving Go templates' ``{{ }}``
        alone (IPython would turn ``{{.Names}}`` into ``{.Names}``)."""
        if self.shell is None or ("{" not in line and "$" not in line):
            return line
        protected = line.replace("{{", "\0<").replace("}}", "\0>")
        # a depth past the stack: names come from the notebook's namespace only
        expanded = self.shell.var_expand(protected, depth=10_000)
        return expanded.replace("\0<", "{{").replace("\0>", "}}")

    @no_var_expand
    @line_magic
    def docker(self, line: str) -> Any:
        """Run a dockerlab (Docker grammar) command: ``%docker ps -a``, ``%docker run …``.

        Tables come back as HTML tables, ``-q`` as lists, ``inspect`` as dicts; ``run``,
        ``logs``, ``build``, ``stats`` and ``events`` stream into the cell (interrupt the
        kernel to stop following); ``run -it`` and ``attach`` open a console widget.
        ``%docker --help`` lists the commands.
        """
        return self._done(self.runner.line(self._expand(line)))

    @no_var_expand
    @cell_magic
    def dockerfile(self, line: str, cell: str) -> Any:
        """Build the cell as a Dockerfile: ``%%dockerfile [-t TAG] [build flags] [CONTEXT]``.

        The context is the CONTEXT folder, or an empty one; the build streams, then the new
        image's layers are shown.
        """
        return self._done(self.runner.dockerfile(self._expand(line), cell))


def warn_if_host_cannot_run() -> None:
    """One message when containers cannot run here; the magics stay loaded."""
    problem = host_problem()
    if problem:
        sys.stderr.write(
            f"dockerlab: {problem}. %docker and %%dockerfile are loaded, but "
            "commands that make or start containers will fail.\n"
        )
