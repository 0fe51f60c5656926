"""The docs a user reads stay in step with the code: the example config is rendered from
the config models (every key, with its description), every field has a description for it
to show, and README shows every command and only commands and options that exist."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import click
from pydantic import BaseModel

from edge.cli.main import main
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


def _commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> dict[tuple[str, ...], click.Command]:
    found: dict[tuple[str, ...], click.Command] = {}
    for name, command in group.commands.items():
        found[(*path, name)] = command
        if isinstance(command, click.Group):
            found.update(_commands(command, (*path, name)))
    return found


COMMANDS = _commands(main)
# A command as the README writes it: in a code block line or in `backticks`, with options.
README_USE = re.compile(r"menwei((?: [a-z][a-z-]*)+)([^`\n|]*)")


def _readme_uses() -> list[tuple[tuple[str, ...], str, str]]:
    """(command path, the rest of the use, the line) for every ``menwei ...`` in README."""
    uses = []
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        for match in README_USE.finditer(line):
            words = match.group(1).split()
            path: tuple[str, ...] = ()
            for word in words:
                if (*path, word) in COMMANDS:
                    path = (*path, word)
                else:
                    break
            uses.append((path, match.group(2), line.strip()))
    return uses


def test_readme_names_only_real_commands_and_options():
    wrong = []
    for path, rest, line in _readme_uses():
        if not path:
            if not re.match(r"menwei(-\w+|\.toml|\.local)", line[line.find("menwei") :]):
                wrong.append(f"no such command: {line}")
            continue
        command = COMMANDS[path]
        options = {opt for param in command.params for opt in param.opts}
        for option in re.findall(r"(?<![\w-])--[a-z][a-z-]*", rest):
            if option not in options and option != "--help":
                wrong.append(f"menwei {' '.join(path)} has no {option}: {line}")
    assert wrong == [], "\n".join(wrong)


def test_every_command_is_in_the_readme():
    used = {path for path, _rest, _line in _readme_uses()}
    missing = [
        "menwei " + " ".join(path)
        for path, command in COMMANDS.items()
        if path not in used and not isinstance(command, click.Group)
    ]
    assert missing == [], "README does not show: " + ", ".join(sorted(missing))
