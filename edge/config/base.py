"""The one strict base every config section derives from, and the types sections share.

Why ``extra="forbid"`` and frozen: a typo in a field name (``puls_s``) on a box at a gate must
stop the service with the key named, not silently fall back to a default that leaves a
barrier pulsing for the wrong time; and a loaded config is a value that nothing changes
behind a running gate's back (``model_copy(update=...)`` makes a new one).
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import ip_address
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class StrictModel(BaseModel):
    """Unknown keys are refused, and a loaded section never changes.

    Every field carries a ``description``: ``menwei init`` writes it above the key in the
    example file (``edge.config.example``), and a test refuses a field without one.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


GpioPin = Annotated[int, Field(ge=0, le=53, description="BCM GPIO number")]


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (IPv4 or IPv6, bracketed or not)."""
    if host.lower() == "localhost":
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_peer_url(value: str) -> str:
    """The URL of a server this box calls (the district platform, the community hub): https
    with a host — plain http only to loopback (tests, demo) — and no query, fragment or
    credentials (secrets live in files, never in a URL that the config shows)."""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an https:// URL with a host")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError("plain http is allowed only to 127.0.0.1/localhost; use https")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("no query, fragment or credentials in the URL")
    return value.rstrip("/")


def check_listen(value: str) -> str:
    """``host:port`` a server of the box listens on (port 0: any free port; ASCII digits
    only — ``int()`` would take full-width ones)."""
    host, _, port = value.rpartition(":")
    if not host or not (port.isascii() and port.isdigit()) or not 0 <= int(port) < 65536:
        raise ValueError("listen must be host:port")
    return value


#: ``host:port`` of a server the box runs.
Listen = Annotated[str, AfterValidator(check_listen)]

#: A server the box calls over TLS; its certificate is always verified (``ca_file`` names
#: a private CA where there is one).
PeerUrl = Annotated[str, AfterValidator(check_peer_url)]


def check_tls_pair(certificate: Path | None, key: Path | None) -> None:
    """A server's certificate and its private key: both or neither."""
    if (certificate is None) != (key is None):
        raise ValueError("set both tls_certificate and tls_key, or neither")


def relative_paths(section: Any, base: Path, names: Iterable[str]) -> dict[str, Path]:
    """``{name: base / path}`` for each of the section's ``names`` that is set and relative
    (a ``model_copy(update=...)`` of it resolves them)."""
    update: dict[str, Path] = {}
    for name in names:
        value = getattr(section, name)
        if value is not None and not value.is_absolute():
            update[name] = base / value
    return update
