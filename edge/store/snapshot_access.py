"""Reading a stored snapshot back for the console, only from inside the snapshot folder.

The web app serves snapshots through an authenticated route, never as static files: each
view by police is audit-logged, and nobody without an account sees a car or a face. The
path comes from ``events.snapshot_path``, a database column, so it is treated as untrusted:
a row edited to ``../menwei.db``, an absolute path or a symlink pointing out of the folder
resolves outside the root and is refused.

Thumbnails for the live view are decoded at a quarter of the size by libjpeg itself (DCT
scaling), which costs a few milliseconds instead of a full decode and resize.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

THUMB_QUALITY = 75


def resolve_snapshot(root: Path, relative: str | None) -> Path | None:
    """The snapshot file for ``relative`` if it is a regular file inside ``root``."""
    if not relative or "\x00" in relative:
        return None
    try:
        base = root.resolve(strict=True)
        target = (base / relative).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a symlink loop
        return None
    if not target.is_relative_to(base) or target == base or not target.is_file():
        return None
    return target


def thumbnail_jpeg(path: Path) -> bytes | None:
    """A quarter-size JPEG of the snapshot at ``path``; None if it is not a readable JPEG."""
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_REDUCED_COLOR_4) if data.size else None
    if image is None:
        return None
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, THUMB_QUALITY])
    return encoded.tobytes() if ok else None
