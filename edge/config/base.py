"""The one strict base every config section derives from, and the types sections share.

Why ``extra="forbid"`` and frozen: a typo in a field name (``puls_s``) on a box at a gate must
stop the service with the key named, not silently fall back to a default that leaves a
barrier pulsing for the wrong time; and a loaded config is a value that nothing changes
behind a running gate's back (``model_copy(update=...)`` makes a new one).
"""

from __future__ import annotations

from ipaddress import ip_address
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


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
