"""Docker's command-line grammar, with Docker's own messages.

Docker's CLI is cobra + pflag; argparse differs from pflag in ways users notice (prefix
abbreviations, ``--flag=false`` for booleans, clustered shorthands, flags after positionals,
its own error texts). So :class:`DockerParser` walks the words the way pflag does —
shorthand clusters (``-it``), ``--flag=value``, ``-t=5``, booleans with explicit values,
``--`` — and stops at the first positional for commands that do not intersperse flags
(``run``, ``create``, ``exec``: ``dockerlab run busybox ls -l`` gives ``-l`` to ``ls``). The
normalized ``--long=value`` words then fill a namespace of defaults as argparse's "store"
and "append" would (argparse itself is not imported: with ``re`` and ``gettext`` it was a
fifth of the CLI's start).

Usage errors follow Docker 20.10's texts and codes:

    unknown flag: --foo                         (exit 125)
    See 'dockerlab run --help'.

    "dockerlab rm" requires at least 1 argument.    (exit 1, as docker's cobra Args checks)
    See 'dockerlab rm --help'.

    Usage:  dockerlab rm [OPTIONS] CONTAINER [CONTAINER...]

    Remove one or more containers

:func:`parse` returns a :class:`Namespace` whose ``verb`` names the handler
(``ps`` for ``ps``, ``container ls`` and ``container ps``), whose ``path`` is what the user
typed (``container ls``), with one attribute per flag and the positionals by name. ``--help``
and ``--version`` raise :class:`ShowText` (print it, exit 0). Nothing here imports the engine.
"""

from __future__ import annotations

import os

from dockerlab import __version__
from dockerlab.errors import ArgCountError, UsageError

TYPE_CHECKING = False  # typing costs the CLI's start milliseconds
if TYPE_CHECKING:
    from typing import Any

PROG = "dockerlab"
VERSION_TEXT = f"dockerlab version {__version__}"


class ShowText(Exception):
    """Not an error: ``--help`` or ``--version`` was asked; print ``text`` and exit 0."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def usage_error(message: str, path: str) -> UsageError:
    """A flag error as Docker prints it: the message, then ``See 'dockerlab PATH --help'.``"""
    return UsageError(f"{message}\nSee '{PROG} {path} --help'.", path)


# ---- flag values --------------------------------------------------------------------------


class _BadValue(ValueError):
    """A flag value pflag would reject; the text is what follows ``flag: `` in its message."""


_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def _go_bool(value: str) -> bool:
    if value in _GO_TRUE:
        return True
    if value in _GO_FALSE:
        return False
    raise _BadValue(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def _go_int(value: str) -> int:
    text = value[1:] if value[:1] in "+-" else value
    if not text.isdigit() or not text.isascii():
        raise _BadValue(f'strconv.ParseInt: parsing "{value}": invalid syntax')
    return int(value)


def _go_duration(value: str) -> int:
    """pflag's DurationVar: Go's ``time.ParseDuration``, in nanoseconds."""
    from dockerlab.format.units import parse_go_duration

    try:
        return parse_go_duration(value)
    except ValueError as exc:
        raise _BadValue(str(exc)) from None


def _key_value_filter(value: str) -> str:
    if "=" not in value:
        raise _BadValue("bad format of filter (expected name=value)")
    return value


def _env(value: str) -> str:
    """opts.ValidateEnv: a name is required; ``NAME`` alone stays as is (expanded later)."""
    if value.split("=", 1)[0] == "":
        raise _BadValue(f"invalid environment variable: {value}")
    return value


def _str(value: str) -> str:
    return value


def _mount(value: str) -> str:
    """opts.MountOpt.Set: the csv fields and keys are checked as the flag is read."""
    from dockerlab.cli.mounts import parse_mount

    try:
        parse_mount(value)
    except ValueError as exc:
        raise _BadValue(str(exc)) from None
    return value


def _link(value: str) -> str:
    """opts.ValidateLink: ``name[:alias]``."""
    from dockerlab.engine.network.links import parse_link

    try:
        parse_link(value)
    except ValueError as exc:
        raise _BadValue(str(exc)) from None
    return value


def _extra_host(value: str) -> str:
    """opts.ValidateExtraHost: ``host:ip`` or ``host=ip``, sent as ``host:ip``."""
    from dockerlab.engine.network.sandbox import normalize_extra_host

    try:
        return normalize_extra_host(value)
    except ValueError as exc:
        raise _BadValue(str(exc)) from None


def _ip(value: str) -> str:
    """opts.ValidateIPAddress: Go's canonical form of the address."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(value.strip())
    except ValueError:
        raise _BadValue(f"IP address is not correctly formatted: {value}") from None
    mapped = getattr(ip, "ipv4_mapped", None)
    return str(mapped or ip)


def _dns_search(value: str) -> str:
    """opts.ValidateDNSSearch (its domain pattern kept as written, ``(:?`` and all)."""
    import re

    value = value.strip(" ")
    if value == ".":
        return value
    label = r"(:?[a-zA-Z0-9]|(:?[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9]))"
    match = re.match(rf"^(:?{label}(:?\.{label})*)\.?[\t\n\f\r ]*$", value)
    if re.search("[a-zA-Z]", value) and match and len(match.group(1).encode()) < 255:
        return match.group(1)
    raise _BadValue(f"{value} is not a valid domain")


# kind -> (type function, metavar shown in help, repeatable)
_KINDS = {
    "bool": (_go_bool, "", False),
    "string": (_str, "string", False),
    "int": (_go_int, "int", False),
    "list": (_str, "list", True),
    "env": (_env, "list", True),
    "filter": (_key_value_filter, "filter", True),
    "bytes": (_str, "bytes", False),  # checked by options.py with Docker's message
    "decimal": (_str, "decimal", False),
    "network": (_str, "network", False),
    "duration": (_go_duration, "duration", False),
    "map": (_str, "map", True),  # checked by options.py with Docker's message
    "ulimit": (_str, "ulimit", True),
    "mount": (_mount, "mount", True),
    "link": (_link, "list", True),
    "extrahost": (_extra_host, "list", True),
    "ip": (_ip, "list", True),
    "dnssearch": (_dns_search, "list", True),
}


class Flag:
    """One flag: ``short`` is "" when it has none; ``aliases`` are hidden long spellings."""

    __slots__ = ("aliases", "default", "dest", "help", "kind", "long", "short")

    def __init__(
        self,
        short: str,
        long: str,
        kind: str,
        help: str,
        default: object = None,
        aliases: tuple[str, ...] = (),
    ) -> None:
        self.short, self.long, self.kind, self.help = short, long, kind, help
        self.default, self.aliases = default, aliases
        self.dest = long.replace("-", "_")


class Command:
    """A verb: its usage line (after ``dockerlab PATH``), description, flags, positionals.

    ``args`` is (min, max) positionals (max None: unbounded); ``names`` names them, a
    trailing ``*x`` taking the rest; ``extra`` holds constants put in the namespace.
    """

    __slots__ = ("args", "extra", "flags", "interspersed", "names", "short", "usage")

    def __init__(
        self,
        usage: str,
        short: str,
        flags: tuple[Flag, ...] = (),
        args: tuple[int, int | None] = (0, 0),
        names: tuple[str, ...] = (),
        interspersed: bool = True,
        extra: dict[str, object] | None = None,
    ) -> None:
        self.usage, self.short, self.flags, self.args = usage, short, flags, args
        self.names, self.interspersed, self.extra = names, interspersed, extra or {}


def F(short: str, long: str, kind: str, help: str, default: object = None, *aliases: str) -> Flag:
    if default is None and kind == "bool":
        default = False
    return Flag(short, long, kind, help, default, aliases)


# ---- the commands -------------------------------------------------------------------------

_DETACH_KEYS = F("", "detach-keys", "string", "Override the key sequence for detaching a container")

_CREATE_FLAGS = (
    F("", "add-host", "extrahost", "Add a custom host-to-IP mapping (host:ip)"),
    F("a", "attach", "list", "Attach to STDIN, STDOUT or STDERR"),
    F("", "cap-add", "list", "Add Linux capabilities"),
    F("", "cap-drop", "list", "Drop Linux capabilities"),
    F("", "cidfile", "string", "Write the container ID to the file"),
    F("c", "cpu-shares", "int", "CPU shares (relative weight)", 0),
    F("", "cpu-period", "int", "Limit CPU CFS (Completely Fair Scheduler) period", 0),
    F("", "cpu-quota", "int", "Limit CPU CFS (Completely Fair Scheduler) quota", 0),
    F("", "cpus", "decimal", "Number of CPUs"),
    F("", "cpuset-cpus", "string", "CPUs in which to allow execution (0-3, 0,1)"),
    F("", "cpuset-mems", "string", "MEMs in which to allow execution (0-3, 0,1)"),
    _DETACH_KEYS,
    F("", "device", "list", "Add a host device to the container"),
    F("", "dns", "ip", "Set custom DNS servers"),
    F("", "dns-option", "list", "Set DNS options"),
    F("", "dns-search", "dnssearch", "Set custom DNS search domains"),
    F("", "domainname", "string", "Container NIS domain name"),
    F("", "entrypoint", "string", "Overwrite the default ENTRYPOINT of the image"),
    F("e", "env", "env", "Set environment variables"),
    F("", "env-file", "list", "Read in a file of environment variables"),
    F("", "expose", "list", "Expose a port or a range of ports"),
    F("", "health-cmd", "string", "Command to run to check health"),
    F(
        "",
        "health-interval",
        "duration",
        "Time between running the check (ms|s|m|h) (default 0s)",
    ),
    F("", "health-retries", "int", "Consecutive failures needed to report unhealthy"),
    F(
        "",
        "health-start-period",
        "duration",
        "Start period for the container to initialize before starting health-retries "
        "countdown (ms|s|m|h) (default 0s)",
    ),
    F(
        "",
        "health-timeout",
        "duration",
        "Maximum time to allow one check to run (ms|s|m|h) (default 0s)",
    ),
    F("", "group-add", "list", "Add additional groups to join"),
    F("h", "hostname", "string", "Container host name"),
    F(
        "",
        "init",
        "bool",
        "Run an init inside the container that forwards signals and reaps processes",
    ),
    F("i", "interactive", "bool", "Keep STDIN open even if not attached"),
    F("l", "label", "list", "Set meta data on a container"),
    F("", "label-file", "list", "Read in a line delimited file of labels"),
    F("", "link", "link", "Add link to another container"),
    F("", "mac-address", "string", "Container MAC address (e.g., 92:d0:c6:0a:29:33)"),
    F("m", "memory", "bytes", "Memory limit"),
    F("", "memory-reservation", "bytes", "Memory soft limit"),
    F("", "mount", "mount", "Attach a filesystem mount to the container"),
    F(
        "",
        "memory-swap",
        "bytes",
        "Swap limit equal to memory plus swap: '-1' to enable unlimited swap",
    ),
    F("", "name", "string", "Assign a name to the container"),
    F("", "network", "network", "Connect a container to a network", None, "--net"),
    F(
        "",
        "network-alias",
        "list",
        "Add network-scoped alias for the container",
        None,
        "--net-alias",
    ),
    F("", "ip", "string", "IPv4 address (e.g., 172.30.100.104)"),
    F("", "no-healthcheck", "bool", "Disable any container-specified HEALTHCHECK"),
    F("", "oom-kill-disable", "bool", "Disable OOM Killer"),
    F("", "pids-limit", "int", "Tune container pids limit (set -1 for unlimited)"),
    F("", "platform", "string", "Set platform if server is multi-platform capable"),
    F("", "privileged", "bool", "Give extended privileges to this container"),
    F("p", "publish", "list", "Publish a container's port(s) to the host"),
    F("P", "publish-all", "bool", "Publish all exposed ports to random ports"),
    F("", "pull", "string", 'Pull image before running ("always", "missing", "never")', "missing"),
    F("", "read-only", "bool", "Mount the container's root filesystem as read only"),
    F("", "restart", "string", 'Restart policy to apply when a container exits (default "no")'),
    F("", "rm", "bool", "Automatically remove the container when it exits"),
    F("", "security-opt", "list", "Security Options"),
    F("", "shm-size", "bytes", "Size of /dev/shm"),
    F("", "stop-signal", "string", 'Signal to stop a container (default "SIGTERM")'),
    F("", "stop-timeout", "int", "Timeout (in seconds) to stop a container"),
    F("", "sysctl", "map", "Sysctl options (default map[])"),
    F("", "tmpfs", "list", "Mount a tmpfs directory"),
    F("t", "tty", "bool", "Allocate a pseudo-TTY"),
    F("", "ulimit", "ulimit", "Ulimit options (default [])"),
    F("u", "user", "string", "Username or UID (format: <name|uid>[:<group|gid>])"),
    F("v", "volume", "list", "Bind mount a volume"),
    F("", "volumes-from", "list", "Mount volumes from the specified container(s)"),
    F("w", "workdir", "string", "Working directory inside the container"),
)

_RUN_FLAGS: tuple[Flag, ...] = (
    F("d", "detach", "bool", "Run container in background and print container ID"),
    *_CREATE_FLAGS,
)
_RUN_FLAGS = tuple(sorted(_RUN_FLAGS, key=lambda f: f.long))

_PS_FLAGS = (
    F("a", "all", "bool", "Show all containers (default shows just running)"),
    F("f", "filter", "filter", "Filter output based on conditions provided"),
    F("", "format", "string", "Pretty-print containers using a Go template"),
    F("n", "last", "int", "Show n last created containers (includes all states)", -1),
    F("l", "latest", "bool", "Show the latest created container (includes all states)"),
    F("", "no-trunc", "bool", "Don't truncate output"),
    F("q", "quiet", "bool", "Only display container IDs"),
    F("s", "size", "bool", "Display total file sizes"),
)
_IMAGES_FLAGS = (
    F("a", "all", "bool", "Show all images (default hides intermediate images)"),
    F("f", "filter", "filter", "Filter output based on conditions provided"),
    F("", "format", "string", "Pretty-print images using a Go template"),
    F("", "no-trunc", "bool", "Don't truncate output"),
    F("q", "quiet", "bool", "Only show image IDs"),
)
_HISTORY_FLAGS = (
    F("", "format", "string", "Pretty-print images using a Go template"),
    F("H", "human", "bool", "Print sizes and dates in human readable format (default true)", True),
    F("", "no-trunc", "bool", "Don't truncate output"),
    F("q", "quiet", "bool", "Only show image IDs"),
)
_FORMAT = F("f", "format", "string", "Format output using the given Go template")
_INSPECT_FLAGS = (_FORMAT, F("s", "size", "bool", "Display total file sizes"))
_RM_FLAGS = (
    F("f", "force", "bool", "Force the removal of a running container (uses SIGKILL)"),
    F("v", "volumes", "bool", "Remove anonymous volumes associated with the container"),
)
_RMI_FLAGS = (F("f", "force", "bool", "Force removal of the image"),)
_VOL_LS = (
    F("f", "filter", "filter", "Provide filter values (e.g. 'dangling=true')"),
    F("", "format", "string", "Pretty-print volumes using a Go template"),
    F("q", "quiet", "bool", "Only display volume names"),
)
_PRUNE_FLAGS = (F("f", "force", "bool", "Do not prompt for confirmation"),)
_PRUNE_UNTIL = F("", "filter", "filter", "Provide filter values (e.g. 'until=<timestamp>')")
_PRUNE_LABEL = F("", "filter", "filter", "Provide filter values (e.g. 'label=<label>')")
_TIME = F("t", "time", "int", "Seconds to wait before killing the container", None, "--timeout")

_ANY = (0, None)


def _sorted(*flags: Flag) -> tuple[Flag, ...]:
    return tuple(sorted(flags, key=lambda f: f.long))


_ONE = (1, 1)
_ONE_PLUS = (1, None)

COMMANDS: dict[str, Command] = {
    "attach": Command(
        "[OPTIONS] CONTAINER",
        "Attach local standard input, output, and error streams to a running container",
        (
            _DETACH_KEYS,
            F("", "no-stdin", "bool", "Do not attach STDIN"),
            F("", "sig-proxy", "bool", "Proxy all received signals to the process", True),
        ),
        _ONE,
        ("container",),
    ),
    "create": Command(
        "[OPTIONS] IMAGE [COMMAND] [ARG...]",
        "Create a new container",
        _CREATE_FLAGS,
        _ONE_PLUS,
        ("image", "*command"),
        False,
    ),
    "exec": Command(
        "[OPTIONS] CONTAINER COMMAND [ARG...]",
        "Execute a command in a running container",
        (
            F("d", "detach", "bool", "Detached mode: run command in the background"),
            _DETACH_KEYS,
            F("e", "env", "env", "Set environment variables"),
            F("", "env-file", "list", "Read in a file of environment variables"),
            F("i", "interactive", "bool", "Keep STDIN open even if not attached"),
            F("", "privileged", "bool", "Give extended privileges to the command"),
            F("t", "tty", "bool", "Allocate a pseudo-TTY"),
            F("u", "user", "string", "Username or UID (format: <name|uid>[:<group|gid>])"),
            F("w", "workdir", "string", "Working directory inside the container"),
        ),
        (2, None),
        ("container", "*command"),
        False,
    ),
    "history": Command(
        "[OPTIONS] IMAGE", "Show the history of an image", _HISTORY_FLAGS, _ONE, ("image",)
    ),
    "images": Command(
        "[OPTIONS] [REPOSITORY[:TAG]]", "List images", _IMAGES_FLAGS, (0, 1), ("repository",)
    ),
    "info": Command("[OPTIONS]", "Display system-wide information", (_FORMAT,)),
    "inspect": Command(
        "[OPTIONS] NAME|ID [NAME|ID...]",
        "Return low-level information on Docker objects",
        (*_INSPECT_FLAGS, F("", "type", "string", "Return JSON for specified type")),
        _ONE_PLUS,
        ("*names",),
    ),
    "kill": Command(
        "[OPTIONS] CONTAINER [CONTAINER...]",
        "Kill one or more running containers",
        (F("s", "signal", "string", 'Signal to send to the container (default "KILL")', "KILL"),),
        _ONE_PLUS,
        ("*containers",),
    ),
    "logs": Command(
        "[OPTIONS] CONTAINER",
        "Fetch the logs of a container",
        (
            F("f", "follow", "bool", "Follow log output"),
            F(
                "",
                "since",
                "string",
                "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or "
                "relative (e.g. 42m for 42 minutes)",
            ),
            F(
                "n",
                "tail",
                "string",
                'Number of lines to show from the end of the logs (default "all")',
                "all",
            ),
            F("t", "timestamps", "bool", "Show timestamps"),
            F(
                "",
                "until",
                "string",
                "Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or "
                "relative (e.g. 42m for 42 minutes)",
            ),
        ),
        _ONE,
        ("container",),
    ),
    "pause": Command(
        "CONTAINER [CONTAINER...]",
        "Pause all processes within one or more containers",
        (),
        _ONE_PLUS,
        ("*containers",),
    ),
    "port": Command(
        "CONTAINER [PRIVATE_PORT[/PROTO]]",
        "List port mappings or a specific mapping for the container",
        (),
        (1, 2),
        ("container", "private_port"),
    ),
    "ps": Command("[OPTIONS]", "List containers", _PS_FLAGS),
    "rename": Command(
        "CONTAINER NEW_NAME", "Rename a container", (), (2, 2), ("container", "new_name")
    ),
    "restart": Command(
        "[OPTIONS] CONTAINER [CONTAINER...]",
        "Restart one or more containers",
        (_TIME,),
        _ONE_PLUS,
        ("*containers",),
    ),
    "rm": Command(
        "[OPTIONS] CONTAINER [CONTAINER...]",
        "Remove one or more containers",
        _RM_FLAGS,
        _ONE_PLUS,
        ("*containers",),
    ),
    "rmi": Command(
        "[OPTIONS] IMAGE [IMAGE...]",
        "Remove one or more images",
        _RMI_FLAGS,
        _ONE_PLUS,
        ("*images",),
    ),
    "run": Command(
        "[OPTIONS] IMAGE [COMMAND] [ARG...]",
        "Run a command in a new container",
        _RUN_FLAGS,
        _ONE_PLUS,
        ("image", "*command"),
        False,
    ),
    "start": Command(
        "[OPTIONS] CONTAINER [CONTAINER...]",
        "Start one or more stopped containers",
        (
            F("a", "attach", "bool", "Attach STDOUT/STDERR and forward signals"),
            _DETACH_KEYS,
            F("i", "interactive", "bool", "Attach container's STDIN"),
        ),
        _ONE_PLUS,
        ("*containers",),
    ),
    "stats": Command(
        "[OPTIONS] [CONTAINER...]",
        "Display a live stream of container(s) resource usage statistics",
        (
            F("a", "all", "bool", "Show all containers (default shows just running)"),
            F("", "format", "string", "Pretty-print images using a Go template"),
            F("", "no-stream", "bool", "Disable streaming stats and only pull the first result"),
            F("", "no-trunc", "bool", "Do not truncate output"),
        ),
        _ANY,
        ("*containers",),
    ),
    "stop": Command(
        "[OPTIONS] CONTAINER [CONTAINER...]",
        "Stop one or more running containers",
        (F("s", "signal", "string", "Signal to send to the container"), _TIME),
        _ONE_PLUS,
        ("*containers",),
    ),
    "tag": Command(
        "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
        "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
        (),
        (2, 2),
        ("source", "target"),
    ),
    "top": Command(
        "CONTAINER [ps OPTIONS]",
        "Display the running processes of a container",
        (),
        _ONE_PLUS,
        ("container", "*ps_args"),
        False,
    ),
    "unpause": Command(
        "CONTAINER [CONTAINER...]",
        "Unpause all processes within one or more containers",
        (),
        _ONE_PLUS,
        ("*containers",),
    ),
    "update": Command(
        "[OPTIONS] CONTAINER [CONTAINER...]",
        "Update configuration of one or more containers",
        _sorted(
            F("", "cpu-period", "int", "Limit CPU CFS (Completely Fair Scheduler) period"),
            F("", "cpu-quota", "int", "Limit CPU CFS (Completely Fair Scheduler) quota"),
            F("", "cpuset-cpus", "string", "CPUs in which to allow execution (0-3, 0,1)"),
            F("", "cpuset-mems", "string", "MEMs in which to allow execution (0-3, 0,1)"),
            F("c", "cpu-shares", "int", "CPU shares (relative weight)"),
            F("m", "memory", "bytes", "Memory limit"),
            F("", "memory-reservation", "bytes", "Memory soft limit"),
            F(
                "",
                "memory-swap",
                "bytes",
                "Swap limit equal to memory plus swap: -1 to enable unlimited swap",
            ),
            F("", "restart", "string", "Restart policy to apply when a container exits"),
            F("", "pids-limit", "int", "Tune container pids limit (set -1 for unlimited)"),
            F("", "cpus", "decimal", "Number of CPUs"),
        ),
        _ONE_PLUS,
        ("*containers",),
    ),
    "version": Command("[OPTIONS]", "Show the dockerlab version information", (_FORMAT,)),
    "wait": Command(
        "CONTAINER [CONTAINER...]",
        "Block until one or more containers stop, then print their exit codes",
        (),
        _ONE_PLUS,
        ("*containers",),
    ),
    # management-only verbs
    "container inspect": Command(
        "[OPTIONS] CONTAINER [CONTAINER...]",
        "Display detailed information on one or more containers",
        _INSPECT_FLAGS,
        _ONE_PLUS,
        ("*names",),
        True,
        {"type": "container"},
    ),
    "container prune": Command(
        "[OPTIONS]", "Remove all stopped containers", (_PRUNE_UNTIL, *_PRUNE_FLAGS)
    ),
    "image bootstrap": Command(
        "[busybox|debian[:SUITE]|ubuntu[:SUITE]|web|db]",
        "Make an image offline: busybox from the host's static busybox, debian/ubuntu "
        "with debootstrap from the host's apt mirror, the course's web and db from busybox "
        "(dockerlab only)",
        (),
        (0, 1),
        ("name",),
    ),
    "image inspect": Command(
        "[OPTIONS] IMAGE [IMAGE...]",
        "Display detailed information on one or more images",
        (_FORMAT,),
        _ONE_PLUS,
        ("*names",),
        True,
        {"type": "image"},
    ),
    "volume create": Command(
        "[OPTIONS] [VOLUME]",
        "Create a volume",
        (
            F("d", "driver", "string", 'Specify volume driver name (default "local")', "local"),
            F("", "label", "list", "Set metadata for a volume"),
            F("", "name", "string", "Specify volume name"),
            F("o", "opt", "map", "Set driver specific options (default map[])"),
        ),
        (0, 1),
        ("name_arg",),
    ),
    "volume inspect": Command(
        "[OPTIONS] VOLUME [VOLUME...]",
        "Display detailed information on one or more volumes",
        (_FORMAT,),
        _ONE_PLUS,
        ("*names",),
    ),
    "volume ls": Command("[OPTIONS]", "List volumes", _VOL_LS),
    "volume prune": Command(
        "[OPTIONS]", "Remove all unused local volumes", (_PRUNE_LABEL, *_PRUNE_FLAGS)
    ),
    "volume rm": Command(
        "[OPTIONS] VOLUME [VOLUME...]",
        "Remove one or more volumes",
        (F("f", "force", "bool", "Force the removal of one or more volumes"),),
        _ONE_PLUS,
        ("*names",),
    ),
}

MANAGEMENT: dict[str, tuple[str, dict[str, str]]] = {
    "container": (
        "Manage containers",
        {
            **{
                v: v
                for v in (
                    "attach",
                    "create",
                    "exec",
                    "kill",
                    "logs",
                    "pause",
                    "port",
                    "rename",
                    "restart",
                    "rm",
                    "run",
                    "start",
                    "stats",
                    "stop",
                    "top",
                    "unpause",
                    "update",
                    "wait",
                )
            },
            "inspect": "container inspect",
            "ls": "ps",
            "list": "ps",
            "ps": "ps",
            "prune": "container prune",
            "remove": "rm",
        },
    ),
    "image": (
        "Manage images",
        {
            "bootstrap": "image bootstrap",
            "history": "history",
            "inspect": "image inspect",
            "ls": "images",
            "list": "images",
            "rm": "rmi",
            "remove": "rmi",
            "tag": "tag",
        },
    ),
    "volume": (
        "Manage volumes",
        {
            "create": "volume create",
            "inspect": "volume inspect",
            "ls": "volume ls",
            "list": "volume ls",
            "prune": "volume prune",
            "rm": "volume rm",
            "remove": "volume rm",
        },
    ),
}

# ---- images: save, load; cp; system df ----
COMMANDS.update(
    {
        "save": Command(
            "[OPTIONS] IMAGE [IMAGE...]",
            "Save one or more images to a tar archive (streamed to STDOUT by default)",
            (F("o", "output", "string", "Write to a file, instead of STDOUT"),),
            _ONE_PLUS,
            ("*images",),
        ),
        "load": Command(
            "[OPTIONS]",
            "Load an image from a tar archive or STDIN",
            (
                F("i", "input", "string", "Read from tar archive file, instead of STDIN"),
                F("q", "quiet", "bool", "Suppress the load output"),
            ),
        ),
        "cp": Command(
            "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tdockerlab cp [OPTIONS] SRC_PATH|- "
            "CONTAINER:DEST_PATH",
            "Copy files/folders between a container and the local filesystem",
            (
                F("a", "archive", "bool", "Archive mode (copy all uid/gid information)"),
                F("L", "follow-link", "bool", "Always follow symbol link in SRC_PATH"),
                F(
                    "q",
                    "quiet",
                    "bool",
                    "Suppress progress output during copy. Progress "
                    "output is automatically suppressed if no terminal is attached",
                ),
            ),
            (2, 2),
            ("src", "dst"),
        ),
        "system df": Command(
            "[OPTIONS]",
            "Show docker disk usage",
            (
                F("", "format", "string", "Pretty-print images using a Go template"),
                F("v", "verbose", "bool", "Show detailed information on space usage"),
            ),
        ),
    }
)
# ---- registries: pull, push, login, logout, search (issue 11) ----
COMMANDS.update(
    {
        "pull": Command(
            "[OPTIONS] NAME[:TAG|@DIGEST]",
            "Download an image from a registry",
            (
                F("a", "all-tags", "bool", "Download all tagged images in the repository"),
                F("", "disable-content-trust", "bool", "Skip image verification", True),
                F("", "platform", "string", "Set platform if server is multi-platform capable"),
                F("q", "quiet", "bool", "Suppress verbose output"),
            ),
            (1, 1),
            ("name",),
        ),
        "push": Command(
            "[OPTIONS] NAME[:TAG]",
            "Upload an image to a registry",
            (
                F("a", "all-tags", "bool", "Push all tags of an image to the repository"),
                F("", "disable-content-trust", "bool", "Skip image signing", True),
                F("q", "quiet", "bool", "Suppress verbose output"),
            ),
            (1, 1),
            ("name",),
        ),
        "login": Command(
            "[OPTIONS] [SERVER]",
            "Log in to a registry",
            (
                F("p", "password", "string", "Password"),
                F("", "password-stdin", "bool", "Take the password from stdin"),
                F("u", "username", "string", "Username"),
            ),
            (0, 1),
            ("server",),
        ),
        "logout": Command(
            "[SERVER]",
            "Log out from a registry",
            (),
            (0, 1),
            ("server",),
        ),
        "search": Command(
            "[OPTIONS] TERM",
            "Search registries for images (a Distribution registry's catalog: dockerlab's "
            "extension)",
            (
                F("f", "filter", "filter", "Filter output based on conditions provided"),
                F("", "format", "string", "Pretty-print search using a Go template"),
                F("", "limit", "int", "Max number of search results", 0),
                F("", "no-trunc", "bool", "Don't truncate output"),
            ),
            (1, 1),
            ("term",),
        ),
    }
)
MANAGEMENT["image"][1].update({"pull": "pull", "push": "push"})
MANAGEMENT["container"][1]["cp"] = "cp"
MANAGEMENT["image"][1].update({"save": "save", "load": "load"})
COMMANDS["system prune"] = Command(
    "[OPTIONS]",
    "Remove unused data",
    (
        F("a", "all", "bool", "Remove all unused images not just dangling ones"),
        F("", "filter", "filter", "Provide filter values (e.g. 'label=<key>=<value>')"),
        F("f", "force", "bool", "Do not prompt for confirmation"),
        F("", "volumes", "bool", "Prune volumes"),
    ),
)
COMMANDS["image prune"] = Command(
    "[OPTIONS]",
    "Remove unused images",
    (
        F("a", "all", "bool", "Remove all unused images, not just dangling ones"),
        _PRUNE_UNTIL,
        *_PRUNE_FLAGS,
    ),
)
MANAGEMENT["image"][1]["prune"] = "image prune"
MANAGEMENT.setdefault("system", ("Manage dockerlab", {}))[1]["df"] = "system df"
MANAGEMENT["system"][1]["prune"] = "system prune"

# ---- layers: diff, commit, export, import ----
_CHANGE = F("c", "change", "list", "Apply Dockerfile instruction to the created image")
COMMANDS.update(
    {
        "diff": Command(
            "CONTAINER",
            "Inspect changes to files or directories on a container's filesystem",
            (),
            _ONE,
            ("container",),
        ),
        "commit": Command(
            "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
            "Create a new image from a container's changes",
            (
                F(
                    "a",
                    "author",
                    "string",
                    'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")',
                ),
                _CHANGE,
                F("m", "message", "string", "Commit message"),
                F("p", "pause", "bool", "Pause container during commit (default true)", True),
            ),
            (1, 2),
            ("container", "repository"),
        ),
        "export": Command(
            "[OPTIONS] CONTAINER",
            "Export a container's filesystem as a tar archive",
            (F("o", "output", "string", "Write to a file, instead of STDOUT"),),
            _ONE,
            ("container",),
        ),
        "import": Command(
            "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
            "Import the contents from a tarball to create a filesystem image",
            (
                _CHANGE,
                F("m", "message", "string", "Set commit message for imported image"),
                F("", "platform", "string", "Set platform if server is multi-platform capable"),
            ),
            (1, 2),
            ("source", "repository"),
        ),
    }
)
MANAGEMENT["container"][1].update({"diff": "diff", "commit": "commit", "export": "export"})
MANAGEMENT["image"][1]["import"] = "import"

# ---- build ----
COMMANDS["build"] = Command(
    "[OPTIONS] PATH | URL | -",
    "Build an image from a Dockerfile",
    (
        F("", "build-arg", "list", "Set build-time variables"),
        F("f", "file", "string", "Name of the Dockerfile (Default is 'PATH/Dockerfile')"),
        F("", "force-rm", "bool", "Always remove intermediate containers"),
        F("", "label", "list", "Set metadata for an image"),
        F("", "no-cache", "bool", "Do not use cache when building the image"),
        F("", "platform", "string", "Set platform if server is multi-platform capable"),
        F("", "pull", "bool", "Always attempt to pull a newer version of the image"),
        F("q", "quiet", "bool", "Suppress the build output and print image ID on success"),
        F("", "rm", "bool", "Remove intermediate containers after a successful build", True),
        F("t", "tag", "list", "Name and optionally a tag in the 'name:tag' format"),
        F("", "target", "string", "Set the target build stage to build."),
    ),
    _ONE,
    ("context_path",),
)
MANAGEMENT["image"][1]["build"] = "build"

# ---- events ----
COMMANDS["events"] = Command(
    "[OPTIONS]",
    "Get real time events from the server",
    (
        F("f", "filter", "filter", "Filter output based on conditions provided"),
        F("", "format", "string", "Format the output using the given Go template"),
        F("", "since", "string", "Show all events created since timestamp"),
        F("", "until", "string", "Stream events until this timestamp"),
    ),
)
MANAGEMENT["system"][1]["events"] = "events"

MANAGEMENT["system"][1]["info"] = "info"  # `docker system info` is `docker info`

# ---- networks (user-defined bridge networks) ----
COMMANDS.update(
    {
        "network create": Command(
            "[OPTIONS] NETWORK",
            "Create a network",
            (
                F("d", "driver", "string", 'Driver to manage the Network (default "bridge")'),
                F("", "gateway", "list", "IPv4 or IPv6 Gateway for the master subnet"),
                F("", "internal", "bool", "Restrict external access to the network"),
                F("", "label", "list", "Set metadata on a network"),
                F("o", "opt", "map", "Set driver specific options (default map[])"),
                F("", "subnet", "list", "Subnet in CIDR format that represents a network segment"),
            ),
            _ONE,
            ("name",),
        ),
        "network ls": Command(
            "[OPTIONS]",
            "List networks",
            (
                F("f", "filter", "filter", "Provide filter values (e.g. 'driver=bridge')"),
                F("", "format", "string", "Pretty-print networks using a Go template"),
                F("", "no-trunc", "bool", "Do not truncate the output"),
                F("q", "quiet", "bool", "Only display network IDs"),
            ),
        ),
        "network inspect": Command(
            "[OPTIONS] NETWORK [NETWORK...]",
            "Display detailed information on one or more networks",
            (_FORMAT,),
            _ONE_PLUS,
            ("*names",),
        ),
        "network rm": Command(
            "NETWORK [NETWORK...]", "Remove one or more networks", (), _ONE_PLUS, ("*names",)
        ),
        "network connect": Command(
            "[OPTIONS] NETWORK CONTAINER",
            "Connect a container to a network",
            (
                F("", "alias", "list", "Add network-scoped alias for the container"),
                F("", "ip", "string", "IPv4 address (e.g., 172.30.100.104)"),
            ),
            (2, 2),
            ("network", "container"),
        ),
        "network disconnect": Command(
            "[OPTIONS] NETWORK CONTAINER",
            "Disconnect a container from a network",
            (F("f", "force", "bool", "Force the container to disconnect from a network"),),
            (2, 2),
            ("network", "container"),
        ),
        "network prune": Command(
            "[OPTIONS]",
            "Remove all unused networks",
            (
                F("", "filter", "filter", "Provide filter values (e.g. 'until=<timestamp>')"),
                *_PRUNE_FLAGS,
            ),
        ),
    }
)
MANAGEMENT["network"] = (
    "Manage networks",
    {
        "connect": "network connect",
        "create": "network create",
        "disconnect": "network disconnect",
        "inspect": "network inspect",
        "ls": "network ls",
        "list": "network ls",
        "prune": "network prune",
        "rm": "network rm",
        "remove": "network rm",
    },
)
# ---- the lab registry (dockerlab's own command: Docker has none) ----
COMMANDS.update(
    {
        "registry start": Command(
            "[OPTIONS]",
            "Start the lab registry (Debian's docker-registry) on loopback",
            (
                F("", "htpasswd", "string", "Require logins: an htpasswd file of bcrypt entries"),
                F("p", "port", "int", "Port to listen on, on 127.0.0.1 (default 5000)", 5000),
                F("u", "user", "list", "Require logins: add a user NAME:PASSWORD"),
            ),
        ),
        "registry status": Command(
            "[OPTIONS]", "Show the lab registry's address, pid, storage and users", (_FORMAT,)
        ),
        "registry stop": Command("", "Stop the lab registry"),
        "registry seed": Command(
            "[IMAGE...]",
            "Push the course's images (busybox, debian, web, db) to the lab registry as its mirror",
            (),
            (0, None),
            ("*images",),
        ),
    }
)
MANAGEMENT["registry"] = (
    "Manage the lab registry (dockerlab only)",
    {
        "seed": "registry seed",
        "start": "registry start",
        "status": "registry status",
        "stop": "registry stop",
    },
)

# ---- the daemon: the Docker Engine API (dockerd's flags) --------------------------------------
COMMANDS["daemon"] = Command(
    "[OPTIONS]",
    "Serve the Docker Engine API, for the docker client and docker-py",
    (
        F("G", "group", "string", 'Group for the unix socket (default "dockerlab")', "dockerlab"),
        F(
            "H",
            "host",
            "list",
            "Daemon socket(s) to listen on: unix://PATH, tcp://HOST:PORT "
            "(default unix:///run/dockerlab/docker.sock)",
        ),
        F("", "tls", "bool", "Use TLS; implied by --tlsverify"),
        F("", "tlscacert", "string", "Trust certs signed only by this CA"),
        F("", "tlscert", "string", "Path to TLS certificate file"),
        F("", "tlskey", "string", "Path to TLS key file"),
        F("", "tlsverify", "bool", "Use TLS and verify the remote"),
        F(
            "",
            "trace",
            "bool",
            "Log each request in full: query, body summary, status, time (the ApiTrace "
            "widget shows them either way)",
        ),
    ),
)

# ---- Docker commands dockerlab does not have yet -------------------------------------------
# The one table of them: each answers "`X` is not available in dockerlab yet" and where to
# turn instead (exit 1), never Docker's typo message, which stays for words Docker does not
# know either. A verb that lands in COMMANDS/MANAGEMENT wins over its row here: drop the row.
_NO_REGISTRY = (
    "dockerlab pulls and pushes images (`dockerlab pull`, `dockerlab push`) but has no "
    "manifest-list editing and no content trust."
)
_NO_ORCHESTRATOR = "dockerlab runs containers on one host, without swarm mode."
NOT_YET: dict[str, str] = {
    "builder": "`dockerlab build` is Docker's classic builder; it keeps no build cache.",
    "buildx": "`dockerlab build` is Docker's classic builder (no BuildKit, no buildx).",
    "checkpoint": "There is no checkpoint and restore (CRIU) in dockerlab.",
    "compose": "There is no compose: start each service with `dockerlab run`.",
    "config": _NO_ORCHESTRATOR,
    "context": "dockerlab uses its state root directly: choose it with --root or $DOCKERLAB_ROOT.",
    "manifest": _NO_REGISTRY,
    "node": _NO_ORCHESTRATOR,
    "plugin": "dockerlab has no plugins: its volume and log drivers are built in.",
    "secret": _NO_ORCHESTRATOR,
    "service": _NO_ORCHESTRATOR,
    "stack": _NO_ORCHESTRATOR,
    "swarm": _NO_ORCHESTRATOR,
    "trust": _NO_REGISTRY,
}


def not_yet(path: str) -> ArgCountError:
    """A Docker command dockerlab does not have yet (exit 1, as Docker's unknown command)."""
    return ArgCountError(f"{PROG}: `{path}` is not available in {PROG} yet.\n{NOT_YET[path]}", path)


_GLOBAL_FLAGS = (
    F("D", "debug", "bool", "Enable debug mode (show tracebacks)"),
    F("", "root", "string", "Root of dockerlab's state (default $DOCKERLAB_ROOT)"),
    F("v", "version", "bool", "Print version information and quit"),
    F(
        "",
        "storage-driver",
        "string",
        "Storage driver: overlay2, fuse-overlayfs or vfs "
        "(default $DOCKERLAB_STORAGE_DRIVER, else probed)",
    ),
)


# ---- help texts ---------------------------------------------------------------------------


def _options_text(flags: tuple[Flag, ...], with_h: bool) -> str:
    rows = []
    for f in (*flags, F("h" if with_h else "", "help", "bool", "Print usage")):
        name = f"-{f.short}, --{f.long}" if f.short else f"    --{f.long}"
        meta = _KINDS[f.kind][1]
        rows.append((f"{name} {meta}" if meta else name, f.help))
    width = max(len(r[0]) for r in rows) + 3
    return "\n".join(f"  {left.ljust(width)}{right}" for left, right in rows)


def command_help(path: str, cmd: Command) -> str:
    has_h = not any(f.short == "h" for f in cmd.flags)
    return (
        f"\nUsage:  {PROG} {path} {cmd.usage}\n\n{cmd.short}\n\nOptions:\n"
        f"{_options_text(cmd.flags, has_h)}\n"
    )


def _verbs_text(items: list[tuple[str, str]]) -> str:
    return "\n".join(f"  {name.ljust(11)} {short}" for name, short in items)


def main_help() -> str:
    top = sorted((k, c.short) for k, c in COMMANDS.items() if " " not in k)
    mgmt = sorted((k, v[0]) for k, v in MANAGEMENT.items())
    return (
        f"\nUsage:  {PROG} [OPTIONS] COMMAND\n\nA self-sufficient runtime for containers, "
        f"in Python\n\nOptions:\n{_options_text(_GLOBAL_FLAGS, True)}\n\n"
        f"Management Commands:\n{_verbs_text(mgmt)}\n\nCommands:\n{_verbs_text(top)}\n\n"
        f"Run '{PROG} COMMAND --help' for more information on a command.\n"
    )


def management_help(group: str) -> str:
    short, subs = MANAGEMENT[group]
    items = sorted(
        {
            (s, COMMANDS[v].short)
            for s, v in subs.items()
            if s not in ("list", "remove") and not (group == "container" and s == "ps")
        }
    )
    return (
        f"\nUsage:  {PROG} {group} COMMAND\n\n{short}\n\nCommands:\n{_verbs_text(items)}\n\n"
        f"Run '{PROG} {group} COMMAND --help' for more information on a command.\n"
    )


# ---- parsing ------------------------------------------------------------------------------


class Namespace:
    """The parsed command line: one attribute per flag and positional (argparse's
    ``Namespace``, without importing argparse: it and its ``re``/``gettext`` cost the CLI
    several milliseconds on every command)."""

    def __init__(self, **kwargs: object) -> None:
        self.__dict__.update(kwargs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Namespace) and vars(self) == vars(other)

    def __contains__(self, key: str) -> bool:
        return key in self.__dict__

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"Namespace({args})"

    if TYPE_CHECKING:  # one attribute per flag and positional, set at run time

        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...


class DockerParser:
    """One command's flags; pflag-style word walking, Docker's messages, never exits."""

    def __init__(
        self,
        path: str,
        cmd: Command | None = None,
        *,
        flags: tuple[Flag, ...] | None = None,
        interspersed: bool = True,
    ) -> None:
        self.path = path
        self.cmd = cmd
        self.interspersed = cmd.interspersed if cmd else interspersed
        self.flags = cmd.flags if cmd else (flags or ())
        self._long: dict[str, Flag] = {}
        self._short: dict[str, Flag] = {}
        self._order: list[Flag] = []
        for f in (*self.flags, F("", "help", "bool", "Print usage")):
            self._add(f)
        if "h" not in self._short:
            self._short["h"] = self._long["help"]

    def _add(self, f: Flag) -> None:
        self._order.append(f)
        self._long[f.long] = f
        for alias in f.aliases:
            self._long[alias.lstrip("-")] = f
        if f.short:
            self._short[f.short] = f

    def parse_args(self, normalized: list[str]) -> Namespace:
        """The namespace of ``--long=value`` words (what :meth:`split` gives), as argparse
        stored them: every flag's default first (the first flag of a dest wins; a text
        default goes through the flag's type), then each value converted by its kind's
        type, repeatable kinds appended to a fresh list."""
        ns = Namespace()
        for f in self._order:
            if f.dest not in ns.__dict__:
                typ, _meta, repeat = _KINDS[f.kind]
                default = [] if repeat else f.default
                setattr(ns, f.dest, typ(default) if isinstance(default, str) else default)
        for word in normalized:
            name, _eq, value = word[2:].partition("=")
            f = self._long[name]
            typ, _meta, repeat = _KINDS[f.kind]
            if repeat:
                setattr(ns, f.dest, [*getattr(ns, f.dest), typ(value)])
            else:
                setattr(ns, f.dest, typ(value))
        return ns

    def _value(self, f: Flag, value: str, shown: str) -> str:
        try:
            _KINDS[f.kind][0](value)
        except _BadValue as exc:
            from dockerlab.format._gofmt import go_quote  # pflag's %q

            raise usage_error(
                f'invalid argument {go_quote(value)} for "{shown}" flag: {exc}', self.path
            ) from None
        return value

    def _shown(self, f: Flag) -> str:
        return f"-{f.short}, --{f.long}" if f.short else f"--{f.long}"

    def split(self, words: list[str]) -> tuple[list[str], list[str]]:
        """Walk ``words`` as pflag does: (normalized ``--long=value`` words, positionals)."""
        out: list[str] = []
        positionals: list[str] = []
        i = 0
        while i < len(words):
            word = words[i]
            i += 1
            if word == "--":
                positionals.extend(words[i:])
                break
            if word.startswith("--"):
                name, eq, value = word[2:].partition("=")
                f = self._long.get(name)
                if f is None:
                    raise usage_error(f"unknown flag: --{name}", self.path)
                if f.kind == "bool":
                    value = value if eq else "true"
                elif not eq:
                    if i >= len(words):
                        raise usage_error(f"flag needs an argument: --{name}", self.path)
                    value = words[i]
                    i += 1
                out.append(f"--{f.long}={self._value(f, value, self._shown(f))}")
            elif word.startswith("-") and word != "-":
                cluster = word[1:]
                while cluster:
                    c, cluster = cluster[0], cluster[1:]
                    f = self._short.get(c)
                    if f is None:
                        raise usage_error(
                            f"unknown shorthand flag: '{c}' in -{c}{cluster}", self.path
                        )
                    if f.kind == "bool":
                        value = "true"
                        if cluster.startswith("="):
                            value, cluster = cluster[1:], ""
                    elif cluster:
                        value, cluster = cluster.removeprefix("="), ""
                    elif i < len(words):
                        value = words[i]
                        i += 1
                    else:
                        raise usage_error(f"flag needs an argument: '{c}' in -{c}", self.path)
                    out.append(f"--{f.long}={self._value(f, value, self._shown(f))}")
            else:
                positionals.append(word)
                if not self.interspersed:
                    positionals.extend(words[i:])
                    break
        return out, positionals

    def parse(self, words: list[str]) -> Namespace:
        normalized, positionals = self.split(words)
        ns = self.parse_args(normalized)
        self.coerce(ns)
        if ns.help:
            raise ShowText(command_help(self.path, self.cmd) if self.cmd else main_help())
        ns.args = positionals
        if self.cmd is not None:
            self._check_count(self.cmd, positionals)
            self._name_positionals(self.cmd, ns, positionals)
            for key, value in self.cmd.extra.items():
                setattr(ns, key, value)
        return ns

    def coerce(self, ns: Namespace) -> Namespace:
        """Booleans given as text (a default); make them bools."""
        for f in (*self.flags, self._long["help"]):
            if f.kind == "bool" and isinstance(getattr(ns, f.dest), str):
                setattr(ns, f.dest, _go_bool(getattr(ns, f.dest)))
        return ns

    def _check_count(self, cmd: Command, args: list[str]) -> None:
        lo, hi = cmd.args
        n = len(args)
        if lo <= n and (hi is None or n <= hi):
            return

        def plural(k: int) -> str:
            return f"{k} argument" + ("" if k == 1 else "s")

        if hi == 0:
            what = "accepts no arguments"
        elif lo == hi:
            what = f"requires exactly {plural(lo)}"
        elif hi is None:
            what = f"requires at least {plural(lo)}"
        elif lo == 0:
            what = f"requires at most {plural(hi)}"
        else:
            what = f"requires at least {lo} and at most {plural(hi)}"
        full = f"{PROG} {self.path}"
        raise ArgCountError(
            f"\"{full}\" {what}.\nSee '{full} --help'.\n\n"
            f"Usage:  {full} {cmd.usage}\n\n{cmd.short}",
            self.path,
        )

    def _name_positionals(self, cmd: Command, ns: Namespace, args: list[str]) -> None:
        for k, name in enumerate(cmd.names):
            if name.startswith("*"):
                setattr(ns, name[1:], args[k:])
                break
            setattr(ns, name, args[k] if k < len(args) else None)


def parse(argv: list[str]) -> Namespace:
    """Parse a whole ``dockerlab`` command line (global flags, command, its flags and args)."""
    top = DockerParser("", flags=_GLOBAL_FLAGS, interspersed=False)
    g, rest = top.split(list(argv))
    gns = top.coerce(top.parse_args(g))
    if gns.help:
        raise ShowText(main_help())
    if gns.version:
        raise ShowText(VERSION_TEXT)
    if not rest:
        raise ShowText(main_help())
    word, rest = rest[0], rest[1:]
    if word not in MANAGEMENT and word not in COMMANDS and word in NOT_YET:
        raise not_yet(word)
    if word in MANAGEMENT:
        subs = MANAGEMENT[word][1]
        if not rest or rest[0] in ("--help", "-h"):
            raise ShowText(management_help(word))
        if rest[0] not in subs and f"{word} {rest[0]}" in NOT_YET:
            raise not_yet(f"{word} {rest[0]}")
        if rest[0] not in subs:
            raise ArgCountError(
                f"{PROG}: '{rest[0]}' is not a {PROG} {word} command.\nSee '{PROG} {word} --help'",
                word,
            )
        path, verb, rest = f"{word} {rest[0]}", subs[rest[0]], rest[1:]
    elif word in COMMANDS and " " not in word:
        path = verb = word
    else:
        raise ArgCountError(f"{PROG}: '{word}' is not a {PROG} command.\nSee '{PROG} --help'", "")
    ns = DockerParser(path, COMMANDS[verb]).parse(rest)
    ns.verb = verb
    ns.path = path
    ns.debug = gns.debug
    ns.root = gns.root or os.environ.get("DOCKERLAB_ROOT") or None
    if gns.storage_driver:  # the engine reads it where a state root's driver is chosen
        os.environ["DOCKERLAB_STORAGE_DRIVER"] = gns.storage_driver
    return ns
