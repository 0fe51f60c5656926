"""The sync secret: the token / HMAC key / digest password ``[sync] secret_file`` names.

Secrets are never inline in the config: the file is one line, 0600, outside the data
folder, so the config can be shown and backed up. (The ``[sync]`` section itself is
``edge.config.sync.SyncConfig``.)
"""

from __future__ import annotations

from pathlib import Path

from edge.errors import UserError


class SecretError(UserError):
    """The secret file is missing, unreadable, too open or empty."""

    code = "sync_secret"


def read_secret(path: Path) -> bytes:
    """Read the one-line secret; refuse an empty file or one others can read."""
    try:
        mode = path.stat().st_mode
        raw = path.read_bytes()
    except OSError as exc:
        raise SecretError(
            "cannot read sync secret file %(path)s: %(error)s",
            {"path": path, "error": exc.strerror},
        ) from None
    if mode & 0o077:
        raise SecretError(
            "sync secret file %(path)s is readable by others; chmod 600 it", {"path": path}
        )
    secret = raw.strip()
    if not secret or len(secret) > 4096 or b"\n" in secret:
        raise SecretError("sync secret file %(path)s must hold one non-empty line", {"path": path})
    return secret
