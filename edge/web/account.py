"""Every signed-in user's own account: change the password, see and end sessions.

``/account/password`` changes the password (the current one is checked through the same
password slots as a login) and ends every other session; an account whose password an
admin reset is sent here before anything else (``require_password_change``).
``/account/sessions`` lists the user's sessions (when, from where, which browser, last
action) with "end" per session and "sign out everywhere".
"""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from edge import audit
from edge.db import transaction
from edge.web import accounts, passwords, sessions
from edge.web.access import require_roles
from edge.web.context import get_db, now, state
from edge.web.limits import GateBusy

bp = Blueprint("account", __name__, url_prefix="/account", template_folder="templates")
bp.before_request(require_roles(*accounts.ROLES))

# Where an account that must change its password may still go.
_ALLOWED_BEFORE_CHANGE = frozenset({"account.password", "auth.logout", "static"})


def require_password_change() -> ResponseReturnValue | None:
    """App-wide ``before_request``: a reset password is changed before anything else."""
    user = g.get("user")
    if user is None or not user.must_change_password:
        return None
    if request.endpoint in _ALLOWED_BEFORE_CHANGE:
        return None
    if request.method == "GET":
        return redirect(url_for("account.password"))
    abort(403, gettext("Please choose a new password first."))


def _weak_message(exc: passwords.WeakPassword) -> str:
    if exc.reason == "length":
        return gettext("A password needs 10 to 200 characters.")
    return gettext(
        "This password is too easy to guess (common, a pattern, or built from your name). "
        "Use a longer one, e.g. several unrelated words."
    )


@bp.route("/password", methods=["GET", "POST"])
def password():
    user = g.user
    if request.method == "GET":
        return render_template(
            "account/password.html", error=None, forced=user.must_change_password
        )
    form = request.form
    current, new, again = (form.get(k) or "" for k in ("current", "new", "again"))

    def refuse(message: str, code: int = 400):
        page = render_template(
            "account/password.html", error=message, forced=user.must_change_password
        )
        return page, code

    if new != again:
        return refuse(gettext("The two new passwords differ."))
    try:
        passwords.check(new, (user.username, user.display_name))
    except passwords.WeakPassword as exc:
        return refuse(_weak_message(exc))
    db = get_db()
    try:
        with state().password_gate.busy():
            right = accounts.check_password(db.conn, user.id, current)
    except GateBusy:
        abort(429, gettext("Many people are logging in right now. Please try again in a moment."))
    if not right:
        state().login_throttle.failed(user.username, request.remote_addr or "unknown")
        return refuse(gettext("The current password is wrong."), 403)
    try:
        with transaction(db) as conn:
            ended = accounts.change_password(conn, user, new, now(), g.session.id)
            audit.append(
                conn, f"user:{user.id}", "change_password", f"user:{user.id}", {"ended": ended}
            )
    except accounts.AccountError:
        return refuse(gettext("The new password must differ from the current one."))
    return redirect(url_for("account.sessions_page", changed=1)), 303


@bp.route("/sessions", endpoint="sessions_page")
def sessions_page():
    rows = sessions.list_for_user(get_db().conn, g.user.id)
    for row in rows:
        row["current"] = row.pop("full_id") == g.session.id
    notice = (
        gettext("Password changed; your other sessions were ended.")
        if (request.args.get("changed") == "1")
        else ""
    )
    return render_template("account/sessions.html", sessions=rows, notice=notice)


@bp.route("/sessions/end", methods=["POST"])
def end_session():
    with transaction(get_db()) as conn:
        if sessions.end_one(conn, g.user.id, request.form.get("session", "")):
            audit.append(conn, f"user:{g.user.id}", "end_session", f"user:{g.user.id}")
    return redirect(url_for("account.sessions_page")), 303


@bp.route("/sessions/end-all", methods=["POST"])
def end_all():
    with transaction(get_db()) as conn:
        ended = sessions.end_others(conn, g.user.id, g.session.id)
        sessions.delete(conn, g.session.id)
        audit.append(
            conn, f"user:{g.user.id}", "sign_out_everywhere", f"user:{g.user.id}",
            {"ended": ended + 1},
        )  # fmt: skip
    response = redirect(url_for("auth.login"))
    response.delete_cookie(sessions.COOKIE_NAME)
    return response, 303
