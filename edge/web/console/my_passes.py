"""A resident's own visitor passes (blueprint ``console_my_passes``, /my; role resident).

A resident or a guard issues a pass; this is the resident's half (the guards' is
``edge.web.console.passes``). A resident account is linked to one resident
(``resident_accounts``, made by an admin); the resident issues QR and plate passes with
themselves as host, sees the passes they host and revokes them. Why this shape:
- The host is never a form field here: it is the account's resident, resolved on every
  request (``before_request``), so a resident cannot issue a pass for another household,
  and a deactivated or deleted resident's account stops working at once.
- The same request reading, library calls, nonce and audit rows as the guards' pages
  (edge.web.console.pass_requests, edge.people.visitors): a pass means the same whoever issued it.
- No face passes: storing a visitor's face needs that visitor's consent in person, which a
  guard takes at the gate (``console_passes``).
- A resident revokes only passes they host; any other id is "no such pass" (404), so the
  page does not reveal which pass ids exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext

from edge.people.visitors import (
    STATUSES,
    Host,
    PassTermsError,
    count_by_status,
    list_passes,
    resolve_host,
)
from edge.web.access import require_console_roles
from edge.web.accounts import resident_of
from edge.web.confirm import Confirmation, confirm_first
from edge.web.console.forms import DuplicateSubmission
from edge.web.console.pass_forms import qr_data_uri
from edge.web.console.pass_requests import (
    Refused,
    duplicate,
    issue_from_form,
    read_form,
    revoke_loss,
    revoke_pass,
)
from edge.web.console.passes import DONE, KINDS, STATUS_LABELS, form_defaults
from edge.web.context import get_db, now

bp = Blueprint("console_my_passes", __name__, url_prefix="/my", template_folder="templates")
bp.before_request(require_console_roles("console_my_passes"))

_MAX_ID = 2**31 - 1
OFFERED = ("qr", "plate")  # no face passes: see the module docstring


@bp.before_request
def _resolve_resident() -> None:
    """The account's resident, active, with a household: or the account may do nothing."""
    conn = get_db().conn
    resident_id = resident_of(conn, g.user.id)
    try:
        g.own_host = resolve_host(conn, "", resident_id) if resident_id is not None else None
    except PassTermsError:
        g.own_host = None
    if g.own_host is None:
        abort(403, gettext("This account belongs to no active resident with a household."))


def _host() -> Host:
    return g.own_host


def _host_now(conn: Any, _errors: dict[str, str]) -> Host:
    """The host again inside the issuing transaction: the resident may have been deactivated
    or moved since the request began (a PassTermsError then refuses the form)."""
    return resolve_host(conn, "", _host().resident_id)


def _own_passes() -> list[dict[str, Any]]:
    return [
        row for row in list_passes(get_db(), now()) if row["host_resident"] == _host().resident_id
    ]


@bp.route("/", endpoint="index")
def index():
    """The passes this resident hosts, newest first, with their status."""
    status = request.args.get("status", "all")
    if status != "all" and status not in STATUSES:
        abort(400, gettext("Choose one of the listed statuses."))
    rows = _own_passes()
    done = DONE.get(request.args.get("done", ""))
    return render_template(
        "console/passes.html",
        pass_bp="console_my_passes",
        own_host=_host(),
        rows=rows if status == "all" else [r for r in rows if r["status"] == status],
        counts=count_by_status(rows),
        total=len(rows),
        status=status,
        statuses=STATUSES,
        status_labels=STATUS_LABELS,
        kinds=KINDS,
        offered=OFFERED,
        done=gettext(done) if done else "",
    )


def _form_page(kind: str, form: dict[str, str], errors: dict[str, str], status: int = 200):
    page = render_template(
        "console/passes_new.html",
        pass_bp="console_my_passes",
        own_host=_host(),
        kind=kind,
        kinds=KINDS,
        form=form,
        errors=errors,
        refused=(),
        max_photos=0,
    )
    return page, status


@bp.route("/new/<kind>", endpoint="new")
def new(kind: str):
    if kind not in OFFERED:
        abort(404, gettext("There is no such kind of pass."))
    return _form_page(kind, form_defaults(), {})


@bp.route("/new/qr", methods=["POST"], endpoint="issue_qr")
def issue_qr_view():
    """Issue a QR pass with this resident as host, and show its code this once."""
    form = read_form()
    try:
        issued = issue_from_form("qr", form, _host_now)
    except Refused as refused:
        return _form_page("qr", form, refused.errors, status=400)
    except DuplicateSubmission:
        duplicate()
    return render_template(  # no-store, like every page (edge.web.guards)
        "console/passes_issued.html",
        pass_bp="console_my_passes",
        own_host=issued.host,
        pass_id=issued.pass_id,
        qr=qr_data_uri(issued.token),
        terms=issued.terms,
        host=issued.host,
        note=issued.note,
    )


@bp.route("/new/plate", methods=["POST"], endpoint="issue_plate")
def issue_plate_view():
    """Issue a counted plate pass with this resident as host."""
    form = read_form()
    try:
        issue_from_form("plate", form, _host_now)
    except Refused as refused:
        return _form_page("plate", form, refused.errors, status=400)
    except DuplicateSubmission:
        duplicate()
    return redirect(url_for("console_my_passes.index", done="plate"), 303)


_HOSTED_BY = {
    "qr": "SELECT host_resident_id FROM qr_passes WHERE id = ?",
    "plate": "SELECT resident_id FROM vehicles WHERE id = ? AND kind = 'visitor'",
    "face": "SELECT host_resident_id FROM residents WHERE id = ? AND kind = 'visitor'",
}


def _hosted_by_me(kind: str, pass_id: int) -> Callable[[Any], bool]:
    if kind not in _HOSTED_BY:
        abort(404, gettext("There is no such kind of pass."))

    def hosted_by_me(conn: Any) -> bool:
        row = conn.execute(_HOSTED_BY[kind], (pass_id,)).fetchone()
        return row is not None and row[0] == _host().resident_id

    return hosted_by_me


def _revoke_loss(kind: str, pass_id: int) -> Confirmation:
    mine = _hosted_by_me(kind, pass_id)
    return revoke_loss(kind, pass_id, mine, url_for("console_my_passes.index"))


@bp.route(f"/<kind>/<int(max={_MAX_ID}):pass_id>/revoke", methods=["POST"], endpoint="revoke")
@confirm_first(_revoke_loss)
def revoke_view(kind: str, pass_id: int):
    """Stop one of this resident's passes at once."""
    revoke_pass(kind, pass_id, _hosted_by_me(kind, pass_id))
    return redirect(url_for("console_my_passes.index", done="revoked"), 303)
