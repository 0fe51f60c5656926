"""Reading the config file: TOML parsed, validated into ``MenweiConfig``, relative paths
resolved, and every problem reported at once with its key path."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from edge.config.menwei import MenweiConfig
from edge.errors import Phrase, UserError, render_part

DEFAULT_CONFIG_PATH = Path("/etc/menwei/menwei.toml")


class ConfigError(UserError):
    """A config file that cannot be used; ``problems`` lists ``key: reason`` lines (a
    ``Phrase`` reads in the reader's language; pydantic's own reasons stay in English, as
    an installer's diagnostic)."""

    code = "config"

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("%(source)s: invalid config", {"source": source})

    def render(self, translate: Callable[[str], str] | None = None) -> str:
        lines = (f"  - {render_part(p, translate)}" for p in self.problems)
        return "\n".join([super().render(translate), *lines])


def _describe(error: dict) -> str:
    path = ""
    for part in error["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        return Phrase("%(key)s: unknown key (typo?)", key=path or "(top level)")
    return f"{path or '(top level)'}: {message}"


def parse_config(data: dict, source: str = "<config>") -> MenweiConfig:
    """Validate already-parsed TOML data; raise ConfigError listing every problem."""
    try:
        config = MenweiConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, [_describe(dict(e)) for e in exc.errors()]) from None
    base = Path(source).resolve().parent if source != "<config>" else Path.cwd()
    return _resolve_relative_paths(config, base)


def _resolve_relative_paths(config: MenweiConfig, base: Path) -> MenweiConfig:
    """Relative data folders, file/folder camera sources, keypad devices and face model files
    are relative to the config file, so a config works the same whatever directory the
    service starts in."""
    update: dict = {}
    if not config.storage.data_dir.is_absolute():
        update["storage"] = config.storage.model_copy(
            update={"data_dir": base / config.storage.data_dir}
        )
    gates = []
    for gate in config.gates:
        source = gate.camera.source
        if "://" not in source and not source.startswith("usb:") and not Path(source).is_absolute():
            camera = gate.camera.model_copy(update={"source": str(base / source)})
            gate = gate.model_copy(update={"camera": camera})
        if gate.keypad is not None and not gate.keypad.source.is_absolute():
            keypad = gate.keypad.model_copy(update={"source": base / gate.keypad.source})
            gate = gate.model_copy(update={"keypad": keypad})
        gates.append(gate)
    update["gates"] = gates
    faces = config.recognition.faces
    models = {
        name: base / path
        for name, path in (
            ("detector_model", faces.detector_model),
            ("recogniser_model", faces.recogniser_model),
        )
        if path is not None and not path.is_absolute()
    }
    if models:
        update["recognition"] = config.recognition.model_copy(
            update={"faces": faces.model_copy(update=models)}
        )
    security = {
        name: base / getattr(config.security, name)
        for name in ("pii_key_file", "audit_key_file", "audit_checkpoint_file")
        if getattr(config.security, name) is not None
        and not getattr(config.security, name).is_absolute()
    }
    if security:
        update["security"] = config.security.model_copy(update=security)
    if config.sync is not None:
        update["sync"] = config.sync.resolved(base, update.get("storage", config.storage).data_dir)
    data_dir = update.get("storage", config.storage).data_dir
    update["community"] = config.community.resolved(base, data_dir)
    return config.model_copy(update=update)


EMPTY_FILE = (
    "the file is empty or zeroed (cut short by a power cut or a failed copy?): restore it "
    "from a backup, or write a new one with menwei init"
)


def load_config(path: Path) -> MenweiConfig:
    """Read and validate the TOML file at ``path``; relative data_dir is relative to the file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problem = Phrase("cannot read file: %(error)s", error=exc.strerror)
        raise ConfigError(str(path), [problem]) from None
    if not raw.strip(b" \t\r\n\x00"):  # a power cut or a failed copy leaves it empty or zeroed
        raise ConfigError(str(path), [Phrase(EMPTY_FILE)])
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(str(path), [Phrase("file is not UTF-8 text")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [Phrase("not valid TOML: %(error)s", error=exc)]) from None
    return parse_config(data, str(path))
