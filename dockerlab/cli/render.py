"""Docker's outputs from the engine's API-shaped dicts. Pure: text in, text out.

Each listing has a row context whose attributes are the ``--format`` fields the docker CLI
offers (``{{.ID}}``, ``{{.Names}}``, ``{{.Label "k"}}`` …), a header map (the column titles
docker prints for those fields) and its default table format. :func:`listing` renders rows
with a user's ``--format`` or the default, the way docker's formatter does.

Stats follow the docker CLI's own arithmetic (:mod:`dockerlab.format.stats`).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from dockerlab.format import ago, bytes_size, human_size_with_precision
from dockerlab.format.rendered import Lines, Table
from dockerlab.format.stats import block_io, cpu_percent, memory_usage, network_io

# ---- small docker CLI helpers ------------------------------------------------------------


def ellipsis(s: str, width: int) -> str:
    """formatter.Ellipsis: keep ``width - 1`` characters and add "…" when longer."""
    if width <= 0:
        return ""
    if len(s) <= width:
        return s
    return s[: width - 1] + "…"


def go_quote(s: str) -> str:
    """strconv.Quote (for the COMMAND column)."""
    from dockerlab.format._gofmt import go_quote as quote

    return quote(s)


def truncate_id(ident: str) -> str:
    """stringid.TruncateID: drop the algorithm, keep 12 hex digits."""
    return ident.split(":", 1)[-1][:12]


def go_time_string(ts: float) -> str:
    """Go's ``time.Time.String()`` in local time: ``2023-01-02 15:04:05 +0000 UTC``."""
    return datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S %z %Z")


def rfc3339(ts: float) -> str:
    """Go's ``time.Unix(ts, 0).Format(time.RFC3339)`` in local time."""
    text = datetime.fromtimestamp(int(ts)).astimezone().isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def familiar(name: str) -> str:
    """reference.FamiliarName: ``docker.io/library/busybox`` -> ``busybox``."""
    for prefix in ("docker.io/library/", "docker.io/"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def split_tag(ref: str) -> tuple[str, str]:
    """``repo:tag`` -> (repo, tag); a colon before the last "/" is a registry port."""
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1 :]
    return ref, "<none>"


def inspect_json(objects: list[Any]) -> str:
    """docker inspect's JSON: an array indented with 4 spaces, HTML characters unescaped."""
    return json.dumps(objects, indent=4, ensure_ascii=False)


# ---- tables --------------------------------------------------------------------------------


def listing(
    fmt: str | None, default: str, header: dict[str, str], rows: list[Any]
) -> Table | Lines:
    """``rows`` with ``fmt`` (``table …`` for a table with a header) as docker draws them."""
    from dockerlab.format.rendered import listing as structured

    return structured(fmt or default, header, rows)


# ---- ps ------------------------------------------------------------------------------------

PS_FORMAT = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
)
PS_HEADER = {
    "ID": "CONTAINER ID",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED",
    "Ports": "PORTS",
    "State": "STATE",
    "Status": "STATUS",
    "Size": "SIZE",
    "Names": "NAMES",
    "Labels": "LABELS",
    "Label": "LABEL",
    "Mounts": "MOUNTS",
    "Networks": "NETWORKS",
    "LocalVolumes": "LOCAL VOLUMES",
}


def format_ports(ports: list[dict[str, Any]] | None) -> str:
    """The PORTS column (docker CLI 28's DisplayablePorts: ``[::]:8080->80/tcp``)."""
    if not ports:
        return ""
    from dockerlab.format.ports import displayable_ports

    return displayable_ports(ports)


class PsRow:
    """The ``docker ps --format`` context of one ``GET /containers/json`` record. Its
    capitalised names are the template's fields (and ``{{json .}}``'s keys), as Docker's."""

    go_type = "*formatter.ContainerContext"

    def __init__(self, c: dict[str, Any], trunc: bool = True, now: float | None = None) -> None:
        self.c = c
        self.trunc = trunc
        self.now = time.time() if now is None else now

    @property
    def Platform(self) -> Any:
        """The image's platform (Docker's CLI 28 key; null with a daemon that does not say)."""
        return self.c.get("ImageManifestDescriptor", {}).get("platform")

    @property
    def ID(self) -> str:
        return truncate_id(self.c["Id"]) if self.trunc else self.c["Id"]

    @property
    def Image(self) -> str:
        image = self.c.get("Image", "")
        if self.trunc and image.startswith("sha256:"):
            return truncate_id(image)
        return image

    @property
    def Command(self) -> str:
        command = self.c.get("Command", "")
        return go_quote(ellipsis(command, 20) if self.trunc else command)

    @property
    def CreatedAt(self) -> str:
        return go_time_string(self.c.get("Created", 0))

    @property
    def RunningFor(self) -> str:
        return ago(self.c.get("Created", 0), self.now)

    @property
    def Ports(self) -> str:
        return format_ports(self.c.get("Ports"))

    @property
    def State(self) -> str:
        return self.c.get("State", "")

    @property
    def Status(self) -> str:
        return self.c.get("Status", "")

    @property
    def Size(self) -> str:
        srw = human_size_with_precision(self.c.get("SizeRw") or 0, 3)
        rootfs = self.c.get("SizeRootFs") or 0
        if rootfs > 0:
            return f"{srw} (virtual {human_size_with_precision(rootfs, 3)})"
        return srw

    @property
    def Names(self) -> str:
        names = [n.removeprefix("/") for n in self.c.get("Names") or []]
        if self.trunc:
            names = [n for n in names if "/" not in n][:1] or names[:1]
        return ",".join(names)

    @property
    def Labels(self) -> str:
        return ",".join(f"{k}={v}" for k, v in (self.c.get("Labels") or {}).items())

    def Label(self, name: str) -> str:
        return (self.c.get("Labels") or {}).get(name, "")

    @property
    def Mounts(self) -> str:
        names = []
        for m in self.c.get("Mounts") or []:
            name = m.get("Name") or m.get("Source", "")
            names.append(ellipsis(name, 15) if self.trunc else name)
        return ",".join(names)

    @property
    def LocalVolumes(self) -> str:
        return str(sum(1 for m in self.c.get("Mounts") or [] if m.get("Driver") == "local"))

    @property
    def Networks(self) -> str:
        nets = (self.c.get("NetworkSettings") or {}).get("Networks") or {}
        return ",".join(sorted(nets))


def ps_fields_used(template: Any) -> set[str]:
    """The fields a ``ps --format`` template names, found as docker's CLI finds them: by
    running it on an empty row (``Size`` used means sizes are computed). Raises
    TemplateError as running it on a real row would."""
    used: set[str] = set()

    class Recording(PsRow):
        def __getattribute__(self, name: str) -> Any:
            if name[:1].isupper():
                used.add(name)
            return super().__getattribute__(name)

    template.execute(Recording({"Id": ""}, True, 0.0))
    return used


def ps(
    containers: list[dict[str, Any]],
    fmt: str | None = None,
    quiet: bool = False,
    trunc: bool = True,
    size: bool = False,
    now: float | None = None,
) -> Table | Lines:
    rows = [PsRow(c, trunc, now) for c in containers]
    if quiet:
        return Lines(r.ID for r in rows)
    default = PS_FORMAT + ("\t{{.Size}}" if size else "")
    return listing(fmt, default, PS_HEADER, rows)


# ---- images --------------------------------------------------------------------------------

IMAGES_FORMAT = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
IMAGES_HEADER = {
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "ID": "IMAGE ID",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "Size": "SIZE",
    "Digest": "DIGEST",
    "Containers": "CONTAINERS",
    "VirtualSize": "VIRTUAL SIZE",
    "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
}


class ImageRow:
    """The ``docker images --format`` context of one (image, repository, tag)."""

    go_type = "*formatter.imageContext"

    def __init__(
        self,
        image: dict[str, Any],
        repo: str,
        tag: str,
        digest: str,
        trunc: bool = True,
        now: float | None = None,
    ) -> None:
        self.i = image
        self.Repository = repo
        self.Tag = tag
        self.Digest = digest
        self.trunc = trunc
        self.now = time.time() if now is None else now

    @property
    def ID(self) -> str:
        return truncate_id(self.i["Id"]) if self.trunc else self.i["Id"]

    @property
    def CreatedSince(self) -> str:
        return ago(self.i.get("Created", 0), self.now)

    @property
    def CreatedAt(self) -> str:
        return go_time_string(self.i.get("Created", 0))

    @property
    def Size(self) -> str:
        return human_size_with_precision(self.i.get("Size", 0), 3)

    @property
    def VirtualSize(self) -> str:
        return human_size_with_precision(self.i.get("VirtualSize", self.i.get("Size", 0)), 3)

    @property
    def SharedSize(self) -> str:
        shared = self.i.get("SharedSize", -1)
        return "N/A" if shared < 0 else human_size_with_precision(shared, 3)

    @property
    def UniqueSize(self) -> str:
        shared = self.i.get("SharedSize", -1)
        if shared < 0:
            return "N/A"
        return human_size_with_precision(self.i.get("Size", 0) - shared, 3)

    @property
    def Containers(self) -> str:
        n = self.i.get("Containers", -1)
        return "N/A" if n < 0 else str(n)


def image_rows(
    images: list[dict[str, Any]], trunc: bool = True, now: float | None = None
) -> list[ImageRow]:
    """One row per repository:tag, ``<none>`` for untagged images, as docker lists them."""
    rows = []
    for img in images:
        tags = [t for t in img.get("RepoTags") or [] if t != "<none>:<none>"]
        digests = [d for d in img.get("RepoDigests") or [] if d != "<none>@<none>"]
        if not tags and not digests:
            rows.append(ImageRow(img, "<none>", "<none>", "<none>", trunc, now))
            continue
        by_repo: dict[str, str] = {}
        for d in digests:
            repo, _, digest = d.partition("@")
            by_repo.setdefault(familiar(repo), digest)
        seen = set()
        for t in tags:
            repo, tag = split_tag(t)
            repo = familiar(repo)
            seen.add(repo)
            rows.append(ImageRow(img, repo, tag, by_repo.get(repo, "<none>"), trunc, now))
        for repo, digest in by_repo.items():
            if repo not in seen:
                rows.append(ImageRow(img, repo, "<none>", digest, trunc, now))
    return rows


def images(
    images_: list[dict[str, Any]],
    fmt: str | None = None,
    quiet: bool = False,
    trunc: bool = True,
    now: float | None = None,
) -> Table | Lines:
    rows = image_rows(images_, trunc, now)
    if quiet:
        seen: list[str] = []
        for r in rows:
            if r.ID not in seen:
                seen.append(r.ID)
        return Lines(seen)
    return listing(fmt, IMAGES_FORMAT, IMAGES_HEADER, rows)


# ---- history -------------------------------------------------------------------------------

HISTORY_FORMAT = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HISTORY_HEADER = {
    "ID": "IMAGE",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY",
    "Size": "SIZE",
    "Comment": "COMMENT",
}


class HistoryRow:
    go_type = "*image.historyContext"

    def __init__(
        self, h: dict[str, Any], trunc: bool = True, human: bool = True, now: float | None = None
    ) -> None:
        self.h = h
        self.trunc = trunc
        self.human = human
        self.now = time.time() if now is None else now

    @property
    def ID(self) -> str:
        ident = self.h.get("Id", "<missing>")
        return truncate_id(ident) if self.trunc and ident != "<missing>" else ident

    @property
    def CreatedSince(self) -> str:
        if not self.human:
            return rfc3339(self.h.get("Created", 0))
        return ago(self.h.get("Created", 0), self.now)

    @property
    def CreatedAt(self) -> str:
        return rfc3339(self.h.get("Created", 0))

    @property
    def CreatedBy(self) -> str:
        text = self.h.get("CreatedBy", "").replace("\t", " ")
        return ellipsis(text, 45) if self.trunc else text

    @property
    def Size(self) -> str:
        size = self.h.get("Size", 0)
        return human_size_with_precision(size, 3) if self.human else str(size)

    @property
    def Comment(self) -> str:
        return self.h.get("Comment", "")


def history(
    entries: list[dict[str, Any]],
    fmt: str | None = None,
    quiet: bool = False,
    trunc: bool = True,
    human: bool = True,
    now: float | None = None,
) -> Table | Lines:
    rows = [HistoryRow(h, trunc, human, now) for h in entries]
    if quiet:
        return Lines(r.ID for r in rows)
    return listing(fmt, HISTORY_FORMAT, HISTORY_HEADER, rows)


# ---- volumes -------------------------------------------------------------------------------

VOLUMES_FORMAT = "table {{.Driver}}\t{{.Name}}"
VOLUMES_HEADER = {
    "Driver": "DRIVER",
    "Name": "VOLUME NAME",
    "Mountpoint": "MOUNTPOINT",
    "Scope": "SCOPE",
    "Labels": "LABELS",
    "Links": "LINKS",
    "Size": "SIZE",
}


class VolumeRow:
    go_type = "*formatter.volumeContext"

    def __init__(self, v: dict[str, Any]) -> None:
        self.v = v
        self.Driver = v.get("Driver", "local")
        self.Name = v.get("Name", "")
        self.Mountpoint = v.get("Mountpoint", "")
        self.Scope = v.get("Scope", "local")
        self.Labels = ",".join(f"{k}={val}" for k, val in (v.get("Labels") or {}).items())
        usage = v.get("UsageData") or {}
        size, refs = usage.get("Size", -1), usage.get("RefCount", -1)
        self.Size = "N/A" if size < 0 else human_size_with_precision(size, 3)
        self.Links = "N/A" if refs < 0 else str(refs)
        # cluster volumes' fields (Docker's CLI 28); a local volume has none
        self.Availability = self.Group = self.Status = "N/A"

    def Label(self, name: str) -> str:
        return (self.v.get("Labels") or {}).get(name, "")


def volumes(
    vols: list[dict[str, Any]], fmt: str | None = None, quiet: bool = False
) -> Table | Lines:
    if quiet:
        return Lines(v.get("Name", "") for v in vols)
    return listing(fmt, VOLUMES_FORMAT, VOLUMES_HEADER, [VolumeRow(v) for v in vols])


# ---- stats ---------------------------------------------------------------------------------

STATS_FORMAT = (
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t"
    "{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
)
STATS_HEADER = {
    "Container": "CONTAINER",
    "ID": "CONTAINER ID",
    "Name": "NAME",
    "CPUPerc": "CPU %",
    "MemUsage": "MEM USAGE / LIMIT",
    "MemPerc": "MEM %",
    "NetIO": "NET I/O",
    "BlockIO": "BLOCK I/O",
    "PIDs": "PIDS",
}


class StatsRow:
    """The ``docker stats --format`` context of one stats sample."""

    go_type = "*container.statsContext"

    def __init__(
        self, s: dict[str, Any], container: str = "", trunc: bool = True, invalid: bool = False
    ) -> None:
        self.s = s
        self.Container = container or s.get("id", "")
        self.trunc = trunc
        self.invalid = invalid
        self.cpu = cpu_percent(s)
        self.memory = memory_usage(s)
        self.limit = float((s.get("memory_stats") or {}).get("limit", 0))
        self.mem_percent = self.memory / self.limit * 100.0 if self.limit else 0.0
        self.net = network_io(s)
        self.blk = block_io(s)
        self.pids = (s.get("pids_stats") or {}).get("current", 0)

    @property
    def ID(self) -> str:
        ident = self.s.get("id", "")
        return truncate_id(ident) if self.trunc else ident

    @property
    def Name(self) -> str:
        name = self.s.get("name", "")
        return name[1:] if len(name) > 1 else "--"

    @property
    def CPUPerc(self) -> str:
        return "--" if self.invalid else f"{self.cpu:.2f}%"

    @property
    def MemUsage(self) -> str:
        if self.invalid:
            return "-- / --"
        return f"{bytes_size(self.memory)} / {bytes_size(self.limit)}"

    @property
    def MemPerc(self) -> str:
        return "--" if self.invalid else f"{self.mem_percent:.2f}%"

    @property
    def NetIO(self) -> str:
        if self.invalid:
            return "--"
        return (
            f"{human_size_with_precision(self.net[0], 3)} / "
            f"{human_size_with_precision(self.net[1], 3)}"
        )

    @property
    def BlockIO(self) -> str:
        if self.invalid:
            return "--"
        return (
            f"{human_size_with_precision(self.blk[0], 3)} / "
            f"{human_size_with_precision(self.blk[1], 3)}"
        )

    @property
    def PIDs(self) -> str:
        return "--" if self.invalid else str(self.pids)


def stats(rows: list[StatsRow], fmt: str | None = None) -> Table | Lines:
    return listing(fmt, STATS_FORMAT, STATS_HEADER, rows)


# ---- top, version, info --------------------------------------------------------------------


def top(result: dict[str, Any]) -> Table:
    """docker top: tabwriter with minimum width 20."""
    return Table(result.get("Titles") or [], result.get("Processes") or [], minwidth=20)


def version(client: dict[str, Any], server: dict[str, Any] | None) -> str:
    lines = [
        "Client:",
        f" Version:           {client['Version']}",
        f" API version:       {client['APIVersion']}",
        f" Python version:    {client['PythonVersion']}",
        f" OS/Arch:           {client['Os']}/{client['Arch']}",
    ]
    if server is not None:
        lines += [
            "",
            "Server:",
            " Engine:",
            f"  Version:          {server.get('Version', '')}",
            (
                f"  API version:      {server.get('ApiVersion', '')} (minimum version "
                f"{server.get('MinAPIVersion', '')})"
            ),
        ]
        for key, title in (
            ("GoVersion", "Python version"),
            ("GitCommit", "Git commit"),
            ("BuildTime", "Built"),
        ):
            if server.get(key):
                lines.append(f"  {title + ':':<17} {server[key]}")
        lines.append(f"  OS/Arch:          {server.get('Os', '')}/{server.get('Arch', '')}")
        if server.get("KernelVersion"):
            lines.append(f"  Kernel version:   {server['KernelVersion']}")
        lines.append(f"  Experimental:     {str(server.get('Experimental', False)).lower()}")
        for comp in server.get("Components") or []:
            if comp.get("Name") == "Engine":
                continue
            lines.append(f" {comp.get('Name')}:")
            lines.append(f"  Version:          {comp.get('Version', '')}")
            for key, value in (comp.get("Details") or {}).items():
                lines.append(f"  {key + ':':<17} {value}")
    return "\n".join(lines) + "\n"


def info(i: dict[str, Any], debug: bool = False) -> str:
    """``docker info``'s text (the Server part from ``GET /info``)."""
    g = i.get
    lines = [
        "Client:",
        f" Debug Mode: {str(debug).lower()}",
        "",
        "Server:",
        f" Containers: {g('Containers', 0)}",
        f"  Running: {g('ContainersRunning', 0)}",
        f"  Paused: {g('ContainersPaused', 0)}",
        f"  Stopped: {g('ContainersStopped', 0)}",
        f" Images: {g('Images', 0)}",
        f" Server Version: {g('ServerVersion', '')}",
        f" Storage Driver: {g('Driver', '')}",
    ]
    for pair in g("DriverStatus") or []:
        lines.append(f"  {pair[0]}: {pair[1]}")
    lines += [
        f" Logging Driver: {g('LoggingDriver', 'json-file')}",
        f" Cgroup Driver: {g('CgroupDriver', 'cgroupfs')}",
        f" Cgroup Version: {g('CgroupVersion', '')}",
    ]
    options: list[str] = g("SecurityOptions") or []
    if options:  # "name=seccomp,profile=default" -> Docker's block
        lines.append(" Security Options:")
        for option in options:
            fields = dict(kv.partition("=")[::2] for kv in option.split(","))
            lines.append(f"  {fields.pop('name', option)}")
            if "profile" in fields:
                lines.append(f"   Profile: {fields['profile']}")
    lines += [
        f" Kernel Version: {g('KernelVersion', '')}",
        f" Operating System: {g('OperatingSystem', '')}",
        f" OSType: {g('OSType', 'linux')}",
        f" Architecture: {g('Architecture', '')}",
        f" CPUs: {g('NCPU', 0)}",
        f" Total Memory: {bytes_size(g('MemTotal', 0))}",
        f" Name: {g('Name', '')}",
        f" ID: {g('ID', '')}",
        f" Docker Root Dir: {g('DockerRootDir', '')}",
        f" Debug Mode: {str(g('Debug', False)).lower()}",
    ]
    labels: list[str] = g("Labels") or []
    if labels:
        lines.append(" Labels:")
        lines += [f"  {v}" for v in labels]
    lines.append(f" Experimental: {str(g('ExperimentalBuild', False)).lower()}")
    lines.append(f" Live Restore Enabled: {str(g('LiveRestoreEnabled', False)).lower()}")
    return "\n".join(lines) + "\n"


INFO_TYPES = {
    "Swarm": "swarm.Info",
    "Plugins": "system.PluginsInfo",
    "RegistryConfig": "*registry.ServiceConfig",
    "ClientInfo": "*system.clientInfo",
    "ContainerdCommit": "system.Commit",
    "RuncCommit": "system.Commit",
    "InitCommit": "system.Commit",
}


def info_context(i: dict[str, Any], client: dict[str, Any], debug: bool = False) -> Any:
    """What ``info --format`` runs on: the ``GET /info`` record with the client's own
    part (``ClientInfo``), as a Go struct: a field it lacks is an error, as Docker's."""
    from dockerlab.format._gofmt import Struct

    keys = ("Version", "DefaultAPIVersion", "GitCommit", "GoVersion", "Os", "Arch", "BuildTime")
    client_info = {
        "Debug": debug,
        **{k: client.get(k, "") for k in keys},
        "Context": client.get("Context", "default"),
        "Plugins": [],
        "Warnings": None,
    }
    return Struct({**i, "ClientInfo": client_info}, "system.dockerInfo", INFO_TYPES)


def since_seconds(value: str, now: float | None = None, name: str = "since") -> float:
    """``logs --since``/``--until``: RFC 3339 (or a date), a unix timestamp, or a Go duration
    before now."""
    from dockerlab.format import parse_rfc3339

    now = time.time() if now is None else now
    try:
        return float(value)
    except ValueError:
        pass
    dur = go_duration(value)
    if dur is not None:
        return now - dur
    try:
        return parse_rfc3339(value)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f'invalid value for "{name}": failed to parse value as time or duration: "{value}"'
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC) if "T" not in value else dt.astimezone()
    return dt.timestamp()


_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration(text: str) -> float | None:
    """time.ParseDuration ("1h30m", "10m", "2.5s") in seconds; None when not a duration."""
    import re

    m = re.fullmatch(r"([0-9.]+(ns|us|µs|ms|s|m|h))+", text)
    if not m:
        return None
    total = 0.0
    for num, unit in re.findall(r"([0-9.]+)(ns|us|µs|ms|s|m|h)", text):
        try:
            total += float(num) * _UNITS[unit]
        except ValueError:
            return None
    return total


def parse_format_only(fmt: str) -> str:
    """The template of a non-table ``--format`` (``json`` -> ``{{json .}}``)."""
    from dockerlab.format.gotemplate import parse_format

    return parse_format(fmt)[1]
