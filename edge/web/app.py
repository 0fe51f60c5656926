"""``create_app(config)``: the one Flask app of the box (tenant pages and consoles).

No module-level app and no global database handle: each request opens its own SQLite
connection from the config (cheap, and safe across waitress threads) and closes it after.
Blueprints per audience register here (only here: the request helpers they share live
below, in ``edge.web.context`` and ``edge.web.access``); each checks its own audience once in a
``before_request``. Everything shared — user and session loading, CSRF on every POST,
security headers, language choice, error pages — happens here, once.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils
from flask import Flask, abort, g, redirect, render_template, request, url_for
from flask_babel import Babel, gettext
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from edge import audit
from edge.config import MenweiConfig
from edge.db import connect, connect_read_only, transaction
from edge.db_file import DamagedStoreError
from edge.errors import render_part
from edge.pii import PiiKeyError, PiiVault
from edge.store.open import RESTORE_KEY, holds_sealed_data
from edge.vocabulary import local_time
from edge.web import accounts, sessions
from edge.web.access import nav_for
from edge.web.account import bp as account_bp
from edge.web.account import require_password_change
from edge.web.admin import bp as admin_bp
from edge.web.auth import bp as auth_bp
from edge.web.auth import refuse_login_flood
from edge.web.console.dashboard import bp as console_dashboard_bp
from edge.web.console.data import bp as console_data_bp
from edge.web.console.events import bp as console_events_bp
from edge.web.console.forms import NONCE_FIELD, apply_upload_limit, new_nonce
from edge.web.console.live import bp as console_live_bp
from edge.web.console.my_passes import bp as console_my_passes_bp
from edge.web.console.passes import bp as console_passes_bp
from edge.web.console.people import bp as console_people_bp
from edge.web.console.rooms import bp as console_rooms_bp
from edge.web.console.watchlist import bp as console_watchlist_bp
from edge.web.context import EXTENSION, WebState, close_db, get_db, now, state
from edge.web.converters import BoundedInt
from edge.web.guards import (
    ANON_COOKIE,
    CSRF_FIELD,
    HSTS,
    SECURITY_HEADERS,
    RateLimiter,
    anon_csrf_token,
    new_cookie_value,
    tokens_match,
)
from edge.web.i18n import LANGUAGES, compile_translations
from edge.web.limits import LoginThrottle, PasswordGate, login_limits
from edge.web.printing import sticker_problem
from edge.web.registry.landlord import bp as landlord_bp
from edge.web.registry.police import bp as police_bp
from edge.web.registry.tenant import bp as tenant_bp
from edge.web.storage import FAULT_HEADER, storage_health, storage_unavailable
from qr_registry.registrations import seal_legacy
from qr_registry.stickers import StickerError

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 64 * 1024  # the tenant form is a few KB; anything bigger is refused (413)

# Every blueprint of the app, in registration order: sign-in and the account's own pages,
# the registry's audiences (tenant, landlord, police), the admin's accounts page, then the
# guard/admin console.
BLUEPRINTS = (
    auth_bp,
    account_bp,
    tenant_bp,
    landlord_bp,
    police_bp,
    admin_bp,
    console_dashboard_bp,
    console_live_bp,
    console_events_bp,
    console_people_bp,
    console_passes_bp,
    console_watchlist_bp,
    console_my_passes_bp,
    console_data_bp,
    console_rooms_bp,
)


def _load_vault(config: MenweiConfig) -> PiiVault:
    """Create the key only on a box with no personal data yet: a missing key file on a box
    that holds data sealed with it (registrations, residents' names, face templates) is a
    lost key, and a fresh one would make that data unreadable for good."""
    path = config.security.pii_key_file
    if not path.exists():
        database = config.storage.database_path
        if holds_sealed_data(database):
            raise PiiKeyError(RESTORE_KEY, {"path": path, "database": database})
        return PiiVault.from_key_file(path, create=True)
    return PiiVault.from_key_file(path)


def _seal_legacy_registrations(config: MenweiConfig, vault: PiiVault) -> None:
    """Registrations stored before their personal fields were encrypted are sealed here,
    where the key is at hand (a migration cannot encrypt)."""
    db = connect(config.storage.database_path)
    try:
        sealed = seal_legacy(db, vault)
    finally:
        db.conn.close()
    if sealed:
        log.info("encrypted the personal fields of %d older registrations", sealed)


def _open_at_start(config: MenweiConfig) -> sqlite_utils.Database:
    """The start-up connection: migrated when the disk takes writes; on a full or read-only
    disk the app starts anyway (pages read, writes answer 503) and says so once."""
    path = config.storage.database_path
    try:
        return connect(path)
    except (sqlite3.OperationalError, OSError) as exc:
        log.error("storage fault at start (%s): serving read-only until it clears", exc)
    try:
        return connect(path, apply_migrations=False)
    except sqlite3.OperationalError:
        return connect_read_only(path)


def create_app(config: MenweiConfig, clock: Callable[[], datetime] | None = None) -> Flask:
    """Build the web app for ``config`` (database migrated, key loaded, catalogs compiled)."""
    app = Flask(__name__, template_folder="templates", static_folder="static")
    app.url_map.converters["int"] = BoundedInt  # before any rule: ids beyond SQLite are 404s
    cache = config.storage.web_cache_dir
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_BODY_BYTES,
        BABEL_DEFAULT_LOCALE="zh",
        BABEL_DEFAULT_TIMEZONE=config.site.timezone,
        BABEL_TRANSLATION_DIRECTORIES=str(compile_translations(cache / "translations")),
        TEMPLATES_AUTO_RELOAD=False,
    )
    db = _open_at_start(config)  # migrate once; workers skip the check
    try:
        audit.use_key_file(config.security.audit_key_path)
        audit.load_key(db.conn)  # a missing key on a keyed chain stops start-up, named
    finally:
        db.conn.close()
    web_state = WebState(config, _load_vault(config), secrets.token_bytes(32))
    try:
        _seal_legacy_registrations(config, web_state.vault)
    except (sqlite3.DatabaseError, OSError) as exc:  # a full or read-only disk: next start
        log.error("registrations not sealed at start (storage fault: %s)", exc)
    if clock is not None:
        web_state.clock = clock
    web_state.login_throttle = LoginThrottle(login_limits(config.web))
    web_state.password_gate = PasswordGate(
        config.web.password_checks, config.web.password_check_queue
    )
    web_state.public_limiter = RateLimiter(config.registry.public_submissions_per_minute, 60)
    app.extensions[EXTENSION] = web_state
    # waitress listens on loopback only, behind the TLS front (edge.web.front), which
    # overwrites both headers: the client's address for the limits, https for HSTS.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
    Babel(app, locale_selector=_select_locale, timezone_selector=lambda: config.site.timezone)

    app.before_request(refuse_login_flood)  # first: before the session or the body is read
    app.before_request(_load_user)
    app.before_request(apply_upload_limit)  # before the CSRF check reads the body
    app.before_request(_check_csrf)
    app.after_request(_finish_response)
    app.teardown_appcontext(close_db)
    app.context_processor(_template_globals)
    app.register_error_handler(HTTPException, _http_error)
    for fault in (sqlite3.DatabaseError, DamagedStoreError, OSError):
        app.register_error_handler(fault, storage_unavailable)
    app.register_error_handler(StickerError, sticker_problem)

    app.before_request(require_password_change)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.add_url_rule("/", "home", _home)
    app.add_url_rule("/healthz", "healthz", _healthz)
    app.jinja_env.filters["local_time"] = _local_time
    app.jinja_env.filters["message"] = _message
    return app


def _select_locale() -> str:
    chosen = request.args.get("lang") or request.cookies.get("lang")
    return chosen if chosen in LANGUAGES else "zh"


def _load_user() -> None:
    g.user = None
    g.session = None
    token = request.cookies.get(sessions.COOKIE_NAME)
    if not token:
        return
    web = state()
    db = get_db()
    settings = web.config.web
    idle = timedelta(minutes=settings.session_idle_minutes)
    role_idle = {"guard": timedelta(minutes=settings.guard_idle_minutes)}
    touch = request.endpoint not in sessions.BACKGROUND_ENDPOINTS
    try:
        with transaction(db) as conn:
            session = sessions.load(conn, token, now(), idle, touch, role_idle)
    except sqlite3.OperationalError:  # a full or read-only disk: read the session, untouched
        session = sessions.load(db.conn, token, now(), idle, False, role_idle)
    if session is not None:
        g.session = session
        g.user = accounts.get_user(db.conn, session.user_id)


def csrf_token() -> str:
    if g.get("session"):
        return g.session.csrf_token
    cookie = request.cookies.get(ANON_COOKIE) or g.get("new_anon_cookie")
    if not cookie or len(cookie) > 64:
        cookie = g.new_anon_cookie = new_cookie_value()
    return anon_csrf_token(state().csrf_secret, cookie)


def _check_csrf() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if g.get("session"):
        expected = g.session.csrf_token
    else:
        cookie = request.cookies.get(ANON_COOKIE, "")
        expected = anon_csrf_token(state().csrf_secret, cookie) if cookie else ""
    if not tokens_match(expected, request.form.get(CSRF_FIELD)):
        abort(400, gettext("This form has expired. Please reload the page and try again."))


def _finish_response(response):
    for name, value in SECURITY_HEADERS.items():
        if request.endpoint == "static" and name == "Cache-Control":
            continue
        response.headers.setdefault(name, value)
    if request.is_secure:  # behind the TLS front (X-Forwarded-Proto) or TLS itself
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    secure = state().config.web.secure_cookies
    if g.get("new_anon_cookie"):
        response.set_cookie(
            ANON_COOKIE, g.new_anon_cookie, httponly=True, samesite="Lax", secure=secure
        )
    lang = request.args.get("lang")
    if lang in LANGUAGES:
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="Lax", secure=secure)
    return response


def _healthz() -> tuple[str, int, dict[str, str]]:
    """Liveness for the systemd watchdog probe: the app answers and the database reads.
    A storage fault answers 503 naming it (edge.web.storage: the probe still counts the
    process alive, since a restart cannot mend a disk)."""
    fault = storage_health(state())
    if fault:
        headers = {"Content-Type": "text/plain; charset=utf-8", FAULT_HEADER: "storage"}
        return f"storage fault: {fault}\n", 503, headers
    get_db().execute("SELECT 1").fetchone()
    return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8"}


def _template_globals() -> dict[str, Any]:
    return {
        "csrf_token": csrf_token,
        "csrf_field": CSRF_FIELD,
        "current_user": g.get("user"),
        "lang": _select_locale(),
        "console_nav": nav_for(g.user.role if g.get("user") else None),
        "nonce_field": NONCE_FIELD,
        "form_nonce": new_nonce,
    }


def _message(value: object) -> str:
    """A message object (a ``Phrase``, a ``UserError``: an English msgid and its parameters,
    such as why a face photo was refused) in the page's language."""
    return str(render_part(value, gettext))


def _local_time(value: str | None) -> str:
    return local_time(value, state().config.site.zone)  # the one format (edge.vocabulary)


def _http_error(error: HTTPException):
    code = error.code or 500
    default = {
        400: gettext("The request could not be understood."),
        403: gettext("You may not see this page."),
        404: gettext("Not found."),
        405: gettext("Not allowed."),
        413: gettext("What you sent is too large."),
        429: gettext("Too many attempts. Please wait a minute and try again."),
    }.get(code, gettext("Something went wrong."))
    custom = error.description and error.description != type(error).description
    message = error.description if custom else default
    title = {
        400: gettext("The request could not be handled"),
        403: gettext("No access to this page"),
        404: gettext("Page not found"),
        405: gettext("Not allowed"),
        413: gettext("Too large"),
        429: gettext("Too many attempts"),
    }.get(code, gettext("Something went wrong"))
    page = render_template("error.html", code=code, title=title, message=message)
    return page, code


def _home():
    user = g.get("user")
    if user is None:
        return redirect(url_for("auth.login"))
    target = {
        "landlord": "landlord.index",
        "guard": "console_live.index",
        "police": "police.search",
        "grid": "police.search",
        "admin": "console_dashboard.index",
        "resident": "console_my_passes.index",
    }[user.role]
    return redirect(url_for(target))


def static_path() -> Path:
    return Path(__file__).with_name("static")
