"""``menwei web`` (the consoles and tenant pages), ``menwei front-config`` (the HTTPS front's
nginx.conf), ``menwei audit verify|checkpoint`` and ``menwei user add`` (console accounts)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click
from ulid import ULID

from edge.cli.common import (
    Column,
    cli_command,
    cli_group,
    config_option,
    fail,
    print_table,
    read_config,
    say,
    shown,
    stop_on_signals,
    tr,
    words,
)
from edge.config.base import is_loopback
from edge.db import connect, transaction, utc_now
from edge.vocabulary import N_, STATUSES
from edge.vocabulary import ROLES as ROLE_LABELS
from edge.web.accounts import ROLES

CHECKPOINT_TOPIC = "audit_checkpoint"  # outbox topic of signed audit checkpoints


@cli_command()
@config_option
@click.option("--host", default=None, help="Override [web] host.")
@click.option("--port", type=int, default=None, help="Override [web] port.")
def web(config_path: Path, host: str | None, port: int | None) -> None:
    """Serve the consoles and tenant pages on loopback (waitress); the LAN reaches them
    through the HTTPS front (menwei front-config, the menwei-front unit)."""

    from edge.box.watchdog import Watchdog
    from edge.web.app import create_app
    from edge.web.server import build_server, serve_until_stopped

    config = read_config(config_path)
    app = create_app(config)
    bind_host, bind_port = host or config.web.host, port or config.web.port
    if not is_loopback(bind_host):
        raise fail(
            "--host %(host)s: menwei web listens on loopback only; the LAN is served"
            " by the HTTPS front (docs/deploy.md)",
            host=bind_host,
        )
    try:
        server, url = build_server(app, config, bind_host, bind_port)
    except (OSError, ValueError) as exc:  # busy port, unreadable or bad certificate
        raise fail("cannot start the web server: %(error)s", error=exc) from None
    stop = stop_on_signals()
    say("menwei web on %(url)s", url=url)
    serve_until_stopped(server, url, stop, Watchdog())


@cli_command("front-config")
@config_option
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("/run/menwei-front/nginx.conf"),
    show_default=True,
    help="Where nginx.conf is written.",
)
@click.option("--check", is_flag=True, help="Also run nginx -t on the written file.")
def front_config(config_path: Path, output: Path, check: bool) -> None:
    """Write the HTTPS front's nginx.conf from [web] and [web.front] (the menwei-front
    unit runs this before nginx starts, so the TOML is the only place to edit)."""
    import subprocess

    from edge.web import front

    config = read_config(config_path)
    try:
        front.write(config, output)
        if check:
            subprocess.run([str(front.nginx_binary()), "-t", "-q", "-c", str(output)], check=True)
    except front.FrontError as exc:
        raise click.ClickException(shown(exc)) from None
    except subprocess.CalledProcessError:
        raise fail("nginx refused %(path)s (see above)", path=output) from None
    say("front config written to %(path)s", path=output)


@cli_group()
def audit() -> None:
    """The append-only audit log."""


@audit.command("verify")
@click.option(
    "--checkpoint",
    "checkpoint_files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Also check against checkpoints kept elsewhere (e.g. the district's copy).",
)
@config_option
def audit_verify(checkpoint_files: tuple[Path, ...], config_path: Path) -> None:
    """Check the chain, that no row after it is missing (sqlite_sequence) and that it is
    the chain the newest signed checkpoint saw; exit 1 naming the first problem."""
    from edge import audit as audit_log

    config = read_config(config_path)
    extra = [
        cp
        for path in checkpoint_files
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
        if (cp := audit_log.Checkpoint.from_json(line)) is not None
    ]
    db = connect(config.storage.database_path)
    result = audit_log.verify(db, config.audit_checkpoint_path, extra)
    if not result.ok:
        if result.first_bad_seq:
            say("BROKEN at entry %(seq)s: %(problem)s", err=True, seq=result.first_bad_seq,
                problem=result.problem)  # fmt: skip
        else:
            say("BROKEN: %(problem)s", err=True, problem=result.problem)
        raise SystemExit(1)
    checked = result.checkpoint
    if checked:
        say("OK: %(rows)s entries, chain intact; matches the checkpoint of %(at)s (entry"
            " %(seq)s)", rows=result.rows, at=words(config).time(checked.at, seconds=True),
            seq=checked.seq)  # fmt: skip
    else:
        say("OK: %(rows)s entries, chain intact; no checkpoint yet (menwei audit checkpoint)",
            rows=result.rows)  # fmt: skip


@audit.command("checkpoint")
@config_option
def audit_checkpoint(config_path: Path) -> None:
    """Sign the chain's newest entry and keep it in the database, in
    [security] audit_checkpoint_file and (json sync) in the outbox for the district.
    Finished hours of failed logins are written to the log first."""
    from edge import audit as audit_log
    from edge.store.outbox import enqueue
    from edge.web.login_audit import flush

    config = read_config(config_path)
    db = connect(config.storage.database_path)
    now = utc_now()
    flush(db, now)

    def to_district(conn, checkpoint) -> None:
        if config.sync is not None and config.sync.protocol == "json":
            payload = dataclasses.asdict(checkpoint)
            enqueue(conn, str(ULID()), CHECKPOINT_TOPIC, payload, now)

    try:
        made = audit_log.make_checkpoint(db, config.audit_checkpoint_path, now, to_district)
    except OSError as exc:  # the second copy's folder is not writable by this user
        raise fail(
            "cannot write %(path)s: %(error)s", path=config.audit_checkpoint_path,
            error=exc.strerror,
        ) from None  # fmt: skip
    say("checkpoint: entry %(seq)s, %(hash)s…, signed", seq=made.seq, hash=made.hash[:16])


@cli_group()
def user() -> None:
    """Console accounts: add, list, passwd, deactivate, activate."""


def _ask_password() -> str:
    """A new password, asked twice with the input hidden (never an option: it would stay in
    the shell history and the process list)."""
    return str(
        click.prompt(
            tr("Password (min. 10 characters)"),
            hide_input=True,
            confirmation_prompt=tr("Repeat for confirmation"),
        )
    )


def _user_id(db, username: str) -> int:
    row = db.execute("SELECT id FROM users WHERE username = ?", [username]).fetchone()
    if row is None:
        raise fail("there is no account %(user)r", user=username)
    return int(row[0])


USER_COLUMNS: list[Column] = [
    (N_("No."), lambda r, w: str(r["id"])),
    (N_("Username"), lambda r, w: r["username"]),
    (N_("Name"), lambda r, w: r["display_name"] or ""),
    (N_("Role"), lambda r, w: w.word(ROLE_LABELS, r["role"])),
    (N_("State"), lambda r, w: w.word(STATUSES, "active" if r["active"] else "inactive")),
    (N_("Created"), lambda r, w: w.time(r["created_at"])),
]


@user.command("list")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (stored codes, UTC times) for scripts."
)
@config_option
def user_list(as_json: bool, config_path: Path) -> None:
    """List console accounts with their role and state (never a password)."""
    from edge.store.open import open_reader  # OpenCV (snapshots): only when used
    from edge.web.accounts import list_users

    config = read_config(config_path)
    db = open_reader(config)
    print_table(list_users(db.conn), USER_COLUMNS, words(config), as_json)


@user.command("passwd")
@click.argument("username")
@config_option
def user_passwd(username: str, config_path: Path) -> None:
    """Set USERNAME's password (asked for twice, hidden); their sessions end."""
    from edge import audit as audit_log
    from edge.web.accounts import AccountError, change_password, get_user

    db = connect(read_config(config_path).storage.database_path)
    user_id = _user_id(db, username)
    password = _ask_password()
    try:
        with transaction(db) as conn:
            account = get_user(conn, user_id)
            assert account is not None  # looked up just above, in this process
            change_password(conn, account, password, utc_now(), keep_session="")
            audit_log.append(conn, "cli", "reset_password", f"user:{user_id}")
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    say("password of %(user)s set; their sessions were ended", user=username)


def _set_active(username: str, active: bool, config_path: Path) -> None:
    from edge import audit as audit_log
    from edge.web.accounts import AccountError, set_active

    db = connect(read_config(config_path).storage.database_path)
    user_id = _user_id(db, username)
    try:
        with transaction(db) as conn:
            set_active(conn, user_id, active)
            action = "reactivate_user" if active else "deactivate_user"
            audit_log.append(conn, "cli", action, f"user:{user_id}")
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None


@user.command("deactivate")
@click.argument("username")
@config_option
def user_deactivate(username: str, config_path: Path) -> None:
    """Stop USERNAME signing in; their sessions end at once (the account and its history stay)."""
    _set_active(username, False, config_path)
    say("%(user)s deactivated; their sessions were ended", user=username)


@user.command("activate")
@click.argument("username")
@config_option
def user_activate(username: str, config_path: Path) -> None:
    """Let a deactivated USERNAME sign in again."""
    _set_active(username, True, config_path)
    say("%(user)s can sign in again", user=username)


@user.command("add")
@click.argument("username")
@click.option(
    "--role", type=click.Choice(list(ROLES)), required=True, help="What the account may do."
)
@click.option("--name", "display_name", default="", help="The name the console shows.")
@click.option(
    "--resident",
    "resident_id",
    type=click.IntRange(1, 2**31 - 1),
    default=None,
    help="For --role resident: the resident's number (menwei resident list).",
)
@config_option
def user_add(
    username: str,
    role: str,
    display_name: str,
    resident_id: int | None,
    config_path: Path,
) -> None:
    """Create an account (the password is asked for, never given on the command line).

    A resident account is one resident's own, for their visitor passes: --resident N."""
    from edge import audit as audit_log
    from edge.web.accounts import AccountError, create_user

    db = connect(read_config(config_path).storage.database_path)
    password = _ask_password()
    try:
        with transaction(db) as conn:
            made = create_user(conn, username, password, role, utc_now(), display_name, resident_id)
            details: dict[str, object] = {"role": role}
            if resident_id is not None:
                details["resident_id"] = resident_id
            audit_log.append(conn, "cli", "create_user", f"user:{made.id}", details)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    say("user %(user)s (%(role)s) created, id %(id)s", user=made.username,
        role=tr(ROLE_LABELS.get(made.role, made.role)), id=made.id)  # fmt: skip
