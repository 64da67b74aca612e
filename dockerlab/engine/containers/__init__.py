"""Containers: their durable state, and the verbs that change it.

    store.py      ContainerStore: one folder per container, config apart from state
    create.py     ``create``: a Docker create body plus the image's config -> a container
    lifecycle.py  start, attach, kill, stop, pause, restart, rm, rename, wait: lock, then act;
                  ``revive``: what restart policies bring back after a reboot of the host
    update.py     ``update``: limits and restart policy, live or for the next start
    records.py    container records in the Engine API's shapes (``ps``, ``inspect``)
    logs.py       reading the json-file log, as ``docker logs`` does
    stats.py      ``stats`` samples and ``top``'s process table
    copy.py       ``docker cp``: the archive API, through the in-root resolver
    execs.py      starting ``exec`` helpers (:mod:`dockerlab.engine.runtime.nsexec`), no fork
    volumes.py    named volumes, Docker's local driver

On disk (:mod:`~dockerlab.engine.containers.store` draws it in full)::

    $DOCKERLAB_ROOT/containers/<id>/   config.v2.json, state.json, lock, <id>-json.log, hosts…
    $DOCKERLAB_ROOT/overlay/<id>/      the writable layer (diff/, work/, merged/)
    $DOCKERLAB_ROOT/volumes/<name>/    _data/ and its metadata

What runs a container is :mod:`dockerlab.engine.runtime`; this package decides and records.
Nothing is imported here: import the module.
"""
