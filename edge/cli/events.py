"""``menwei events``: recent gate events with the reasons for each decision."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from edge.cli.common import config_option, read_config


@click.command()
@click.option("--limit", type=click.IntRange(1, 10000), default=20, show_default=True)
@click.option("--gate", "gate_id")
@click.option("--json", "as_json", is_flag=True)
@config_option
def events(limit: int, gate_id: str | None, as_json: bool, config_path: Path) -> None:
    """Show recent events with the reasons for each decision."""
    from edge.events import recent_events
    from edge.store.open import open_store

    config = read_config(config_path)
    rows = recent_events(open_store(config), limit, gate_id)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    zone = config.site.zone
    for row in rows:
        when = (
            datetime.fromisoformat(row["occurred_at"])
            .astimezone(zone)
            .strftime("%Y-%m-%d %H:%M:%S")
        )
        why = "; ".join(r["message"] for r in row["reasons"])
        click.echo(
            f"{when} {row['gate_id']} {row['kind']} {row['plate'] or '-'} "
            f"{row['decision'].upper()} — {why} [{row['id']}]"
        )
