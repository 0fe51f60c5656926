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
from edge.errors import Phrase
from gate_drivers.frame_sources import SourceError, open_source
from gate_drivers.pins import make_pin_factory
from gate_drivers.source_spec import parse_source
from qr_registry.stickers import font_problem


@dataclass(frozen=True)
class Check:
    subject: str  # "camera of north", "pin factory", ... (a Phrase: it reads in zh too)
    ok: bool
    detail: str  # what was found (ok) or what is wrong; a Phrase, or a library's own text


def check_camera(gate: GateConfig, tries: int = 10) -> Check:
    """Open a file or folder source and read one picture; a USB camera's device must exist."""
    subject = Phrase("camera of %(gate)s", gate=gate.id)
    spec = parse_source(gate.camera.source)
    if spec.kind == "stream":
        return Check(
            subject,
            True,
            Phrase("%(source)s: a network stream, not contacted here", source=spec.label),
        )
    if spec.kind == "usb":
        device = Path(f"/dev/video{spec.target}")
        found = device.exists()
        return Check(subject, found, _exists(device, found))
    try:
        source = open_source(spec, gate.camera.read_timeout_s, gate.camera.replay_fps)
    except SourceError as exc:
        return Check(subject, False, str(exc))
    try:
        for _ in range(tries):
            frame = source.read()
            if frame is not None:
                height, width = frame.shape[:2]
                return Check(subject, True, Phrase(
                    "%(source)s: a %(width)sx%(height)s picture read",
                    source=spec.label, width=width, height=height,
                ))  # fmt: skip
    except SourceError as exc:
        return Check(subject, False, str(exc))
    except Exception as exc:  # a replay's end or a decoder error: the source is unusable
        return Check(
            subject,
            False,
            Phrase(
                "%(source)s: no picture (%(error)s)", source=spec.label, error=type(exc).__name__
            ),
        )
    finally:
        source.release()
    return Check(
        subject,
        False,
        Phrase(
            "%(source)s: no readable picture in %(tries)s tries", source=spec.label, tries=tries
        ),
    )


def _file(subject: str, path: Path | None, required: bool = True) -> Check | None:
    if path is None:
        return None
    if path.is_file() and os.access(path, os.R_OK):
        return Check(subject, True, Phrase("%(path)s readable", path=path))
    if not required and not path.exists():
        return Check(
            subject, True, Phrase("%(path)s does not exist yet (made on first use)", path=path)
        )
    return Check(subject, False, Phrase("%(path)s is missing or not readable", path=path))


def _creatable(subject: str, folder: Path) -> Check:
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
        if existing == folder:
            return Check(subject, True, Phrase("%(path)s exists", path=folder))
        return Check(
            subject, True, Phrase("%(path)s can be made under %(parent)s", path=folder,
                                  parent=existing)
        )  # fmt: skip
    return Check(
        subject, False, Phrase("%(path)s cannot be made: %(parent)s is not writable",
                               path=folder, parent=existing)
    )  # fmt: skip


def _exists(path: Path, found: bool) -> Phrase:
    return Phrase("%(path)s exists" if found else "%(path)s does not exist", path=path)


def check_config(config: MenweiConfig, gate_ids: tuple[str, ...] | None = None) -> list[Check]:
    """Every check for the gates named (all when None); writes nothing."""
    gates = [g for g in config.gates if gate_ids is None or g.id in gate_ids]
    checks: list[Check] = [check_camera(gate) for gate in gates]
    for gate in gates:
        if gate.keypad is not None:
            found = gate.keypad.source.exists()
            checks.append(
                Check(Phrase("keypad of %(gate)s", gate=gate.id), found,
                      _exists(gate.keypad.source, found))
            )  # fmt: skip
    if any(g.barrier is not None or g.lock is not None for g in gates):
        try:
            factory = make_pin_factory(config.hardware.pin_factory)
            checks.append(Check(Phrase("pin factory"), True, type(factory).__name__))
            factory.close()
        except ValueError as exc:
            checks.append(Check(Phrase("pin factory"), False, str(exc)))
    checks.append(_creatable(Phrase("data folder"), config.storage.data_dir))
    pii = _file(Phrase("personal-data key"), config.security.pii_key_file, required=False)
    faces = config.recognition.faces
    models = [_file(Phrase("face detector model"), faces.detector_model),
              _file(Phrase("face recogniser model"), faces.recogniser_model)]  # fmt: skip
    checks += [c for c in (pii, *models) if c is not None]
    font = font_problem()
    installed = Phrase("installed (QR stickers print)")
    checks.append(Check(Phrase("sticker font"), font is None, font or installed))
    return checks
