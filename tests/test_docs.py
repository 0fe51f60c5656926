"""The docs a user reads stay in step with the code: the example config is rendered from
the config models (every key, with its description), and every field has a description
for it to show."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from pydantic import BaseModel

from edge.config import MenweiConfig, load_config
from edge.config.example import render_example

ROOT = Path(__file__).resolve().parents[1]


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[type[BaseModel]]:
    seen.add(model)
    for info in model.model_fields.values():
        stack = [info.annotation]
        while stack:
            annotation = stack.pop()
            is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
            if is_model and annotation not in seen:
                _models(annotation, seen)
            stack.extend(get_args(annotation))
    return seen


def test_every_config_field_has_a_description():
    missing = [
        f"{model.__name__}.{name}"
        for model in _models(MenweiConfig, set())
        for name, info in model.model_fields.items()
        if not (info.description or "").strip()
    ]
    assert missing == [], "fields menwei init cannot explain: " + ", ".join(sorted(missing))


def test_example_file_is_the_rendered_example():
    """edge/menwei.example.toml is what `menwei init` writes; regenerate it with
    `python -c "from edge.config.example import render_example; print(render_example(), end='')"
    > edge/menwei.example.toml` after changing a model."""
    committed = (ROOT / "edge" / "menwei.example.toml").read_text(encoding="utf-8")
    assert committed == render_example()


def test_example_shows_every_key():
    """Each field appears as a key (``name = ``) or a table (``[name``, ``.name]``, ``.name.``),
    set or commented out."""
    text = render_example()
    absent = [
        f"{model.__name__}.{name}"
        for model in _models(MenweiConfig, set())
        for name in model.model_fields
        if not re.search(rf"(^|[#\[. ]){name}( = |\]|\.)", text, re.M)
    ]
    assert absent == []


def test_example_loads_with_every_commented_key_and_section_switched_on(tmp_path):
    """Each commented example value is valid where it stands: uncomment every key and
    table line (``# key = ...``, ``# [table]``) and the whole file still loads."""
    lines = []
    for line in render_example().splitlines():
        if re.match(r"^# (\[|\w+ = )", line):
            line = line[2:]
        lines.append(line)
    path = tmp_path / "menwei.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    config = load_config(path)
    assert [g.kind for g in config.gates] == ["vehicle", "pedestrian"]
    assert config.sync is not None and config.sync.gat1400.apes[0].gate == "north-vehicle"
    assert config.web.tls_key is not None and config.gates[0].loop is not None
