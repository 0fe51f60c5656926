"""``menwei events``: recent gate events with the reasons for each decision."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edge.cli.common import cli_command, config_option, read_config, words


@cli_command()
@click.option(
    "--limit",
    type=click.IntRange(1, 10000),
    default=20,
    show_default=True,
    help="How many events, newest first.",
)
@click.option("--gate", "gate_id", help="Only this gate's events.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (stored codes, UTC times) for scripts."
)
@config_option
def events(limit: int, gate_id: str | None, as_json: bool, config_path: Path) -> None:
    """Show recent events with the reasons for each decision."""
    from edge.events.record import recent_events
    from edge.store.open import open_reader

    config = read_config(config_path)
    rows = recent_events(open_reader(config), limit, gate_id)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    vocabulary = words(config)
    for row in rows:
        who = row["plate"] or vocabulary.subject(row["subject"]) or "-"
        click.echo(
            f"{vocabulary.time(row['occurred_at'], seconds=True)}  {row['gate_id']}  "
            f"{vocabulary.kind(row['kind'])}  {who}  {vocabulary.decision(row['decision'])}"
            f" — {vocabulary.reasons(row['reasons'])}  [{row['id']}]"
        )
