"""The commented example config ``menwei init`` and ``menwei install`` write, rendered from
the models: every key of every section, with its ``description`` above it.

Why rendered rather than a hand-kept file: a key added to a model, or a description
changed, reaches the example (and ``edge/menwei.example.toml``, which a test keeps equal to
``render_example()``) without anyone remembering to copy it. ``SAMPLE`` holds only the
values that differ from the defaults; ``Commented`` marks a value or a whole section
written commented out (optional hardware, the district platform, a second gate kind).
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import Any, cast, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from edge.config.menwei import MenweiConfig

WIDTH = 92
HEADER = """\
# Menwei (门卫) appliance configuration.
# Written by `menwei init`. Check it with `menwei check-config -c THIS_FILE`.
# Every key is optional unless marked REQUIRED; unknown keys are refused (typos stop the box).
# A commented key shows an example value; a commented section is switched off.
"""
PEDESTRIAN_MARKER = (
    "# ---- PEDESTRIAN GATE EXAMPLE: uncomment for a door with a lock, contacts and a keypad ----"
)


@dataclass(frozen=True)
class Commented:
    """A sample value (or a whole section, as a dict) written commented out."""

    value: Any


SAMPLE: dict[str, Any] = {
    "site": {"name": "示范小区"},
    "hardware": {"pin_factory": "lgpio"},
    "security": {
        "audit_key_file": "/etc/menwei/audit.key",
        "audit_checkpoint_file": "/var/log/menwei/audit-checkpoints.jsonl",
    },
    "recognition": {
        "plates": {
            "detector_model": Commented("/opt/models/clp_det.onnx"),
            "recogniser_model": Commented("/opt/models/rec.onnx"),
        },
        "faces": {
            "detector_model": Commented("/opt/models/face_detection_yunet.onnx"),
            "recogniser_model": Commented("/opt/models/face_recognition_sface.onnx"),
        },
    },
    "access": {
        "holidays": Commented([date(2026, 10, 1), date(2026, 10, 2)]),
        "schedules": {
            "daytime": {"start": time(7, 0), "end": time(20, 0)},
        },
    },
    "web": {
        "tls_certificate": Commented("/etc/menwei/tls/cert.pem"),
        "tls_key": Commented("/etc/menwei/tls/key.pem"),
    },
    "registry": {},
    "sync": Commented(
        {
            "platform_url": "https://district.example/menwei",
            "device_id": "north-gate-box",
            "username": "north-gate-box",
            "secret_file": "/etc/menwei/sync.secret",
            "ca_file": "/etc/menwei/district-ca.pem",
            "gat1400": {
                "org_code": "340100000000",
                "listen": "0.0.0.0:8441",
                "public_url": "http://10.0.0.7:8441",
                "apes": [
                    {
                        "gate": "north-vehicle",
                        "ape_id": "34010000001190000011",
                        "tollgate_id": "34010000001210000001",
                        "direction": "3",
                    }
                ],
            },
        }
    ),
    "community": {
        "role": Commented("gate"),
        "tls_certificate": Commented("/etc/menwei/tls/cert.pem"),
        "tls_key": Commented("/etc/menwei/tls/key.pem"),
        "hub_url": Commented("https://10.0.0.2:8442"),
        "box_id": Commented("north-gate-box"),
        "ca_file": Commented("/etc/menwei/hub-cert.pem"),
    },
    "gates": [
        {
            "id": "north-vehicle",
            "name": "北门车行道",
            "kind": "vehicle",
            "roi": Commented([320, 300, 960, 420]),
            "camera": {"source": "rtsp://user:password@192.0.2.10:554/Streaming/Channels/102"},
            "barrier": {"open_pin": 17, "close_pin": Commented(27)},
            "loop": Commented({"pin": 22}),
        },
        Commented(
            {
                "id": "east-door",
                "name": "东门人行道",
                "kind": "pedestrian",
                "camera": {"source": "rtsp://user:password@192.0.2.11:554/Streaming/Channels/102"},
                "lock": {"relay_pin": 23},
                "door": {
                    "contact": {"pin": 24},
                    "exit_button": {"pin": 25},
                    "fire_alarm": {"pin": 26, "normally_closed": True},
                },
                "keypad": {"source": "/dev/ttyUSB0"},
                "liveness": {"mode": "required_or_pin"},
                "camera_ir": Commented(
                    {
                        "source": "usb:1",
                        "colour_to_ir": [
                            [0.96, 0.012, 18.0],
                            [-0.012, 0.96, -9.0],
                            [0.0, 0.0, 1.0],
                        ],
                    }
                ),
                "access": {"residents": "always", "visitors": "daytime"},
            }
        ),
    ],
}


def render_example(overrides: dict[str, Any] | None = None) -> str:
    """The example file's text; ``overrides`` (same shape as ``SAMPLE``) replace values, e.g.
    the installer's data folder and TLS files."""
    values = _merge(SAMPLE, overrides or {})
    out = _Writer()
    out.raw(HEADER)
    _model(out, MenweiConfig, values, "", commented=False)
    return out.text()


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def raw(self, text: str) -> None:
        self.lines.extend(text.rstrip("\n").split("\n"))

    def comment(self, text: str, commented: bool) -> None:
        mark = "## " if commented else "# "
        for line in textwrap.wrap(text, WIDTH - len(mark)) or [""]:
            self.lines.append(mark + line)

    def line(self, text: str, commented: bool) -> None:
        self.lines.append(("# " if commented else "") + text)

    def blank(self) -> None:
        if self.lines and self.lines[-1] != "":
            self.lines.append("")

    def text(self) -> str:
        return "\n".join(self.lines).rstrip("\n") + "\n"


def _model(out: _Writer, model: type[BaseModel], values: dict, path: str, commented: bool) -> None:
    """Scalars of ``model`` first (a TOML table's keys precede its sub-tables), then each
    sub-table in field order."""
    tables = []
    for name, info in model.model_fields.items():
        value, off = _unwrap(values.get(name, _MISSING))
        kind = _kind(info)
        if kind == "scalar":
            _scalar(out, name, info, value, commented or off, f"{path}.{name}".lstrip("."))
        else:
            tables.append((name, info, kind, value, commented or off))
    for name, info, kind, value, off in tables:
        full = f"{path}.{name}" if path else name
        if commented and isinstance(values.get(name), Commented):
            # switched off inside a switched-off section ([gates.camera_ir] in the commented
            # door): commented twice, so uncommenting the door once leaves it off
            inner = _Writer()
            _table(inner, name, info, kind, value, full, True)
            out.blank()
            out.lines.extend(f"# {line}" if line else line for line in inner.lines)
            continue
        _table(out, name, info, kind, value, full, off)


def _scalar(
    out: _Writer, name: str, info: FieldInfo, value: Any, commented: bool, path: str
) -> None:
    required = info.is_required()
    if value is _MISSING:
        value = None if required else info.get_default(call_default_factory=True)
    if value is None:  # a key without a default: the reader needs an example to copy
        if commented:
            return  # a switched-off section shows only the keys its sample gives
        raise ValueError(f"SAMPLE needs a value (or a Commented one) for {path}")
    out.comment(("REQUIRED: " if required else "") + (info.description or ""), commented)
    out.line(f"{name} = {_toml(value)}", commented)


def _table(
    out: _Writer, name: str, info: FieldInfo, kind: str, value: Any, path: str, commented: bool
) -> None:
    if kind == "models":  # [[gates]], [[sync.gat1400.apes]]
        for item in value if value is not _MISSING else []:
            item, item_off = _unwrap(item)
            off = commented or item_off
            out.blank()
            if item_off and path == "gates":
                out.raw(PEDESTRIAN_MARKER)
            out.comment(info.description or "", off)
            out.line(f"[[{path}]]", off)
            _model(out, _model_type(info), item, path, off)
        return
    if kind == "model_map":  # [access.schedules.NAME]
        for key, item in (value if value is not _MISSING else {}).items():
            out.blank()
            out.comment(info.description or "", commented)
            out.line(f"[{path}.{key}]", commented)
            _model(out, _model_type(info), item, f"{path}.{key}", commented)
        return
    if kind == "str_map":  # [gates.access]: written where the sample gives it
        if value is _MISSING:
            return
        out.blank()
        out.comment(info.description or "", commented)
        out.line(f"[{path}]", commented)
        for key, item in value.items():
            out.line(f"{key} = {_toml(item)}", commented)
        return
    model = _model_type(info)
    if value is _MISSING:
        if info.get_default() is None:
            return  # optional section not in the sample: left out
        value = {}
    if any(_kind(field) == "scalar" for field in model.model_fields.values()):
        out.blank()
        out.comment(info.description or "", commented)
        out.line(f"[{path}]", commented)
    _model(out, model, value, path, commented)


class _Missing:
    pass


_MISSING: Any = _Missing()


def _unwrap(value: Any) -> tuple[Any, bool]:
    return (value.value, True) if isinstance(value, Commented) else (value, False)


def _kind(info: FieldInfo) -> str:
    annotation = info.annotation
    origin = get_origin(annotation)
    args = [a for a in get_args(annotation) if a is not type(None)]
    if origin in (list, tuple) and args and _is_model(args[0]):
        return "models"
    if origin is dict:
        return "model_map" if _is_model(args[1]) else "str_map"
    if _is_model(annotation) or (args and _is_model(args[0]) and origin is not tuple):
        return "model"
    return "scalar"


def _model_type(info: FieldInfo) -> type[BaseModel]:
    annotation = info.annotation
    if _is_model(annotation):
        return cast(type[BaseModel], annotation)
    for arg in get_args(annotation):
        if _is_model(arg):
            return cast(type[BaseModel], arg)
    raise TypeError(f"no model in {annotation!r}")


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Path):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        current, _ = _unwrap(merged.get(key))
        if isinstance(value, dict) and isinstance(current, dict):
            merged[key] = _merge(current, value)
        else:
            merged[key] = value
    return merged
