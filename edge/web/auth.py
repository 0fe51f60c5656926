"""Login and logout for every console role (the only pages besides the tenant's that an
anonymous visitor may reach). Failed logins are rate limited per username and address."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext

from edge import audit
from edge.db import transaction
from edge.web import accounts, sessions
from edge.web.app import get_db, now, state

bp = Blueprint("auth", __name__, template_folder="templates")


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    if request.method == "GET":
        return render_template("auth/login.html", error=None)
    username = (request.form.get("username") or "").strip()[:64]
    password = request.form.get("password") or ""
    web = state()
    key = f"{username.lower()}|{request.remote_addr}"
    if web.login_limiter.blocked(key):
        abort(429, gettext("Too many failed logins. Please wait a few minutes."))
    db = get_db()
    user = accounts.authenticate(db.conn, username, password)
    if user is None:
        web.login_limiter.hit(key)
        with transaction(db) as conn:
            audit.append(conn, "anonymous", "login_failed", "", {"address": request.remote_addr})
        return render_template("auth/login.html", error=gettext("Wrong username or password.")), 401
    web.login_limiter.reset(key)
    max_age = timedelta(hours=web.config.web.session_max_hours)
    with transaction(db) as conn:
        token, _session = sessions.create(conn, user.id, now(), max_age)
        audit.append(conn, f"user:{user.id}", "login", f"user:{user.id}")
    response = redirect(url_for("home"))
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
def logout():  # type: ignore[no-untyped-def]
    if g.get("session"):
        with transaction(get_db()) as conn:
            sessions.delete(conn, g.session.id)
            audit.append(conn, f"user:{g.user.id}" if g.user else "anonymous", "logout")
    response = redirect(url_for("auth.login"))
    response.delete_cookie(sessions.COOKIE_NAME)
    return response
