"""Builders for the live-view and gate-event console tests: a config with a vehicle and a
pedestrian gate (a folder camera of generated frames), and events written the way the gate
writes them (edge.events.record_event, snapshots by edge.snapshots)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from edge.config import MenweiConfig, parse_config
from edge.events import NewEvent, StoredEvent, record_event
from edge.store.open import open_store, snapshot_store


def gate_config(tmp: Path) -> MenweiConfig:
    """Two gates: ``north`` (vehicle, barrier relay on GPIO 17) and ``east`` (pedestrian)."""
    frames = tmp / "frames"
    frames.mkdir(parents=True, exist_ok=True)
    try:
        from edge.plates.synth import render_empty_scene

        scene = render_empty_scene()
    except ImportError:  # the synth needs the CJK font; any generated frame will do here
        scene = np.full((720, 1280, 3), 90, np.uint8)
    cv2.imwrite(str(frames / "0.jpg"), scene)
    return parse_config(
        {
            "storage": {"data_dir": str(tmp / "data")},
            "security": {"pii_key_file": str(tmp / "keys" / "pii.key")},
            "web": {"secure_cookies": False},
            "registry": {"base_url": "http://127.0.0.1:8080"},
            "hardware": {"pin_factory": "mock"},
            "gates": [
                {
                    "id": "north",
                    "name": "北门车行",
                    "kind": "vehicle",
                    "camera": {"source": str(frames), "replay_fps": 5},
                    "barrier": {"open_pin": 17, "active_high": True, "pulse_s": 0.3},
                },
                {
                    "id": "east",
                    "name": "东门人行",
                    "kind": "pedestrian",
                    "camera": {"source": str(frames)},
                    "lock": {"relay_pin": 22},
                },
            ],
        }
    )


def picture(seed: int = 0) -> np.ndarray:
    """A generated 640x360 frame with some structure (so the JPEG is not trivial)."""
    rng = np.random.default_rng(seed)
    image = np.full((360, 640, 3), 40 + seed % 100, np.uint8)
    for _ in range(8):
        x, y = int(rng.integers(0, 600)), int(rng.integers(0, 320))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.rectangle(image, (x, y), (x + 40, y + 30), colour, -1)
    return image


class EventRecorder:
    """Writes events into the config's database exactly as a gate process would."""

    def __init__(self, config: MenweiConfig) -> None:
        self.config = config
        self.db = open_store(config)  # registers the configured gates
        self.snapshots = snapshot_store(config)

    def write(
        self,
        at: datetime,
        kind: str = "vehicle_passage",
        gate: str = "north",
        decision: str = "deny",
        plate: str | None = None,
        subject: str | None = None,
        reasons: tuple[dict[str, str], ...] = (),
        details: dict | None = None,
        confidence: float | None = None,
        snapshot: bool = False,
        linked: tuple[NewEvent, ...] = (),
    ) -> StoredEvent:
        event = NewEvent(
            gate,
            kind,  # type: ignore[arg-type]
            at,
            decision,  # type: ignore[arg-type]
            plate=plate,
            subject=subject,
            confidence=confidence,
            reasons=reasons or ({"code": kind, "message": f"{kind} at {gate}"},),
            details=details or {},
        )
        image = picture(len(plate or subject or kind)) if snapshot else None
        return record_event(self.db, event, image, self.snapshots, linked)

    def close(self) -> None:
        self.db.conn.close()


def nonce_for(html: str, action: str) -> str:
    """The form nonce of the form posting to ``action`` (pages have one form per gate)."""
    form = re.search(rf'<form[^>]*action="{re.escape(action)}"(.*?)</form>', html, re.S)
    assert form, f"no form posting to {action}"
    found = re.search(r'name="form_nonce" value="([^"]+)"', form.group(1))
    assert found, "form has no nonce"
    return found.group(1)


def audit_rows(db, action: str | None = None) -> list[dict]:  # type: ignore[no-untyped-def]
    import json

    sql = "SELECT actor, action, target, details FROM audit_log"
    args: list = []
    if action:
        sql += " WHERE action = ?"
        args.append(action)
    rows = db.execute(sql + " ORDER BY seq", args).fetchall()
    return [{"actor": a, "action": b, "target": t, "details": json.loads(d)} for a, b, t, d in rows]
