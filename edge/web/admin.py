"""Admin console: accounts (create, deactivate) and the audit log with its verification."""

from __future__ import annotations

import re

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext

from edge import audit
from edge.db import transaction
from edge.vocabulary import AUDIT_ACTIONS, Vocabulary
from edge.web import accounts
from edge.web.access import require_roles
from edge.web.context import actor, get_db, now, state

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")
bp.before_request(require_roles("admin"))


def _page(
    verified: audit.VerifyResult | None = None, message: str = "", code: int = 200, error: str = ""
):
    """The admin page; ``message`` says what was done, ``error`` what was refused (each in
    its own box: a refusal never shows as a success)."""
    db = get_db()
    page = render_template(
        "admin/index.html",
        users=accounts.list_users(db.conn),
        roles=accounts.ROLES,
        entries=audit.recent(db, 50),
        words=Vocabulary(gettext, state().config.site.zone),
        audit_actions=AUDIT_ACTIONS,
        verified=verified,
        message=message,
        error=error,
    )
    return page, code


@bp.route("/")
def index():
    return _page()


@bp.route("/users", methods=["POST"])
def create_user():
    form = request.form
    db = get_db()
    raw_resident = form.get("resident", "").strip()
    if raw_resident and not re.fullmatch(r"[0-9]{1,9}", raw_resident):
        return _page(error=gettext("A resident number has digits only."), code=400)
    resident_id = int(raw_resident) if raw_resident else None
    try:
        with transaction(db) as conn:
            user = accounts.create_user(
                conn,
                form.get("username", ""),
                form.get("password", ""),
                form.get("role", ""),
                now(),
                form.get("display_name", "").strip(),
                resident_id=resident_id,
            )
            details: dict[str, object] = {"role": user.role}
            if resident_id is not None:
                details["resident_id"] = resident_id
            audit.append(conn, actor(), "create_user", f"user:{user.id}", details)
    except accounts.AccountError as exc:
        return _page(error=exc.render(gettext), code=400)
    return _page(message=gettext("Account created."))


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
def deactivate(user_id: int):
    with transaction(get_db()) as conn:
        accounts.set_active(conn, user_id, False)
        audit.append(conn, actor(), "deactivate_user", f"user:{user_id}")
    return redirect(url_for("admin.index")), 303


@bp.route("/users/<int:user_id>/reactivate", methods=["POST"])
def reactivate(user_id: int):
    try:
        with transaction(get_db()) as conn:
            accounts.set_active(conn, user_id, True)
            audit.append(conn, actor(), "reactivate_user", f"user:{user_id}")
    except accounts.AccountError:
        return _page(error=gettext("This account cannot be reactivated."), code=409)
    return redirect(url_for("admin.index")), 303


@bp.route("/users/<int:user_id>/reset", methods=["POST"])
def reset_password(user_id: int):
    """A one-time password, shown once here; the user must change it at the next login."""
    try:
        with transaction(get_db()) as conn:
            temporary = accounts.reset_password(conn, user_id, now())
            audit.append(conn, actor(), "reset_password", f"user:{user_id}")
    except accounts.AccountError:
        return _page(error=gettext("There is no such account."), code=404)
    message = gettext(
        "One-time password for this account: %(password)s — hand it over in person; it must "
        "be changed at the next login and is not shown again.",
        password=temporary,
    )
    return _page(message=message)


@bp.route("/audit/verify", methods=["POST"])
def verify():
    db = get_db()
    result = audit.verify(db, state().config.audit_checkpoint_path)
    audit.record(db, actor(), "audit_verify", "", ok=result.ok, rows=result.rows)
    return _page(verified=result)
