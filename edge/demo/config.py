"""The config file ``menwei demo`` writes and then loads like any box's: one vehicle gate and
one pedestrian gate, all on gpiozero's mock pins, cameras replaying folders of frames.

Kept in its own module so the vehicle part (edge.demo.run) and the pedestrian part
(edge.demo.pedestrian) read the same pin numbers and timings from one place, and because a
demo that builds its gates from a real config file proves the config path works too.
"""

from __future__ import annotations

from pathlib import Path

from edge.config import MenweiConfig, load_config

FPS = 5.0
VEHICLE_GATE = "demo-vehicle"
OPEN_PIN = 17
DOOR_GATE = "demo-door"
LOCK_PIN, CONTACT_PIN, EXIT_PIN, FIRE_PIN = 23, 24, 25, 16
RELEASE_S = 1.5  # a grant unlocks the door this long (a real door: ~5 s)
HELD_OPEN_S = 2.0  # door open longer than this is an alarm (a real door: ~30 s)

DEMO_CONFIG = """\
# Written by `menwei demo`: a vehicle gate and a pedestrian gate on mock pins over
# replayed frames.
[site]
name = "示范小区 (demo)"

[storage]
data_dir = "."

[hardware]
pin_factory = "mock"

[security]
# Demo only: a box keeps this key outside data_dir and its backups (`menwei install`).
pii_key_file = "pii.key"

[web]
# `menwei demo --serve`: the console on this machine only, over plain HTTP (a box serves
# HTTPS with the certificate `menwei install` makes; secure cookies need it).
host = "127.0.0.1"
port = 8080
secure_cookies = false

[registry]
# The door stickers point here; `menwei demo --serve` listens on this address.
base_url = "http://127.0.0.1:8080"
# Demo only: one-time codes for tenants' move-out/extension requests are written to the
# log instead of sent by SMS (never the phone number).
sms_gateway = "demo-log"

[recognition.faces]
# Demo: the same person again after this long is a new passage (a real door: 10 s), so the
# photo of the resident shown on a phone moments after they came in is judged again.
dedupe_s = 1.0
# A person is in view for 7 frames; 4 agreeing frames make one decision, and 7 frames can
# never make two, however slowly a loaded machine walks through them (1 s of quiet time is
# shorter than 7 frames take at load 20).
frames_to_agree = 4
# ... within this long (a real door: 2 s). A loaded machine takes far longer than the
# camera's frame time to judge each frame (the replay waits for it), so 4 frames of one
# walk-up can span several seconds; the empty doorway frames between people end a run.
agree_window_s = 20.0

[[gates]]
id = "{vehicle}"
name = "北门车行道 (demo)"
kind = "vehicle"

[gates.camera]
source = "frames"
replay_fps = {fps}
replay_every_frame = true
read_timeout_s = 30

[gates.barrier]
open_pin = {open_pin}
pulse_s = 0.5
active_high = true

[[gates]]
id = "{door}"
name = "北门人行道 (demo)"
kind = "pedestrian"

[gates.camera]
source = "door-frames"
replay_fps = {fps}
replay_every_frame = true
read_timeout_s = 30

[gates.lock]
relay_pin = {lock_pin}
active_high = true
release_s = {release_s}
fail_mode = "fail_safe"

[gates.door]
held_open_s = {held_open_s}

[gates.door.contact]
pin = {contact_pin}
debounce_s = 0.02

[gates.door.exit_button]
pin = {exit_pin}
debounce_s = 0.02

[gates.door.fire_alarm]
pin = {fire_pin}
debounce_s = 0.02
# A fire panel's supervised output is wired normally_closed = true (a cut wire then reads
# as an alarm); normally open here, so the demo does not start in alarm.
normally_closed = false

[gates.keypad]
source = "keypad.fifo"

[gates.liveness]
# A face that identifies a resident but is not judged a live person (a photo on a phone,
# a print) never opens; the door then takes that resident's PIN on the keypad.
mode = "required_or_pin"
"""


def demo_config(data_dir: Path, fps: float = FPS) -> MenweiConfig:
    """Write the demo's config file into ``data_dir`` and load it like any other."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "menwei.toml"
    text = DEMO_CONFIG.format(
        vehicle=VEHICLE_GATE,
        door=DOOR_GATE,
        fps=fps,
        open_pin=OPEN_PIN,
        lock_pin=LOCK_PIN,
        contact_pin=CONTACT_PIN,
        exit_pin=EXIT_PIN,
        fire_pin=FIRE_PIN,
        release_s=RELEASE_S,
        held_open_s=HELD_OPEN_S,
    )
    path.write_text(text, encoding="utf-8")
    return load_config(path)
