"""District watchlist faces over the downlink: validated whole, stored encrypted, swapped in
atomically; a real template survives the trip and matches another photo of the person."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import numpy as np
import pytest
from helpers import FACES, SECRET

from edge.config import parse_config
from edge.db import connect
from edge.faces.images import read_image_file
from edge.faces.recogniser import FaceRecogniser
from edge.people.watch_faces import PURPOSE, list_watch_faces, load_watch_index
from edge.pii import PiiVault, create_key_file
from sync.downlink import pull_list
from sync.downlink_faces import face_list_handlers, handlers_for
from sync.json_protocol import JsonProtocol
from sync.transport import Transport

MODEL = "ab" * 32
NOW = datetime.now(UTC)


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=128).astype("<f4")
    return vector / np.linalg.norm(vector)


def item(seed: int, **overrides: object) -> dict:
    template = base64.b64encode(unit(seed).astype("<f4").tobytes()).decode()
    return {"label": f"case {seed}", "reason": "wanted", "template": template,
            "model_sha256": MODEL, "expires_at": None, **overrides}  # fmt: skip


@pytest.fixture
def setup(tmp_path, reference_platform):
    create_key_file(tmp_path / "pii.key")
    vault = PiiVault.from_key_file(tmp_path / "pii.key")
    platform = reference_platform()
    db = connect(tmp_path / "box.db")
    proto = JsonProtocol(Transport(platform.url, 1, 1), "b", "hmac", SECRET)
    yield platform, db, proto, vault


def district(db) -> list[str]:
    return sorted(r["label"] for r in list_watch_faces(db) if r["source"] == "district")


def test_faces_list_applied_encrypted_then_unchanged_and_local_rows_kept(setup):
    platform, db, proto, vault = setup
    handlers = face_list_handlers(vault, MODEL)
    db.execute(
        "INSERT INTO watch_faces (label, reason, source, template, model_sha256, added_by,"
        " created_at) VALUES ('local case', '', 'local', ?, ?, 'user:1', 'x')",
        [vault.encrypt(unit(9).tobytes(), PURPOSE), MODEL],
    )
    platform.set_list("watch_faces", [item(1), item(2)], "v1")
    assert pull_list(db, proto, "watch_faces", handlers) == "applied 2 items"
    assert district(db) == ["case 1", "case 2"]
    stored = db.execute("SELECT template FROM watch_faces WHERE label = 'case 1'").fetchone()[0]
    assert unit(1).tobytes() not in stored  # encrypted at rest
    index = load_watch_index(db, vault, MODEL, NOW)
    assert len(index) == 3 and index.index.search(unit(2), 0.99, 0.0).identity is not None
    assert pull_list(db, proto, "watch_faces", handlers) == "unchanged"
    platform.set_list("watch_faces", [item(3)], "v2")
    assert pull_list(db, proto, "watch_faces", handlers) == "applied 1 items"
    assert district(db) == ["case 3"]
    assert [r["label"] for r in list_watch_faces(db) if r["source"] == "local"] == ["local case"]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"model_sha256": "cd" * 32}, "templates of different models cannot be compared"),
        ({"model_sha256": None}, "made by model"),
        ({"template": "not base64!"}, "not valid base64"),
        ({"template": base64.b64encode(b"\0" * 100).decode()}, "has 100 bytes, expected 512"),
        ({"template": base64.b64encode((unit(1) * 3).tobytes()).decode()}, "not a unit-length"),
        ({"template": base64.b64encode(np.full(128, np.nan, "<f4").tobytes()).decode()},
         "not a unit-length"),
        ({"template": 12}, "must be base64 text"),
        ({"label": ""}, "label must be text"),
        ({"label": "x" * 61}, "label must be text"),
        ({"expires_at": "tomorrow"}, "not an ISO time"),
    ],
)  # fmt: skip
def test_one_bad_face_rejects_the_list_and_changes_nothing(setup, bad, message):
    platform, db, proto, vault = setup
    handlers = face_list_handlers(vault, MODEL)
    platform.set_list("watch_faces", [item(1)], "v1")
    assert pull_list(db, proto, "watch_faces", handlers) == "applied 1 items"
    platform.set_list("watch_faces", [item(2), item(3, **bad)], "v2")
    outcome = pull_list(db, proto, "watch_faces", handlers)
    assert outcome.startswith("rejected: item 1:") and message in outcome, outcome
    assert district(db) == ["case 1"]  # the last good list stays in force
    etag = db.execute("SELECT value FROM sync_state WHERE name = 'downlink.watch_faces.etag'")
    assert etag.fetchone()[0] == '"v1"'


def test_a_box_without_its_pii_key_does_not_pull_faces(tmp_path):
    config = parse_config({"security": {"pii_key_file": str(tmp_path / "absent.key")},
                           "storage": {"data_dir": str(tmp_path / "data")}})  # fmt: skip
    handlers, why_not = handlers_for(config)
    assert handlers == {} and "absent.key" in (why_not or "")
    create_key_file(tmp_path / "absent.key")
    handlers, why_not = handlers_for(config)
    assert set(handlers) == {"watch_faces"} and why_not is None


def test_a_real_template_from_the_district_matches_another_photo_of_the_person(setup, face_labels):
    platform, db, proto, vault = setup
    labels = face_labels
    obama = sorted(f for f, who in labels.items() if who == "obama" and "partial" not in f)
    recogniser = FaceRecogniser()
    enrolled = recogniser.enrolment_template(read_image_file(FACES / obama[0]))
    template = base64.b64encode(enrolled.vector.astype("<f4").tobytes()).decode()
    sent = {"label": "wanted 2026-118", "reason": "district", "template": template,
            "model_sha256": recogniser.model_sha256, "expires_at": None}  # fmt: skip
    platform.set_list("watch_faces", [sent], "v1")
    handlers = face_list_handlers(vault, recogniser.model_sha256)
    assert pull_list(db, proto, "watch_faces", handlers) == "applied 1 items"
    index = load_watch_index(db, vault, recogniser.model_sha256, NOW)
    probe = recogniser.probe(read_image_file(FACES / obama[1]))
    assert probe is not None
    found = index.index.search(probe.vector, 0.55, 0.0)
    assert found.identity is not None and index.entries[found.identity].label == "wanted 2026-118"
