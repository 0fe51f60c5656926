"""One-time codes for a tenant's move-out or extension, when the box can send SMS.

Without a gateway a tenant's request waits for the landlord to confirm it. With one, a
six-digit code goes to the phone the registration holds (never to a number typed on the
page) and typing it back applies the request: ``CodeSender`` is the interface a real SMS
gateway implements. ``DemoLogSender`` is for ``menwei demo`` only: it writes the code to
the log with the request's opaque handle prefix — never the phone number or a document.
"""

from __future__ import annotations

import logging
import secrets
from typing import Literal, Protocol

log = logging.getLogger(__name__)

Gateway = Literal["none", "demo-log"]


class CodeSender(Protocol):
    def send(self, phone_e164: str, code: str, handle: str) -> None:
        """Deliver ``code`` to ``phone_e164``; ``handle`` identifies the request."""


class DemoLogSender:
    """Logs the code instead of sending it (demo only: a box must not use it)."""

    def send(self, phone_e164: str, code: str, handle: str) -> None:
        del phone_e164  # never logged
        log.warning("demo SMS: one-time code %s for request %s…", code, handle[:6])


def sender_for(gateway: Gateway) -> CodeSender | None:
    return DemoLogSender() if gateway == "demo-log" else None


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"
