"""Face dispositions (布控 of a face photo) → a district watch face on this box.

The photo is turned into a template by the box's own recogniser with the checks every
enrolment gets (one clear face, big and sharp enough: edge.people.resident_faces), then stored
encrypted like any watch face (edge.people.watch_faces.add_watch_face). The photo itself is not
kept. A box without its PII key or face model cannot take face dispositions: the platform
is told so (StatusCode 4) instead of the box pretending to watch for the face.

The recogniser is built on the first face disposition, not at start (models are large and
most dispositions are plates), and held under a lock: the 1400 server has two threads.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from edge.db import utc_now
from edge.people.resident_faces import FaceEnrolmentError, upload_templates
from edge.people.watch_faces import add_watch_face
from edge.pii import PiiKeyError, PiiVault

AddFace = Callable[[sqlite3.Connection, bytes, str, datetime | None], int]


def face_adder(vault: PiiVault, build_recogniser: Callable[[], Any]) -> AddFace:
    """``add_face(conn, photo, label, expires_at)`` for sync.gat1400.store.apply_disposition;
    raises ValueError with the refusal when the photo cannot be enrolled."""
    lock = threading.Lock()
    held: list[Any] = []

    def add_face(
        conn: sqlite3.Connection, photo: bytes, label: str, expires_at: datetime | None
    ) -> int:
        with lock:
            if not held:
                held.append(build_recogniser())
            recogniser = held[0]
            try:
                [template] = upload_templates(recogniser, [("disposition", photo)])
            except FaceEnrolmentError as exc:
                reasons = "; ".join(r.message for r in exc.refused)
                raise ValueError(reasons or "no usable face") from None
            model = recogniser.model_sha256
        watch_id = add_watch_face(
            conn, vault, template, model, label, "GA/T 1400 disposition", "district",
            utc_now(), expires_at,
        )  # fmt: skip
        # the platform owns it: district rows are not removable in the console
        conn.execute("UPDATE watch_faces SET source = 'district' WHERE id = ?", (watch_id,))
        return watch_id

    return add_face


def face_adder_for(config: Any) -> tuple[AddFace | None, str | None]:
    """The adder for a box's config, or (None, why not): needs the PII key (never created
    here) and the configured face models (loaded on the first face disposition)."""
    try:
        vault = PiiVault.from_key_file(config.security.pii_key_file, create=False)
    except PiiKeyError as exc:
        return None, str(exc)

    def build() -> Any:
        # OpenCV and ONNX Runtime load only in a sync worker that receives a face disposition
        from edge.faces.configured import face_recogniser

        return face_recogniser(config.recognition.faces)

    return face_adder(vault, build), None
