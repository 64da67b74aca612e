"""Docker's credentials file: ``$DOCKER_CONFIG/config.json`` (default ``~/.docker``).

``auths[host].auth`` is base64(``user:password``); ``credsStore`` (all hosts) and
``credHelpers[host]`` name a ``docker-credential-<name>`` program spoken to as Docker does
(``get``/``store``/``erase`` with the server on stdin, JSON out). The file is written with
mode 0600 and tab indentation, as Docker writes it; keys dockerlab does not know are kept.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from typing import Any

from dockerlab.errors import DockerlabError

# Docker stores Docker Hub's credentials under its v1 index address.
INDEX_SERVER = "https://index.docker.io/v1/"


class CredentialsError(DockerlabError):
    """config.json or a credential helper failed."""


def config_dir() -> str:
    return os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")


def config_path() -> str:
    return os.path.join(config_dir(), "config.json")


def server_key(domain: str) -> str:
    """The key a registry's credentials are stored under (Docker Hub's is its v1 URL)."""
    return INDEX_SERVER if domain in ("docker.io", "index.docker.io") else domain


def load() -> dict[str, Any]:
    path = config_path()
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CredentialsError(f"loading config file {path}: {exc}") from None
    return data if isinstance(data, dict) else {}


def save(data: dict[str, Any]) -> str:
    """Write config.json atomically with mode 0600; returns its path."""
    path = config_path()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent="\t")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def _helper_of(data: dict[str, Any], key: str) -> str:
    helpers = data.get("credHelpers")
    if isinstance(helpers, dict) and isinstance(helpers.get(key), str):
        return str(helpers[key])
    store = data.get("credsStore")
    return store if isinstance(store, str) else ""


def _helper(name: str, action: str, payload: str) -> str:
    exe = f"docker-credential-{name}"
    try:
        done = subprocess.run(
            [exe, action], input=payload, capture_output=True, text=True, timeout=60
        )
    except FileNotFoundError:
        raise CredentialsError(
            f'error getting credentials - err: exec: "{exe}": executable file not found in '
            "$PATH, out: ``"
        ) from None
    if done.returncode != 0:
        out = (done.stdout or done.stderr).strip()
        if action == "get" and "credentials not found" in out:
            return ""
        raise CredentialsError(
            f"error {action}ting credentials - err: exit status {done.returncode}, out: `{out}`"
        )
    return done.stdout


def get(domain: str) -> tuple[str, str] | None:
    """(username, password or identity token) stored for ``domain``, or None."""
    data = load()
    key = server_key(domain)
    helper = _helper_of(data, key)
    if helper:
        out = _helper(helper, "get", key)
        if not out.strip():
            return None
        try:
            found = json.loads(out)
            return str(found.get("Username", "")), str(found.get("Secret", ""))
        except (ValueError, AttributeError):
            raise CredentialsError(
                f"error getting credentials - bad answer from {helper}"
            ) from None
    auths = data.get("auths")
    entry = auths.get(key) if isinstance(auths, dict) else None
    if not isinstance(entry, dict):
        return None
    if entry.get("auth"):
        try:
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise CredentialsError(f"invalid auth configuration file for {key}") from None
        return user, password
    if entry.get("identitytoken"):
        return str(entry.get("username", "")), str(entry["identitytoken"])
    return None


def store(domain: str, user: str, password: str) -> tuple[str, bool]:
    """Keep the credentials; returns (config path, whether they were stored in plain text)."""
    data = load()
    key = server_key(domain)
    helper = _helper_of(data, key)
    if helper:
        _helper(
            helper, "store", json.dumps({"ServerURL": key, "Username": user, "Secret": password})
        )
        auths = data.setdefault("auths", {})
        if isinstance(auths, dict):
            auths[key] = {}
        return save(data), False
    auths = data.get("auths")
    if not isinstance(auths, dict):
        auths = data["auths"] = {}
    auths[key] = {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
    return save(data), True


def erase(domain: str) -> None:
    """Forget the credentials for ``domain`` (no error if there were none)."""
    data = load()
    key = server_key(domain)
    helper = _helper_of(data, key)
    if helper:
        try:
            _helper(helper, "erase", key)
        except CredentialsError:
            pass
    auths = data.get("auths")
    if not isinstance(auths, dict):
        auths = data["auths"] = {}
    auths.pop(key, None)
    save(data)
