"""``dockerlab daemon``: the Docker Engine API over a socket, served from the engine.

The daemon is a face, like the CLI and the magics: it parses requests, calls
:class:`dockerlab.engine.Engine` and writes what the engine returns (records are already
shaped as the API's). No engine logic lives here.

    server.py    listeners (unix, tcp, tls), one thread per connection, SIGTERM
    http.py      HTTP/1.1 on a blocking socket: requests, limits, responses, hijacking
    router.py    the route table, API version prefixes and negotiation, the error boundary
    trace.py     one log line per request; the ``--trace`` feed (``ApiTrace`` reads it)
    api/         the handlers, one module per part of the API (containers, images, …)

Why threads and our own small HTTP/1.1 code (DESIGN.md "The daemon"): every engine verb
blocks (file locks, forks, waiting for a monitor), attach and exec take over the raw socket,
and a thread per connection makes both plain; the parser is ~200 lines with explicit limits.
"""
