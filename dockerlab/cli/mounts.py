"""``--mount`` and ``--tmpfs`` values as Docker's CLI reads them (``opts.MountOpt``): Go's
CSV rules, the keys and their errors. Pure; the parser checks a value as the flag is read,
options.py puts the result in the create body."""

from __future__ import annotations

from dockerlab.format import parse_ram

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _go_csv_record(text: str) -> list[str]:
    """The first record of ``text`` as Go's ``encoding/csv`` reads it (``--mount``), with its
    errors: a quote in an unquoted field, text after a closing quote, a quote left open."""
    if not text:
        raise ValueError("EOF")
    line = text.split("\n", 1)[0].removesuffix("\r")
    fields: list[str] = []
    i, n = 0, len(line)
    while True:
        if i < n and line[i] == '"':  # a quoted field: "" is one quote
            out: list[str] = []
            i += 1
            while True:
                j = line.find('"', i)
                if j < 0:
                    raise ValueError(
                        f'parse error on line 1, column {n + 1}: extraneous or missing " in '
                        "quoted-field"
                    )
                out.append(line[i:j])
                if line[j + 1 : j + 2] == '"':
                    out.append('"')
                    i = j + 2
                    continue
                i = j + 1
                if i < n and line[i] != ",":
                    raise ValueError(
                        f'parse error on line 1, column {j + 1}: extraneous or missing " in '
                        "quoted-field"
                    )
                break
            fields.append("".join(out))
        else:
            j = line.find(",", i)
            field = line[i:] if j < 0 else line[i:j]
            quote = field.find('"')
            if quote >= 0:
                raise ValueError(
                    f'parse error on line 1, column {i + quote + 1}: bare " in non-quoted-field'
                )
            fields.append(field)
            i = n if j < 0 else j
        if i >= n:
            return fields
        i += 1  # the comma
        if i == n:
            fields.append("")
            return fields


def _go_parse_bool(value: str) -> bool:
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError(value)


def parse_mount(value: str) -> dict[str, Any]:
    """One ``--mount`` value -> a HostConfig.Mounts entry as Docker 20.10's CLI sends it
    (``opts.MountOpt.Set``); a ValueError carries the CLI's reason."""
    fields = _go_csv_record(value)
    mount: dict[str, Any] = {"Type": "volume"}

    def options(key: str) -> dict[str, Any]:
        if key == "VolumeOptions":
            opts = mount.setdefault(key, {"Labels": {}})
            opts.setdefault("DriverConfig", {})
            return opts
        return mount.setdefault(key, {})

    def set_bool(target: dict[str, Any], name: str, key: str, val: str, shown: str) -> None:
        try:
            target[name] = _go_parse_bool(val)
        except ValueError:
            raise ValueError(f"invalid value for {shown}: {val}") from None

    for field in fields:
        key, eq, val = field.partition("=")
        key = key.lower()
        if not eq:
            if key in ("readonly", "ro"):
                mount["ReadOnly"] = True
                continue
            if key == "volume-nocopy":
                options("VolumeOptions")["NoCopy"] = True
                continue
            if key == "bind-nonrecursive":
                options("BindOptions")["NonRecursive"] = True
                continue
            raise ValueError(f"invalid field '{field}' must be a key=value pair")
        if key == "type":
            mount["Type"] = val.lower()
        elif key in ("source", "src"):
            mount["Source"] = val
        elif key in ("target", "dst", "destination"):
            mount["Target"] = val
        elif key in ("readonly", "ro"):
            set_bool(mount, "ReadOnly", key, val, key)
        elif key == "consistency":
            mount["Consistency"] = val.lower()
        elif key == "bind-propagation":
            options("BindOptions")["Propagation"] = val.lower()
        elif key == "bind-nonrecursive":
            set_bool(options("BindOptions"), "NonRecursive", key, val, key)
        elif key == "volume-nocopy":
            set_bool(options("VolumeOptions"), "NoCopy", key, val, "volume-nocopy")
        elif key in ("volume-label", "volume-opt"):
            opts = options("VolumeOptions")
            into = opts["Labels"] if key == "volume-label" else opts["DriverConfig"]
            if key == "volume-opt":
                into = into.setdefault("Options", {})
            name, _, setting = val.partition("=")
            into[name] = setting
        elif key == "volume-driver":
            options("VolumeOptions")["DriverConfig"]["Name"] = val
        elif key == "tmpfs-size":
            try:
                options("TmpfsOptions")["SizeBytes"] = parse_ram(val)
            except ValueError:
                raise ValueError(f"invalid value for {key}: {val}") from None
        elif key == "tmpfs-mode":
            try:
                mode = int(val, 8) if val and val.isascii() and val.isdigit() else -1
            except ValueError:
                mode = -1
            if not 0 <= mode < 1 << 32:
                raise ValueError(f"invalid value for {key}: {val}")
            options("TmpfsOptions")["Mode"] = mode
        else:
            raise ValueError(f"unexpected key '{key}' in '{field}'")
    kind = mount["Type"]
    if not kind:
        raise ValueError("type is required")
    if not mount.get("Target"):
        raise ValueError("target is required")
    for key, prefix, wanted in (
        ("VolumeOptions", "volume", "volume"),
        ("BindOptions", "bind", "bind"),
        ("TmpfsOptions", "tmpfs", "tmpfs"),
    ):
        if key in mount and kind != wanted:
            raise ValueError(f"cannot mix '{prefix}-*' options with mount type '{kind}'")
    return _go_json_order(mount)


# api/types/mount.Mount's fields in the struct's order (JSON keys follow it, empty ones omitted).
_MOUNT_ORDER = {
    "": ("Type", "Source", "Target", "ReadOnly", "Consistency", "BindOptions", "VolumeOptions",
         "TmpfsOptions"),
    "BindOptions": ("Propagation", "NonRecursive"),
    "VolumeOptions": ("NoCopy", "Labels", "DriverConfig"),
    "DriverConfig": ("Name", "Options"),
    "TmpfsOptions": ("SizeBytes", "Mode"),
}  # fmt: skip


def _go_json_order(value: dict[str, Any], kind: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in _MOUNT_ORDER[kind]:
        item = value.get(key)
        if isinstance(item, dict) and key in _MOUNT_ORDER:
            out[key] = _go_json_order(item, key)  # a pointer: kept even when empty
        elif item:
            out[key] = item
    return out


def tmpfs_map(specs: list[str]) -> dict[str, str]:
    """``--tmpfs PATH[:OPTIONS]`` -> HostConfig.Tmpfs, as Docker's CLI sends it (the daemon
    checks the paths, and the options when the container starts)."""
    out: dict[str, str] = {}
    for spec in specs:
        path, _, opts = spec.partition(":")
        out[path] = opts
    return out
