"""One terminal seam: the streaming verbs, written once, and the port they write against.

    port.py    Terminal: what a verb needs from where it runs (write_out / write_err /
               message, the user's input, raw mode and the window size, live tables,
               progress lines, what an interrupt does, the notebook's consoles)
    verbs.py   run (attached), start -a, attach, exec, build, stats (live), logs -f, and the
               progress lines of the coming pull / push: engine calls and streaming logic

Two terminals implement the port: :class:`dockerlab.cli.terminal.CliTerminal` (real file
descriptors, raw mode, SIGWINCH; Docker's bytes exactly) and
:class:`dockerlab.magics.cellterm.CellTerminal` (the cell's output, display updates, the
console widget). Tables are not streamed: renderers return structure
(:mod:`dockerlab.format.rendered`) that each face draws its own way.
"""
