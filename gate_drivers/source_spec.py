"""What a camera ``source`` string means, and how to show it without its password.

Apart from the frame readers (``frame_sources``) so that config validation and log lines
can parse and redact a source without loading OpenCV.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]*@")
# Hikvision / Dahua style HTTP URLs carry credentials in the query string.
_SECRET_QUERY = re.compile(r"(?i)([?&](?:user|username|pass|password|pwd|token|auth|key)=)[^&\s]*")


def redact(text: str) -> str:
    """Remove credentials from any URL inside ``text`` (user:password@ and ?pwd=...)."""
    return _SECRET_QUERY.sub(r"\1***", _USERINFO.sub(r"\1***@", text))


@dataclass(frozen=True)
class SourceSpec:
    """A parsed ``source`` string. ``label`` is the redacted form used in logs and errors."""

    kind: Literal["usb", "stream", "path"]
    target: str | int
    label: str


def parse_source(source: str) -> SourceSpec:
    """Parse a config ``source``; a malformed one raises ``ValueError`` at start-up."""
    text = source.strip()
    if not text:
        raise ValueError(
            "camera source is empty; use usb:N, rtsp://..., http://..., a file or folder"
        )
    if text.lower().startswith("usb:"):
        index = text[4:]
        if not (index.isascii() and index.isdigit()):
            raise ValueError(f"camera source {text!r}: usb: needs a device number, e.g. usb:0")
        return SourceSpec("usb", int(index), f"usb:{int(index)}")
    if text.lower().startswith(_STREAM_SCHEMES):
        return SourceSpec("stream", text, redact(text))
    if "://" in text:
        raise ValueError(f"camera source {redact(text)!r}: only rtsp, http and https URLs work")
    return SourceSpec("path", text, text)
