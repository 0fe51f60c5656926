"""Reading a stored snapshot back for the console, only from inside the snapshot folder.

The web app serves snapshots through an authenticated route, never as static files: each
view by police is audit-logged, and nobody without an account sees a car or a face. The
path comes from ``events.snapshot_path``, a database column, so it is treated as untrusted:
a row edited to ``../menwei.db``, an absolute path or a symlink pointing out of the folder
resolves outside the root and is refused.

Thumbnails for the live view are decoded at a quarter of the size by libjpeg itself (DCT
scaling), which costs a few milliseconds instead of a full decode and resize. Search rows
show a crop instead: the plate (vehicles) or the face (people) from the box the gate wrote
into the event's details, and nothing else of the picture.
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


CROP_WIDTH = 160  # a search row's thumbnail: a plate or a face, readable at 390 px
CROP_MARGIN = 0.35  # of the box's size on each side: the plate's surround, the whole head


def stored_box(details: dict, image_width: int) -> tuple[int, int, int, int] | None:
    """The plate or face box of an event's details ([x1, y1, x2, y2] in frame pixels) in the
    stored snapshot's pixels (the store shrinks wide frames), or None if there is none or it
    makes no sense. ``frame_w`` is the frame's width when the box was taken."""
    box = details.get("plate_box") or details.get("face_box")
    if not isinstance(box, list) or len(box) != 4:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in box):
        return None
    frame_w = details.get("frame_w")
    scale = 1.0
    if isinstance(frame_w, int) and not isinstance(frame_w, bool) and frame_w > 0:
        scale = image_width / frame_w
    x1, y1, x2, y2 = (float(v) * scale for v in box)
    if not (x2 > x1 and y2 > y1):
        return None
    return round(x1), round(y1), round(x2), round(y2)


def crop_jpeg(path: Path, details: dict, width: int = CROP_WIDTH) -> bytes | None:
    """The plate or face of the snapshot at ``path`` (the box in ``details`` with a margin),
    ``width`` pixels wide; None when the snapshot is unreadable or the event has no box
    inside the picture. Never the rest of the picture."""
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        return None
    height_px, width_px = image.shape[:2]
    box = stored_box(details, width_px)
    if box is None:
        return None
    x1, y1, x2, y2 = box
    mx, my = (x2 - x1) * CROP_MARGIN, (y2 - y1) * CROP_MARGIN
    left, top = max(0, int(x1 - mx)), max(0, int(y1 - my))
    right, bottom = min(width_px, int(x2 + mx)), min(height_px, int(y2 + my))
    if right - left < 4 or bottom - top < 4:
        return None  # the box lies outside the picture
    crop = image[top:bottom, left:right]
    scale = width / crop.shape[1]
    size = (width, max(1, round(crop.shape[0] * scale)))
    crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    ok, encoded = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, THUMB_QUALITY])
    return encoded.tobytes() if ok else None
