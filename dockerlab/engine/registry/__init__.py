"""Registries: the distribution protocol as Docker speaks it (standard library only), and
the lab registry.

client.py       endpoints (HTTPS, plain HTTP for loopback and insecure registries,
                mirrors), the ``/v2/`` ping, Basic and Bearer auth, Docker's error texts
credentials.py  ``config.json`` (``auths``, ``credsStore``, ``credHelpers``)
pull.py         manifests (lists and indexes resolved for this platform), verified blobs
push.py         blob checks, cross-repository mounts, uploads, the manifest
search.py       ``/v2/_catalog`` searched (dockerlab's extension: Distribution has no search)
lab.py          the lab registry: Debian's ``docker-registry`` on loopback
"""
