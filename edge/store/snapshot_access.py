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


def crop_jpeg(path: Path, box: object, out_width: int = 320) -> bytes | None:
    """The part of the snapshot around ``box`` ([x1, y1, x2, y2] in frame pixels, e.g. a
    plate's box), widened to a 16:9 picture with room around it and scaled to ``out_width``;
    None when the file is unreadable or the box is not four numbers inside the frame (the
    caller then shows the whole frame's thumbnail)."""
    if not (isinstance(box, list | tuple) and len(box) == 4):
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in box):
        return None
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        return None
    height, width = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    if not (0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height):
        return None
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    crop_w = min(width, max(3 * (x2 - x1), 160.0))
    crop_h = min(height, crop_w * 9 / 16)
    left = int(min(max(cx - crop_w / 2, 0), width - crop_w))
    top = int(min(max(cy - crop_h / 2, 0), height - crop_h))
    part = image[top : top + int(crop_h), left : left + int(crop_w)]
    scale = out_width / part.shape[1]
    part = cv2.resize(
        part, (out_width, max(1, round(part.shape[0] * scale))), interpolation=cv2.INTER_AREA
    )
    ok, encoded = cv2.imencode(".jpg", part, [cv2.IMWRITE_JPEG_QUALITY, THUMB_QUALITY])
    return encoded.tobytes() if ok else None
