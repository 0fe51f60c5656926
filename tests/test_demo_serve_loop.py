"""``menwei demo --serve``: every role can be tried (a resident account when the demo has a
resident, a tenant's registration waiting for the landlord), and the replayed cars really
come round again: each loop of the frames ends with an empty lane longer than the dedupe
window, so the same car makes a new passage (a new event) every round.

Real gate loop (plate reader, voter, policy, event store) on mock pins over rendered frames.
"""

from __future__ import annotations

import threading
import time

from gpiozero.pins.mock import MockFactory

from edge.db import transaction, utc_now
from edge.demo.config import DOOR_GATE, VEHICLE_GATE, demo_config
from edge.demo.console import (
    PAUSE_MARGIN_S,
    demo_accounts,
    demo_registration,
    demo_room,
    serving_config,
)
from edge.demo.run import DemoCar, render_frames
from edge.events.record import recent_events
from edge.gates.assembly import vehicle_gate
from edge.people.residents import insert_resident
from edge.pii import PiiVault
from edge.store.open import open_store


def test_every_role_has_an_account_and_the_landlord_a_waiting_registration(tmp_path):
    config = demo_config(tmp_path)
    db = open_store(config)
    vault = PiiVault.from_key_file(config.security.pii_key_file, create=True)
    with transaction(db) as conn:
        resident = insert_resident(conn, vault, "演示住户 甲", "3-1-402", "residents", utc_now())
    passwords = demo_accounts(db)
    assert set(passwords) == {"guard", "admin", "police", "grid", "landlord", "resident"}
    linked = db.execute(
        "SELECT resident_id FROM resident_accounts a JOIN users u ON u.id = a.user_id"
        " WHERE u.username = 'resident'"
    ).fetchone()
    assert linked is not None and linked[0] == resident
    demo_room(db)
    assert demo_registration(db, vault, config) is True
    assert demo_registration(db, vault, config) is False  # made once, kept across starts
    rows = db.execute("SELECT status, person_enc FROM registrations").fetchall()
    assert [r[0] for r in rows] == ["pending"] and rows[0][1] is not None  # sealed, not plain
    assert "演示租客".encode() not in config.storage.database_path.read_bytes()


def test_looped_frames_end_in_a_pause_longer_than_each_dedupe_window(tmp_path):
    config = demo_config(tmp_path)
    for folder in ("frames", "door-frames"):
        (tmp_path / folder).mkdir()
    render_frames(tmp_path / "frames", (DemoCar("皖A12345", "resident", "blue"),))
    (tmp_path / "door-frames" / "00000.jpg").write_bytes(
        (tmp_path / "frames" / "00000.jpg").read_bytes()
    )
    served = serving_config(config)
    by_id = {g.id: g for g in served.gates}
    plates, faces = config.recognition.plates, config.recognition.faces
    for gate, window in ((VEHICLE_GATE, plates.dedupe_window_s + plates.vote_window_s),
                         (DOOR_GATE, faces.dedupe_s + faces.agree_window_s)):  # fmt: skip
        folder = tmp_path / f"{'frames' if gate == VEHICLE_GATE else 'door-frames'}-loop"
        assert by_id[gate].camera.source == str(folder)
        pause = len(list(folder.glob("zz-pause-*.jpg"))) / by_id[gate].camera.replay_fps
        assert pause > window + PAUSE_MARGIN_S - 0.5
        names = sorted(p.name for p in folder.glob("*.jpg"))
        assert names[0] == "00000.jpg" and names[-1].startswith("zz-pause-")
    assert serving_config(config).gates[0].camera.source == by_id[VEHICLE_GATE].camera.source


def test_a_replayed_car_comes_round_again_as_a_new_passage(tmp_path):
    """With a 3 s dedupe window (so the test takes seconds, not minutes), the one car of the
    procession is a new passage on each round of the served loop."""
    config = demo_config(tmp_path)
    plates = config.recognition.plates.model_copy(update={"dedupe_window_s": 3.0})
    recognition = config.recognition.model_copy(update={"plates": plates})
    config = config.model_copy(update={"recognition": recognition})
    (tmp_path / "door-frames").mkdir()
    render_frames(tmp_path / "frames", (DemoCar("皖A12345", "resident", "blue"),))
    (tmp_path / "door-frames" / "00000.jpg").write_bytes(
        (tmp_path / "frames" / "00000.jpg").read_bytes()
    )
    served = serving_config(config)
    db = open_store(served)
    stop = threading.Event()
    with vehicle_gate(served, VEHICLE_GATE, stop, db=db, pin_factory=MockFactory()):
        deadline = time.monotonic() + 180
        passages: list[dict] = []
        while time.monotonic() < deadline:
            passages = [
                e for e in recent_events(db, 50, VEHICLE_GATE)
                if e["kind"] == "vehicle_passage" and e["plate"] == "皖A12345"
            ]  # fmt: skip
            if len(passages) >= 2:
                break
            time.sleep(0.2)
        stop.set()
    assert len(passages) >= 2, "the car did not come round again as a new passage"
    assert len({e["id"] for e in passages}) == len(passages)
