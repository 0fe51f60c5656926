"""Snapshot JPEGs on disk, one per event, under a dated folder.

Written before the event row so the row never points at a file that was not finished:
the JPEG goes to a temporary name, is fsynced, then renamed into place (atomic on the
same file system). A snapshot that cannot be written (disk full, read-only card) must
never stop the event itself from being recorded, so failures come back as values.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np

from edge.files import fsync_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SnapshotResult:
    relative_path: str | None
    error: str | None = None


class SnapshotStore:
    def __init__(self, root: Path, zone: ZoneInfo, quality: int = 85, max_width: int = 1280):
        self.root = root
        self.zone = zone
        self.quality = quality
        self.max_width = max_width

    def save(self, event_id: str, image: np.ndarray, at: datetime) -> SnapshotResult:
        """Write ``image`` as ``YYYY/MM/DD/<event_id>.jpg`` (local date); never raises."""
        relative = Path(at.astimezone(self.zone).strftime("%Y/%m/%d")) / f"{event_id}.jpg"
        target = self.root / relative
        try:
            if image is None or image.size == 0:
                return SnapshotResult(None, "no frame to save")
            if image.shape[1] > self.max_width:
                scale = self.max_width / image.shape[1]
                image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
            if not ok:
                return SnapshotResult(None, "JPEG encoding failed")
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_suffix(".jpg.part")
            with open(temporary, "wb") as handle:
                handle.write(encoded.tobytes())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
            fsync_dir(target.parent)  # the rename itself survives a power cut
        except (OSError, cv2.error) as exc:
            log.warning("snapshot for event %s not saved: %s", event_id, exc)
            return SnapshotResult(None, f"snapshot not saved: {exc.__class__.__name__}: {exc}")
        return SnapshotResult(relative.as_posix())

    def path_of(self, relative_path: str) -> Path:
        return self.root / relative_path
