"""Login and logout for every console role (the only pages besides the tenant's that an
anonymous visitor may reach).

A login attempt is refused before any password hash when its username at its address, its
address or the whole box is past its failure budget (edge.web.limits.LoginThrottle), and
the hash itself waits for one of the few password slots (PasswordGate): a flood of made-up
usernames gets 429s, not the consoles' threads. Failures are counted per address and hour
for the audit log (edge.web.login_audit), not written one row each.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext

from edge import audit
from edge.db import transaction
from edge.web import accounts, login_audit, sessions
from edge.web.context import get_db, now, state
from edge.web.limits import GateBusy

bp = Blueprint("auth", __name__, template_folder="templates")


# Plain text in both languages: a refusal under a flood must cost next to nothing (no
# template, no translation lookup), or answering the flood starves the consoles instead.
_BUSY = "请稍后再试。Too many login attempts; please try again in a moment.\n"


def client_address() -> str:
    return request.remote_addr or "unknown"


def refuse_login_flood() -> Response | None:
    """App ``before_request``, registered first: a login POST from an address (or to a box)
    past its failure budget, or while every password slot is taken, is answered 429 before
    the session, the CSRF check or the body are even read."""
    if request.method != "POST" or request.endpoint != "auth.login":
        return None
    web = state()
    if web.login_throttle.address_refusal(client_address()) or web.password_gate.full():
        headers = {"Content-Type": "text/plain; charset=utf-8", "Retry-After": "5"}
        return Response(_BUSY, 429, headers)
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("auth/login.html", error=None)
    username = (request.form.get("username") or "").strip()[:64]
    password = request.form.get("password") or ""
    web = state()
    address = client_address()
    if web.login_throttle.refusal(username, address) is not None:
        abort(429, gettext("Too many failed logins. Please wait a few minutes."))
    db = get_db()
    try:
        with web.password_gate.busy():
            user = accounts.authenticate(db.conn, username, password)
    except GateBusy:
        abort(429, gettext("Many people are logging in right now. Please try again in a moment."))
    if user is None:
        web.login_throttle.failed(username, address)
        login_audit.note_failure(db, address, now())
        return render_template("auth/login.html", error=gettext("Wrong username or password.")), 401
    web.login_throttle.succeeded(username, address)
    max_age = timedelta(hours=web.config.web.session_max_hours)
    with transaction(db) as conn:
        token, _session, ended = sessions.create(
            conn, user.id, now(), max_age, address, request.headers.get("User-Agent", "")
        )
        details = {"address": address, "ended_sessions": ended} if ended else {"address": address}
        audit.append(conn, f"user:{user.id}", "login", f"user:{user.id}", details)
    target = url_for("account.password") if user.must_change_password else url_for("home")
    response = redirect(target)
    response.set_cookie(
        sessions.COOKIE_NAME,
        token,
        max_age=int(max_age.total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=web.config.web.secure_cookies,
    )
    return response


@bp.route("/logout", methods=["POST"])
def logout():
    if g.get("session"):
        with transaction(get_db()) as conn:
            sessions.delete(conn, g.session.id)
            audit.append(conn, f"user:{g.user.id}" if g.user else "anonymous", "logout")
    response = redirect(url_for("auth.login"))
    response.delete_cookie(sessions.COOKIE_NAME)
    return response
