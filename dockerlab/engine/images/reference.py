"""Docker image references: parse, normalise, print the familiar form.

Follows distribution/reference (``ParseNormalizedNamed``, ``FamiliarString``,
``TagNameOnly``) and its error messages, so users see what Docker says:

    busybox                        → docker.io/library/busybox:latest, shown ``busybox:latest``
    docker.io/library/busybox:1.36 → shown ``busybox:1.36``
    localhost:5000/a/b:t           → domain localhost:5000, path a/b, tag t
    name@sha256:<64 hex>           → digest reference (no tag is added)

Pure module: no I/O, stdlib ``re`` only.
"""

from __future__ import annotations

import re

from dockerlab.errors import InvalidParameter

TYPE_CHECKING = False  # typing costs the CLI's start milliseconds
if TYPE_CHECKING:
    from typing import NamedTuple

    class _Fields(NamedTuple):
        domain: str
        path: str
        tag: str | None = None
        digest: str | None = None

else:  # the same tuple, without importing typing
    from collections import namedtuple

    _Fields = namedtuple("Reference", ("domain", "path", "tag", "digest"), defaults=(None, None))

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_DOMAIN = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"

# compiled on first use (re caches it): keeps this module cheap to import on `run`
_REFERENCE = rf"^({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?$"
_IDENTIFIER_RE = re.compile(r"^[a-f0-9]{64}$")
_DIGEST_SHA256_RE = re.compile(r"^sha256:[a-f0-9]{64}$")


class Reference(_Fields):
    """A normalised named reference (domain is never empty): ``domain``, ``path``, ``tag``
    and ``digest`` (None when absent)."""

    __slots__ = ()

    @property
    def name(self) -> str:
        """Fully qualified name: ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """Name as Docker prints it: ``busybox``, ``user/app``, ``localhost:5000/a/b``."""
        if self.domain == DEFAULT_DOMAIN:
            path = self.path
            if path.startswith(OFFICIAL_REPO_PREFIX) and path.count("/") == 1:
                return path[len(OFFICIAL_REPO_PREFIX) :]
            return path
        return self.name

    def familiar(self) -> str:
        """``FamiliarString``: familiar name plus ``:tag`` and ``@digest`` when present."""
        out = self.familiar_name
        if self.tag is not None:
            out += f":{self.tag}"
        if self.digest is not None:
            out += f"@{self.digest}"
        return out

    def with_default_tag(self) -> Reference:
        """``TagNameOnly``: add ``:latest`` when there is neither tag nor digest."""
        if self.tag is None and self.digest is None:
            return Reference(self.domain, self.path, DEFAULT_TAG, None)
        return self

    def __str__(self) -> str:
        out = self.name
        if self.tag is not None:
            out += f":{self.tag}"
        if self.digest is not None:
            out += f"@{self.digest}"
        return out


def _split_domain(name: str) -> tuple[str, str]:
    i = name.find("/")
    head = name[:i]
    if i == -1 or (
        not any(c in head for c in ".:") and head != "localhost" and head.lower() == head
    ):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = head, name[i + 1 :]
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def _parse(s: str) -> Reference:
    """distribution/reference ``Parse`` on an already normalised string."""
    m = re.match(_REFERENCE, s)
    if m is None:
        if not s:
            raise InvalidParameter("repository name must have at least one component")
        if re.match(_REFERENCE, s.lower()):
            raise InvalidParameter("repository name must be lowercase")
        raise InvalidParameter("invalid reference format")
    name, tag, digest = m.group(1), m.group(2), m.group(3)
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidParameter(
            f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
        )
    domain, _, path = name.partition("/")
    return Reference(domain, path, tag, digest)


def parse(ref: str) -> Reference:
    """``ParseNormalizedNamed``: accept what a user types, raise Docker's message if invalid.

    Raises :class:`InvalidParameter` (``invalid reference format`` …).
    """
    if _IDENTIFIER_RE.match(ref):
        raise InvalidParameter(
            f"invalid repository name ({ref}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = _split_domain(ref)
    tag_sep = remainder.find(":")
    remote = remainder[:tag_sep] if tag_sep > -1 else remainder
    at = remote.find("@")
    if at > -1:
        remote = remote[:at]
    if remote.lower() != remote:
        raise InvalidParameter(
            f"invalid reference format: repository name ({remote}) must be lowercase"
        )
    return _parse(f"{domain}/{remainder}")


def parse_tagged(ref: str) -> Reference:
    """:func:`parse` then add ``:latest`` when neither tag nor digest is given."""
    return parse(ref).with_default_tag()


def familiar(ref: str) -> str:
    """The familiar string of a parsed, defaulted reference: ``busybox`` → ``busybox:latest``."""
    return parse_tagged(ref).familiar()


def is_full_id(ref: str) -> bool:
    """``<64 hex>`` or ``sha256:<64 hex>`` (``ParseAnyReference`` treats both as IDs)."""
    return bool(_IDENTIFIER_RE.match(ref) or _DIGEST_SHA256_RE.match(ref))


def short_id(image_id: str) -> str:
    """``sha256:5a9b…`` → ``5a9b…`` (12 hex, ``stringid.TruncateID``)."""
    return image_id.split(":", 1)[-1][:12]
