"""Config: the shipped example is valid; bad files are refused with key and reason."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from edge.config import ConfigError, load_config, parse_config
from edge.errors import UserError

EXAMPLE = resources.files("edge").joinpath("menwei.example.toml").read_text(encoding="utf-8")

MINIMAL = """
[[gates]]
id = "north"
name = "North"
kind = "vehicle"
[gates.camera]
source = "frames"
[gates.barrier]
open_pin = 17
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "menwei.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return info.value.problems


def test_example_config_is_valid(tmp_path):
    config = load_config(write(tmp_path, EXAMPLE))
    gate = config.gate("north-vehicle")
    assert gate.kind == "vehicle" and gate.barrier.open_pin == 17
    assert config.site.zone.key == "Asia/Shanghai"


def test_relative_paths_are_relative_to_the_config_file(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    assert config.storage.data_dir == Path("/var/lib/menwei")
    assert Path(config.gates[0].camera.source) == tmp_path.resolve() / "frames"
    config = load_config(write(tmp_path, '[storage]\ndata_dir = "data"\n' + MINIMAL))
    assert config.storage.database_path == tmp_path.resolve() / "data" / "menwei.db"


def test_stream_sources_are_left_alone(tmp_path):
    text = MINIMAL.replace('"frames"', '"rtsp://cam/1"')
    assert load_config(write(tmp_path, text)).gates[0].camera.source == "rtsp://cam/1"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("pulse_s", "[gates.barrier]\nopen_pin = 17\npuls_s = 1"),
            "gates[0].barrier.puls_s: unknown key",
        ),
        (("kind", 'kind = "boat"'), "gates[0].kind"),
        (("pin", "[gates.barrier]\nopen_pin = 99"), "gates[0].barrier.open_pin"),
        (("pulse", "[gates.barrier]\nopen_pin = 17\npulse_s = -1"), "gates[0].barrier.pulse_s"),
        (("id", 'id = "North Gate!"'), "gates[0].id"),
    ],
)
def test_bad_values_are_reported_with_their_key(tmp_path, change, expected):
    _, replacement = change
    text = MINIMAL
    if replacement.startswith("[gates.barrier]"):
        text = text.replace("[gates.barrier]\nopen_pin = 17", replacement)
    elif replacement.startswith("kind"):
        text = text.replace('kind = "vehicle"', replacement)
    else:
        text = text.replace('id = "north"', replacement)
    found = problems(tmp_path, text)
    assert any(expected in p for p in found), found


def test_unknown_pin_factory(tmp_path):
    found = problems(tmp_path, '[hardware]\npin_factory = "gpio-magic"\n' + MINIMAL)
    assert any(p.startswith("hardware.pin_factory") and "lgpio" in p for p in found)


def test_bad_time_zone(tmp_path):
    found = problems(tmp_path, '[site]\ntimezone = "Mars/Olympus"\n' + MINIMAL)
    assert any(p.startswith("site.timezone") and "Mars/Olympus" in p for p in found)


def test_vehicle_gate_without_barrier(tmp_path):
    found = problems(tmp_path, MINIMAL.replace("[gates.barrier]\nopen_pin = 17\n", ""))
    assert any("needs a [gates.barrier]" in p for p in found)


def test_duplicate_gate_ids_and_pins(tmp_path):
    assert any("used twice" in p for p in problems(tmp_path, MINIMAL + MINIMAL))
    second = MINIMAL.replace('id = "north"', 'id = "south"')
    assert any("GPIO 17" in p for p in problems(tmp_path, MINIMAL + second))


def test_not_toml_not_utf8_missing(tmp_path):
    assert "not valid TOML" in problems(tmp_path, "[[gates]\n")[0]
    path = tmp_path / "bin.toml"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_unknown_gate_lookup_names_the_known_ones(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    with pytest.raises(UserError, match="known: north"):
        config.gate("south")


# -- pedestrian gates ---------------------------------------------------------------------------
PEDESTRIAN = """
[[gates]]
id = "east"
name = "East door"
kind = "pedestrian"
[gates.camera]
source = "door-frames"
[gates.lock]
relay_pin = 23
"""


def test_pedestrian_gate_defaults_and_face_settings(tmp_path):
    config = load_config(write(tmp_path, MINIMAL + PEDESTRIAN))
    gate = config.gate("east")
    assert gate.lock.relay_pin == 23 and gate.lock.fail_mode == "fail_safe"
    assert gate.access == {"residents": "always", "visitors": "always"}
    assert gate.door is None and gate.keypad is None
    faces = config.recognition.faces
    assert (faces.match_threshold, faces.margin, faces.frames_to_agree) == (0.55, 0.05, 3)


def test_pedestrian_gate_full_section(tmp_path):
    text = (
        '[recognition.faces]\nmatch_threshold = 0.6\nrecogniser_model = "models/sface.onnx"\n'
        '[access]\nholidays = [2026-10-01]\n[access.schedules.daytime]\ndays = ["mon", "tue"]\n'
        'start = 07:00:00\nend = 19:00:00\nholidays = "closed"\n'
        + PEDESTRIAN
        + 'fail_mode = "fail_secure"\nrelease_s = 3\n'
        "[gates.door]\nheld_open_s = 20\n[gates.door.contact]\npin = 24\n"
        "[gates.door.exit_button]\npin = 25\n[gates.door.fire_alarm]\npin = 26\n"
        '[gates.keypad]\nsource = "keypad.fifo"\n'
        '[gates.access]\nresidents = "always"\ncleaners = "daytime"\n'
    )
    config = load_config(write(tmp_path, text))
    gate = config.gate("east")
    assert gate.pins() == [23, 24, 25, 26]
    assert gate.keypad.source == tmp_path.resolve() / "keypad.fifo"
    assert config.recognition.faces.recogniser_model == tmp_path.resolve() / "models/sface.onnx"
    assert config.recognition.faces.match_threshold == 0.6
    daytime = config.access.schedules["daytime"]
    assert daytime.days == ("mon", "tue") and daytime.holidays == "closed"
    assert str(config.access.holidays[0]) == "2026-10-01"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (PEDESTRIAN.replace("[gates.lock]\nrelay_pin = 23\n", ""), "needs a [gates.lock]"),
        (PEDESTRIAN + "[gates.barrier]\nopen_pin = 5\n", "[gates.barrier] is for vehicle"),
        (MINIMAL + "[gates.lock]\nrelay_pin = 5\n", "[gates.lock] is for pedestrian"),
        (PEDESTRIAN + "[gates.door.contact]\npin = 17\n", "GPIO 17 is used by gates"),
        (PEDESTRIAN + "[gates.door.contact]\npin = 23\n", "uses GPIO 23 for two things"),
        (PEDESTRIAN + 'fail_mode = "fail_open"\n', "gates[1].lock.fail_mode"),
        (PEDESTRIAN + "relai_pin = 3\n", "gates[1].lock.relai_pin: unknown key"),
        (PEDESTRIAN + '[gates.access]\nresidents = "nights"\n', "schedule 'nights'"),
        (
            "[recognition.faces]\nmatch_threshold = 0.3\n" + PEDESTRIAN,
            "recognition.faces: Value error, match_threshold below",
        ),
        (
            "[access.schedules.late]\nstart = 22:00:00\nend = 06:00:00\n" + PEDESTRIAN,
            "start must be before end",
        ),
        (
            '[access.schedules.w]\ndays = ["monday"]\n' + PEDESTRIAN,
            "access.schedules.w.days",
        ),
    ],
)
def test_bad_pedestrian_config_is_refused_with_its_key(tmp_path, text, expected):
    found = problems(tmp_path, MINIMAL + text if not text.startswith(MINIMAL) else text)
    assert any(expected in p for p in found), found


def test_example_config_pedestrian_section_is_valid_when_uncommented(tmp_path):
    """The commented pedestrian example in menwei.example.toml must load once uncommented."""
    lines = EXAMPLE.splitlines()
    start = next(i for i, line in enumerate(lines) if "PEDESTRIAN GATE EXAMPLE" in line)
    block = [line[2:] if line.startswith("# ") else line for line in lines[start + 1 :]]
    block = [line for line in block if not line.startswith("#")]
    config = load_config(write(tmp_path, EXAMPLE + "\n" + "\n".join(block)))
    gate = next(g for g in config.gates if g.kind == "pedestrian")
    assert gate.lock is not None and gate.door is not None


@pytest.mark.parametrize(
    ("source", "why"),
    [("usb:front", "device number"), ("ftp://cam/1", "only rtsp, http and https")],
)
def test_malformed_camera_source_is_refused_at_load(tmp_path, source, why):
    found = problems(tmp_path, MINIMAL.replace('source = "frames"', f'source = "{source}"'))
    assert any(p.startswith("gates[0].camera.source") and why in p for p in found), found


def test_a_door_without_faces_judges_no_liveness_and_only_doors_go_without():
    """``faces = false``: a PIN and QR pass door loads no face models, so it cannot judge
    liveness either (said, not ignored); a vehicle gate has no faces to switch off."""
    door = {"id": "east", "name": "East", "kind": "pedestrian", "camera": {"source": "frames"},
            "lock": {"relay_pin": 17}, "faces": False}  # fmt: skip
    with pytest.raises(ConfigError, match='mode = "off"'):
        parse_config({"gates": [door]})
    config = parse_config({"gates": [{**door, "liveness": {"mode": "off"}}]})
    assert config.gate("east").faces is False
    vehicle = {"id": "north", "name": "North", "kind": "vehicle", "camera": {"source": "frames"},
               "barrier": {"open_pin": 5}, "faces": False}  # fmt: skip
    with pytest.raises(ConfigError, match="faces = false is for pedestrian gates"):
        parse_config({"gates": [vehicle]})


SYNC = '[sync]\ndevice_id = "b1"\nsecret_file = "s"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the servers the box calls: one rule for the district platform and the hub
        (SYNC + 'platform_url = "http://203.0.113.5/"\n', "sync.platform_url"),
        (SYNC + 'platform_url = "https://u:p@district.example/"\n', "credentials"),
        (
            '[community]\nrole = "gate"\nbox_id = "b1"\nhub_url = "http://203.0.113.5:8442"\n',
            "community.hub_url",
        ),
        ('[community]\nrole = "gate"\nbox_id = "b1"\nhub_url = "https://h/?x=1"\n', "query"),
        # the servers the box runs: host:port in ASCII digits, certificate with its key
        ('[community]\nlisten = "0.0.0.0:８４４２"\n', "community.listen"),
        (SYNC + 'platform_url = "https://d"\n[sync.gat1400]\nlisten = "x:８０"\n', "listen"),
        ('[community]\nrole = "hub"\ntls_certificate = "c.pem"\n', "tls_key"),
        ('[web]\ntls_certificate = "/etc/c.pem"\n', "tls_key"),
    ],
)
def test_tls_links_and_listeners_are_checked_alike(tmp_path, text, expected):
    found = problems(tmp_path, MINIMAL + text)
    assert any(expected in p for p in found), found


def test_peer_urls_lose_their_trailing_slash_and_tls_files_resolve(tmp_path):
    text = (
        MINIMAL
        + SYNC
        + 'platform_url = "https://district.example/"\nca_file = "ca.pem"\n'
        + '[community]\nrole = "gate"\nbox_id = "b1"\nhub_url = "https://hub:8442/"\n'
        + 'ca_file = "hub-ca.pem"\n'
    )
    config = load_config(write(tmp_path, text))
    assert config.sync is not None and config.sync.platform_url == "https://district.example"
    assert config.community.hub_url == "https://hub:8442"
    assert config.sync.ca_file == tmp_path / "ca.pem"
    assert config.community.ca_file == tmp_path / "hub-ca.pem"


@pytest.mark.parametrize(
    "content", [b"", b"\n  \n", b"\x00" * 4096], ids=["empty", "blank", "zeroed"]
)
def test_an_empty_or_zeroed_file_is_refused_as_cut_short(tmp_path, content):
    """Before: an empty file read as a valid config with no gates, so `menwei gate east`
    said "no gate 'east' (known: none)" on a box whose config a power cut had emptied."""
    path = tmp_path / "menwei.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match="empty or zeroed") as refused:
        load_config(path)
    assert "restore it from a backup" in str(refused.value)


def test_asking_for_a_gate_of_a_config_without_gates_says_it_has_none():
    with pytest.raises(UserError, match="has no gates at all"):
        parse_config({}, "menwei.toml").gate("east")
