"""Downlink of the district's watchlist faces (``GET /api/v1/lists/watch_faces``).

The same rules as the plate lists (edge of sync.downlink): the whole list is validated
before anything is written, one bad row rejects it with a logged reason and the box keeps
its last good list, and a good list replaces every ``source='district'`` watch face in one
transaction with its ETag.

What is particular to faces:
- a template only compares with templates of the same model, so every item names the
  SHA-256 of the recogniser that made it and a list made by another model is refused as a
  whole (comparing across models would give meaningless scores, not fewer matches);
- each template is 128 little-endian float32 of unit length, base64-encoded (684 chars);
  anything else (wrong length, NaN, not normalised) is refused;
- templates are biometric data: stored only encrypted (purpose ``watch_face``), exactly
  like the faces police add in the console; no photo ever travels.
The pedestrian gates reload watch faces when the table changes (edge.gates.watch_alerts).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import numpy as np
import sqlite_utils

from edge.db import iso, transaction, utc_now
from edge.faces.embedder import EMBEDDING_DIM
from edge.faces.models import SHIPPED_RECOGNISER, FaceModelError, read_model
from edge.people.watch_faces import MAX_LABEL, MAX_REASON, PURPOSE
from edge.pii import PiiKeyError, PiiVault
from sync.downlink import ListInvalidError, item_text, item_time, list_items
from sync.state import set_state

NAME = "watch_faces"
MAX_FACES = 10_000
_TEMPLATE_BYTES = EMBEDDING_DIM * 4


@dataclass(frozen=True)
class WatchFaceItem:
    label: str
    reason: str
    vector: np.ndarray  # 128 float32, unit length
    expires_at: datetime | None


def _vector(row: dict, index: int) -> np.ndarray:
    text = row.get("template")
    if not isinstance(text, str) or len(text) > 2 * _TEMPLATE_BYTES:
        raise ListInvalidError(f"item {index}: template must be base64 text")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ListInvalidError(f"item {index}: template is not valid base64") from None
    if len(raw) != _TEMPLATE_BYTES:
        raise ListInvalidError(
            f"item {index}: template has {len(raw)} bytes, expected {_TEMPLATE_BYTES}"
        )
    vector = np.frombuffer(raw, "<f4").astype(np.float32)
    if not np.all(np.isfinite(vector)) or abs(float(np.linalg.norm(vector)) - 1.0) > 0.01:
        raise ListInvalidError(f"item {index}: template is not a unit-length vector")
    return vector


def parse_watch_faces(document: Any, model_sha256: str) -> list[WatchFaceItem]:
    """Every item checked, or ListInvalidError naming the first bad one (no personal data)."""
    items = list_items(document)
    if len(items) > MAX_FACES:
        raise ListInvalidError(f"list has {len(items)} faces, more than {MAX_FACES}")
    result = []
    for index, row in enumerate(items):
        model = row.get("model_sha256")
        if model != model_sha256:
            shown = model[:12] if isinstance(model, str) else repr(model)[:12]
            raise ListInvalidError(
                f"item {index}: template made by model {shown}…, this box's recogniser is "
                f"{model_sha256[:12]}…; templates of different models cannot be compared"
            )
        label = " ".join((item_text(row, "label", index, MAX_LABEL, required=True) or "").split())
        reason = " ".join((item_text(row, "reason", index, MAX_REASON) or "").split())
        result.append(
            WatchFaceItem(label, reason, _vector(row, index), item_time(row, "expires_at", index))
        )
    return result


def apply_watch_faces(
    db: sqlite_utils.Database, items: list[WatchFaceItem], etag: str | None, vault: PiiVault,
    model_sha256: str,
) -> None:  # fmt: skip
    now = iso(utc_now())
    rows = [
        (
            item.label,
            item.reason,
            vault.encrypt(item.vector.astype("<f4").tobytes(), PURPOSE),
            model_sha256,
            now,
            iso(item.expires_at) if item.expires_at else None,
        )
        for item in items
    ]  # encrypted before the transaction: the write lock is held only for the writes
    with transaction(db) as conn:
        conn.execute("DELETE FROM watch_faces WHERE source = 'district'")
        conn.executemany(
            "INSERT INTO watch_faces (label, reason, source, template, model_sha256, added_by,"
            " created_at, expires_at) VALUES (?, ?, 'district', ?, ?, 'district', ?, ?)",
            rows,
        )
        set_state(conn, f"downlink.{NAME}.etag", etag or "")
        set_state(conn, f"downlink.{NAME}.count", str(len(items)))


def face_list_handlers(vault: PiiVault, model_sha256: str) -> dict[str, tuple]:
    """The (parse, apply) pair for ``sync.downlink.pull_list``, bound to the box's key and
    recogniser model."""
    return {
        NAME: (
            partial(parse_watch_faces, model_sha256=model_sha256),
            partial(apply_watch_faces, vault=vault, model_sha256=model_sha256),
        )
    }


def handlers_for(config: Any) -> tuple[dict[str, tuple], str | None]:
    """The watch-face list handlers for a box's config, or ({}, why not).

    Needs the PII key (templates are stored encrypted; a sync process never creates a key)
    and the recogniser model's digest (without loading the model: only its file is read).
    """
    try:
        vault = PiiVault.from_key_file(config.security.pii_key_file, create=False)
        model, _bytes = read_model(config.recognition.faces.recogniser_model, SHIPPED_RECOGNISER)
    except (PiiKeyError, FaceModelError) as exc:
        return {}, str(exc)
    return face_list_handlers(vault, model.sha256), None
