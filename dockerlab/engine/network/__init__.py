"""Container networking: the default ``bridge`` network (issue 10's foundation).

One module per job, so ports, links, user networks and DNS can build on them:

- :mod:`.netlink`  a small rtnetlink client on the ``socket`` module (links, addresses,
  routes): no pyroute2 on the start path (its import alone costs 0.3-1 s).
- :mod:`.ipam`     subnet choice (Docker's pools, avoiding routed subnets) and the address
  allocator, kept in the state root under a file lock per network.
- :mod:`.record`   the network's record in the state root (``network/<name>.json``).
- :mod:`.bridge`   the host side: the bridge itself, recreated when missing, and the
  masquerade rule in dockerlab's own nftables table.
- :mod:`.etcfiles` ``/etc/hosts`` and ``/etc/resolv.conf`` as Docker writes them.
- :mod:`.endpoint` one container's side: veth pair, address, route (run by the monitor).
- :mod:`.ports`    published ports (``-p``, ``-P``): the daemon's checks at create, the
  host ports' table and their binding at start (run by the monitor).
- :mod:`.proxy`    the userland proxy serving them, one process per container.
- :mod:`.links`    legacy links: their variables, hosts records and checks.
- :mod:`.sandbox`  network modes (`container:`, host, none), their checks and files.
- :mod:`.runfiles` link marks and sandbox keys (netns bind mounts) beside the containers.
- :mod:`.usermode` rootless: the user's network namespace, its holder and slirp4netns;
  :mod:`.userhelper` (a script) runs network verbs inside it for the CLI.
"""
