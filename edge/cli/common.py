"""What every ``menwei`` command shares: the ``-c`` option, reading the config, times typed in
site time, printing rows, stopping on SIGTERM, and the group that turns a ``UserError`` into
a one-line message.

Errors a user can cause (bad config, malformed plate, unknown gate) end with that one line
and a non-zero exit code, never a stack trace; any other exception is a bug and keeps its
stack trace.
"""

from __future__ import annotations

import gettext
import hashlib
import json
import os
import signal
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
import sqlite_utils

from edge import audit
from edge.cli.help import MenweiCommand, TranslatedHelp
from edge.config import DEFAULT_CONFIG_PATH, ConfigError, MenweiConfig, load_config
from edge.db_file import storage_error
from edge.errors import UserError, render_part
from edge.pii import PiiVault
from edge.vocabulary import Vocabulary, locale_language, read_local_time, translator
from edge.web.i18n import SOURCE, compile_translations

# A column of a printed table: (header msgid, the cell's text from the row and the words).
Column = tuple[str, Callable[[dict[str, Any], Vocabulary], str]]

CONFIG_ENV = "MENWEI_CONFIG"
F = TypeVar("F", bound=Callable[..., Any])


DATABASE_KEY = "menwei.database"  # ctx.meta: the database the command's config names


class MenweiGroup(TranslatedHelp, click.Group):
    """A click group (every group of ``menwei``) whose help reads in the locale's language
    (``edge.cli.help``) and whose commands end a ``UserError`` with its message (exit 1), and a
    storage fault SQLite raised (damaged, full, read-only disk) with what to do about it:
    every process (web, sync, hub, retention, the commands) starts through here, so none
    answers a damaged database with a stack trace."""

    command_class = MenweiCommand  # group.command(): its help translated too
    group_class = type  # group.group(): a MenweiGroup

    def main(self, *args: Any, **kwargs: Any) -> Any:
        use_click_translations()
        return super().main(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as exc:  # anything else is a bug: let its stack trace show
            raise click.ClickException(exc.render(translator(locale_language()))) from None
        except sqlite3.Error as exc:
            fault = storage_error(exc, ctx.meta.get(DATABASE_KEY, Path("menwei.db")))
            if fault is None:  # not the store's weather: a bug, with its stack trace
                raise
            raise click.ClickException(fault.render(translator(locale_language()))) from None


def cli_command(name: str | None = None, **kwargs: Any) -> Callable[[F], MenweiCommand]:
    """``@click.command`` for ``menwei``: its help read in the locale's language."""
    return click.command(name, cls=MenweiCommand, **kwargs)


def cli_group(name: str | None = None, **kwargs: Any) -> Callable[[F], MenweiGroup]:
    """``@click.group`` for ``menwei``: its help read in the locale's language."""
    return click.group(name, cls=MenweiGroup, **kwargs)


def use_click_translations() -> None:
    """click's own words around every command ("Error:", "Usage:", "Try ... for help", a
    bad option or value) in the locale's language: click reads them through the standard
    gettext domain, bound here to the compiled catalogs (``click.po``) in this user's cache
    folder, compiled again only when a catalog changed."""
    if locale_language() != "zh":
        return
    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "menwei"
    # one folder per installed copy of the catalogs: two checkouts (or an install and a
    # checkout's demo) of one user would otherwise take each other's compiled catalog
    folder /= f"translations-{hashlib.sha256(str(SOURCE).encode()).hexdigest()[:12]}"
    try:
        compiled = (folder / "zh" / "LC_MESSAGES" / "messages.mo").stat().st_mtime_ns
        newest = max(p.stat().st_mtime_ns for p in (SOURCE / "zh" / "LC_MESSAGES").glob("*.po"))
        if compiled < newest:  # parsing every catalog costs ~0.3 s: only when one changed
            raise FileNotFoundError
    except (OSError, ValueError):
        try:
            folder = compile_translations(folder)
        except OSError:  # no writable folder at all: click's words stay English
            return
    gettext.bindtextdomain("messages", str(folder))


def config_option(func: F) -> F:
    """The ``-c/--config`` option every command that reads the config takes."""
    return click.option(
        "-c",
        "--config",
        "config_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=lambda: os.environ.get(CONFIG_ENV, str(DEFAULT_CONFIG_PATH)),
        show_default=f"${CONFIG_ENV} or {DEFAULT_CONFIG_PATH}",
        help="Config file (TOML).",
    )(func)


def read_config(config_path: Path) -> MenweiConfig:
    """The validated config; a ``ClickException`` listing every problem when it is not.
    The audit key's file is set from it (read only when a row is written)."""
    if not config_path.exists():
        raise click.ClickException(
            tr(
                "no config file at %(path)s. Give one with -c FILE or the %(env)s environment"
                " variable, or write a commented example with: menwei init %(path)s"
            )
            % {"path": config_path, "env": CONFIG_ENV}
        )
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(exc.render(translator(locale_language()))) from None
    audit.use_key_file(config.security.audit_key_path)
    context = click.get_current_context(silent=True)
    if context is not None:
        context.meta[DATABASE_KEY] = config.storage.database_path
    return config


def store_and_vault(
    config_path: Path, read_only: bool = False
) -> tuple[MenweiConfig, sqlite_utils.Database, PiiVault]:
    """Config, store and PII vault, for commands that read or write personal data;
    ``read_only``: a command that only reads, which works on a read-only or full disk."""
    from edge.store.open import open_reader, open_store, pii_vault  # OpenCV: only when used

    config = read_config(config_path)
    return config, (open_reader if read_only else open_store)(config), pii_vault(config)


def parse_time(
    value: str | None, config: MenweiConfig, end_of_day: bool = False
) -> datetime | None:
    """Accept ISO dates/times; a time without zone is read in the site's time zone, and a
    date alone with ``end_of_day`` (an end of validity) is the last second of that day."""
    if not value:
        return None
    try:
        return read_local_time(value, config.site.zone, end_of_day)
    except ValueError:
        raise click.BadParameter(
            tr("%(value)r is not a date/time like 2026-12-31 or 2026-12-31 18:00")
            % {"value": value}
        ) from None


def tr(msgid: str) -> str:
    """A message of the command line in the locale's language (``LANG=zh_CN.UTF-8``)."""
    return translator(locale_language())(msgid)


def say(msgid: str, err: bool = False, **params: object) -> None:
    """Print one message of the command line in the locale's language (``tr``), its
    ``%(name)s`` placeholders filled from ``params``."""
    text = tr(msgid)
    click.echo(text % params if params else text, err=err)


def fail(msgid: str, **params: object) -> click.ClickException:
    """The one-line refusal of a command (exit 1) in the locale's language (``tr``)."""
    text = tr(msgid)
    return click.ClickException(text % params if params else text)


def shown(value: object) -> str:
    """A value in the locale's language when it is a message (a ``Phrase``, a ``UserError``,
    a ``Problem``); any other value as it is (a library's own text, a path)."""
    return str(render_part(value, translator(locale_language())))


def words(config: MenweiConfig) -> Vocabulary:
    """The box's words in the locale's language, times in the site zone."""
    return Vocabulary.for_language(locale_language(), config.site.zone)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def print_table(
    rows: list[dict[str, Any]], columns: Sequence[Column], vocabulary: Vocabulary, as_json: bool
) -> None:
    """Rows as a table for people (headers and values in the locale's language, times in
    the site zone, columns aligned for CJK too) or, with ``as_json``, as stored (codes,
    UTC ISO times) for machines."""
    if as_json or not rows:
        print_rows(rows, as_json)
        return
    header = [vocabulary.gettext(title) for title, _cell in columns]
    cells = [[cell(row, vocabulary) or "-" for _title, cell in columns] for row in rows]
    widths = [max(_width(line[i]) for line in [header, *cells]) for i in range(len(columns))]
    for line in [header, *cells]:
        padded = [text + " " * (w - _width(text)) for text, w in zip(line, widths, strict=True)]
        click.echo("  ".join(padded).rstrip())


def print_rows(rows: list[dict], as_json: bool) -> None:
    """Rows as JSON, or one ``key=value`` line per row (empty values left out)."""
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    if not rows:
        click.echo(tr("(none)"))
    for row in rows:
        click.echo("  ".join(f"{k}={v}" for k, v in row.items() if v not in (None, "")))


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM (systemd stopping the unit) or SIGINT (Ctrl-C)."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop
