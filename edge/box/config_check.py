"""What ``menwei check-config`` and ``menwei gate`` can check beyond the config's own rules,
before anything is created on disk: camera files and folders really open and give a
picture, USB cameras and keypads exist, the pin factory loads on this machine, the key and
model files are there and the data folder can be made.

Kept apart from the config models, which stay a leaf with no I/O. Nothing here writes
anything: a check that would have to (create the data folder) only looks at the nearest
existing parent. Network streams are not contacted (``menwei status`` shows them live).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from edge.config import GateConfig, MenweiConfig
from gate_drivers.frame_sources import SourceError, open_source
from gate_drivers.pins import make_pin_factory
from gate_drivers.source_spec import parse_source
from qr_registry.stickers import font_problem


@dataclass(frozen=True)
class Check:
    subject: str  # "camera of north", "pin factory", ...
    ok: bool
    detail: str  # what was found (ok) or what is wrong


def check_camera(gate: GateConfig, tries: int = 10) -> Check:
    """Open a file or folder source and read one picture; a USB camera's device must exist."""
    subject = f"camera of {gate.id}"
    spec = parse_source(gate.camera.source)
    if spec.kind == "stream":
        return Check(subject, True, f"{spec.label}: a network stream, not contacted here")
    if spec.kind == "usb":
        device = Path(f"/dev/video{spec.target}")
        found = device.exists()
        return Check(subject, found, f"{device} {'exists' if found else 'does not exist'}")
    try:
        source = open_source(spec, gate.camera.read_timeout_s, gate.camera.replay_fps)
    except SourceError as exc:
        return Check(subject, False, str(exc))
    try:
        for _ in range(tries):
            frame = source.read()
            if frame is not None:
                height, width = frame.shape[:2]
                return Check(subject, True, f"{spec.label}: a {width}x{height} picture read")
    except SourceError as exc:
        return Check(subject, False, str(exc))
    except Exception as exc:  # a replay's end or a decoder error: the source is unusable
        return Check(subject, False, f"{spec.label}: no picture ({type(exc).__name__})")
    finally:
        source.release()
    return Check(subject, False, f"{spec.label}: no readable picture in {tries} tries")


def _file(subject: str, path: Path | None, required: bool = True) -> Check | None:
    if path is None:
        return None
    if path.is_file() and os.access(path, os.R_OK):
        return Check(subject, True, f"{path} readable")
    if not required and not path.exists():
        return Check(subject, True, f"{path} does not exist yet (made on first use)")
    return Check(subject, False, f"{path} is missing or not readable")


def _creatable(subject: str, folder: Path) -> Check:
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
        how = "exists" if existing == folder else f"can be made under {existing}"
        return Check(subject, True, f"{folder} {how}")
    return Check(subject, False, f"{folder} cannot be made: {existing} is not writable")


def check_config(config: MenweiConfig, gate_ids: tuple[str, ...] | None = None) -> list[Check]:
    """Every check for the gates named (all when None); writes nothing."""
    gates = [g for g in config.gates if gate_ids is None or g.id in gate_ids]
    checks: list[Check] = [check_camera(gate) for gate in gates]
    for gate in gates:
        if gate.keypad is not None:
            found = gate.keypad.source.exists()
            checks.append(
                Check(f"keypad of {gate.id}", found,
                      f"{gate.keypad.source} {'exists' if found else 'does not exist'}")
            )  # fmt: skip
    if any(g.barrier is not None or g.lock is not None for g in gates):
        try:
            factory = make_pin_factory(config.hardware.pin_factory)
            checks.append(Check("pin factory", True, type(factory).__name__))
            factory.close()
        except ValueError as exc:
            checks.append(Check("pin factory", False, str(exc)))
    checks.append(_creatable("data folder", config.storage.data_dir))
    pii = _file("personal-data key", config.security.pii_key_file, required=False)
    faces = config.recognition.faces
    models = [_file("face detector model", faces.detector_model),
              _file("face recogniser model", faces.recogniser_model)]  # fmt: skip
    checks += [c for c in (pii, *models) if c is not None]
    font = font_problem()
    checks.append(Check("sticker font", font is None, font or "installed (QR stickers print)"))
    return checks
