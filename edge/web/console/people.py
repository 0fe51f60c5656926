"""Residents and households (console blueprint ``console_people``, /people; admin, guard).

Why it is written this way:
- Lists show names masked (``张**``); the full name only on the resident's own page, and
  opening that page is audit-logged like any reveal of personal data.
- Every change commits in one transaction with its audit row (ids, field names and counts;
  never a name or a PIN) and, when it creates something, the form's nonce: a double submit
  creates nothing twice (edge.web.console.forms).
- Only kind 'resident' rows: visitors with a face pass belong to the passes console, and
  their ids are 404 here like ids that do not exist.
- After a change the browser is redirected (303) to a page with a fixed ``done`` code, so a
  reload never resends the form and works without JavaScript.
Faces, PIN and plates are in people_credentials.py (same blueprint, same role check).
"""

from __future__ import annotations

from math import ceil

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext

from edge import audit
from edge.people.addresses import (
    ROOM_CHOICE,
    AddressError,
    delete_household,
    household_uses,
    link_household,
)
from edge.people.residents import (
    ResidentError,
    count_households,
    count_residents,
    delete_resident,
    hosted,
    insert_resident,
    list_households,
    list_residents,
    set_active,
    update_resident,
)
from edge.people.vehicles import list_vehicles
from edge.vocabulary import GROUPS, Vocabulary
from edge.web.confirm import Confirmation, confirm_first, confirmation_page
from edge.web.console import people_credentials  # noqa: F401  (registers its routes on bp)
from edge.web.console.forms import claim_nonce
from edge.web.console.people_common import (
    RID,
    back_to,
    bp,
    change,
    check_known_group,
    known_groups,
    resident_or_404,
    resident_page,
    vault,
    who,
)
from edge.web.console.people_messages import done_text, error_text
from edge.web.context import actor, get_db, now, state

__all__ = ["bp"]

PAGE_SIZE = 100
HOUSEHOLD_PAGE_SIZE = 50  # each row lists its residents and vehicles
_STATUS = {"all": None, "active": True, "inactive": False}


@bp.app_template_filter("group_label")
def _group_label(group: str) -> str:
    """An access group in the reader's language (a group the installer named: as named)."""
    return Vocabulary(gettext, state().config.site.zone).word(GROUPS, group)


def _household_query() -> str:
    query = request.args.get("q", "").strip()
    if len(query) > 40:
        abort(400, gettext("Search for at most 40 characters of a household label."))
    return query


def _page_arg() -> int:
    raw_page = request.args.get("page", "1")
    if not (raw_page.isascii() and raw_page.isdigit()) or not 1 <= int(raw_page) <= 100_000:
        abort(400, gettext("There is no such page."))
    return int(raw_page)


def _vehicles_by_household() -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for vehicle in list_vehicles(get_db()):
        if vehicle["household"]:
            grouped.setdefault(vehicle["household"], []).append(vehicle)
    return grouped


@bp.route("/", endpoint="index")
def index():
    """Residents, masked, with household, group, state, credentials and plates."""
    query, status = _household_query(), request.args.get("status", "all")
    if status not in _STATUS:
        abort(400, gettext("Choose all, active or inactive."))
    page = _page_arg()
    db = get_db()
    found = {"household": query or None, "active": _STATUS[status]}
    total = count_residents(db, **found)
    rows = list_residents(
        db, vault(), masked=True, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **found
    )
    return render_template(
        "console/people.html",
        rows=rows,
        total=total,
        q=query,
        status=status,
        page=page,
        pages=max(1, ceil(total / PAGE_SIZE)),
        vehicles=_vehicles_by_household(),
        done=done_text(request.args.get("done")),
    )


@bp.route("/households", endpoint="households")
def households():
    """Households with their residents (masked) and vehicles, one page at a time.

    Only the page's residents are read: each masked name costs a decryption, and a
    community has thousands of residents.
    """
    query, page = _household_query(), _page_arg()
    db = get_db()
    total = count_households(db, query or None)
    homes = list_households(
        db, query or None, limit=HOUSEHOLD_PAGE_SIZE, offset=(page - 1) * HOUSEHOLD_PAGE_SIZE
    )
    members: dict[str, list[dict]] = {}
    on_page = [home["id"] for home in homes]
    for resident in list_residents(db, vault(), masked=True, household_ids=on_page):
        members.setdefault(resident["household"], []).append(resident)
    return render_template(
        "console/people_households.html",
        homes=homes,
        members=members,
        vehicles=_vehicles_by_household(),
        q=query,
        total=total,
        page=page,
        pages=max(1, ceil(total / HOUSEHOLD_PAGE_SIZE)),
    )


def _household_or_404(household_id: int) -> None:
    if not get_db().execute("SELECT 1 FROM households WHERE id = ?", [household_id]).fetchone():
        abort(404, gettext("There is no such household."))


@bp.route(
    f"/households/<int(max={2**31 - 1}):household_id>/link",
    methods=["POST"],
    endpoint="household_link",
)
def household_link(household_id: int):
    """Put a household flagged for review (its label did not read as an address) into the
    room the picker names; its residents and vehicles move with it."""
    _household_or_404(household_id)
    chosen = ROOM_CHOICE.match(request.form.get("room", ""))
    if chosen is None:
        abort(400, gettext("Choose a room from the list."))
    try:
        with change() as conn:
            kept = link_household(conn, household_id, int(chosen.group(1)), now())
            details = {"room_id": int(chosen.group(1)), "into": kept}
            audit.append(
                conn, actor(), "household_link", f"household:{household_id}", details, now()
            )
    except AddressError:
        abort(400, gettext("Choose a room from the list."))
    return redirect(url_for("console_people.households"), 303)


def _household_unused() -> bool:
    """A household still in use gets its refusal at once, not a question first."""
    household_id = int((request.view_args or {}).get("household_id", 0))
    return not any(household_uses(get_db().conn, household_id).values())


def _household_loss(household_id: int) -> Confirmation:
    row = get_db().execute("SELECT label FROM households WHERE id = ?", [household_id]).fetchone()
    if row is None:
        abort(404, gettext("There is no such household."))
    return Confirmation(
        gettext("Delete the household %(label)s?", label=row[0]),
        [gettext("the household and the other spellings kept for its address")],
        gettext("Delete the household"),
        url_for("console_people.households"),
        keeps=[gettext("its room, which other households or a tenant registration may use")],
    )


@bp.route(
    f"/households/<int(max={2**31 - 1}):household_id>/delete",
    methods=["POST"],
    endpoint="household_delete",
)
@confirm_first(_household_loss, when=_household_unused)
def household_delete(household_id: int):
    """Delete an empty household; one with residents or vehicles stays, and says so."""
    _household_or_404(household_id)
    try:
        with change() as conn:
            delete_household(conn, household_id)
            audit.append(conn, actor(), "household_delete", f"household:{household_id}", {}, now())
    except AddressError:
        abort(409, gettext("This household still has residents or vehicles: move them first."))
    return redirect(url_for("console_people.households"), 303)


def _new_page(form: dict[str, str], error: str = "", status: int = 200) -> tuple[str, int]:
    page = render_template("console/people_new.html", form=form, error=error, groups=known_groups())
    return page, status


@bp.route("/new", methods=["GET", "POST"], endpoint="new")
def new():
    """Add a resident: name (stored encrypted), household (created if new), access group."""
    form = {"name": "", "household": request.args.get("household", "")[:40], "group": "residents"}
    if request.method == "GET":  # ?household= prefills it (the households page links so)
        return _new_page(form)
    form = {key: request.form.get(key, "") for key in form}
    try:
        with change() as conn:
            claim_nonce(conn, actor(), "resident_add", now())
            check_known_group(form["group"])
            rid = insert_resident(
                conn, vault(), form["name"], form["household"], form["group"], now()
            )
            household_id = conn.execute(
                "SELECT household_id FROM residents WHERE id = ?", (rid,)
            ).fetchone()[0]
            details = {"household_id": household_id, "group": form["group"].strip()}
            audit.append(conn, actor(), "resident_add", f"resident:{rid}", details, now())
    except ResidentError as exc:
        return _new_page(form, error_text(exc), 400)
    return redirect(url_for("console_people.resident", rid=rid, done="added"), 303)


@bp.route(f"/{RID}", endpoint="resident")
def resident(rid: int):
    return resident_page(rid)


@bp.route(f"/{RID}/edit", methods=["POST"], endpoint="edit")
def edit(rid: int):
    """Change name, household and group; audited with the names of the changed fields."""
    resident_or_404(rid)
    form = {key: request.form.get(key, "") for key in ("name", "household", "group")}
    try:
        check_known_group(form["group"])
        with change() as conn:
            changed = update_resident(
                conn, vault(), rid, form["name"], form["household"], form["group"], now()
            )
            if changed:
                household_id = conn.execute(
                    "SELECT household_id FROM residents WHERE id = ?", (rid,)
                ).fetchone()[0]
                details = {"changed": changed, "household_id": household_id}
                audit.append(conn, actor(), "resident_edit", f"resident:{rid}", details, now())
    except ResidentError as exc:
        return resident_page(rid, error=error_text(exc), form=form, status=400)
    done = "saved" if changed else "unchanged"
    return redirect(url_for("console_people.resident", rid=rid, done=done), 303)


def _deactivate_loss(rid: int) -> Confirmation:
    person = resident_or_404(rid)
    return Confirmation(
        gettext("Deactivate %(who)s?", who=who(person)),
        [gettext("their face and PIN stop opening every gate at once")],
        gettext("Deactivate"),
        back_to(rid),
        keeps=[gettext("nothing is deleted: reactivate them on this page at any time")],
        reversible=True,
    )


@bp.route(f"/{RID}/active", methods=["POST"], endpoint="set_active")
@confirm_first(_deactivate_loss, when=lambda: request.form.get("active") == "0")
def set_active_view(rid: int):
    """Deactivate (face and PIN stop opening at once: the gates' index drops inactive
    residents and the policy denies them) or reactivate."""
    resident_or_404(rid)
    value = request.form.get("active")
    if value not in ("0", "1"):
        abort(400, gettext("Choose deactivate or reactivate."))
    active = value == "1"
    with change() as conn:
        changed = set_active(conn, rid, active)
        if changed:
            action = "resident_reactivate" if active else "resident_deactivate"
            audit.append(conn, actor(), action, f"resident:{rid}", {}, now())
    done = ("reactivated" if active else "deactivated") if changed else "unchanged"
    return redirect(url_for("console_people.resident", rid=rid, done=done), 303)


def _delete_loss(rid: int) -> Confirmation:
    person = resident_or_404(rid)
    taken = hosted(get_db(), rid)
    losses = [
        gettext("their record (name, household, access group)"),
        gettext("%(n)s face template(s)", n=person["templates"]),
        gettext("their PIN") if person["has_pin"] else gettext("no PIN"),
        gettext(
            "%(n)s QR pass(es) and %(v)s visitor(s) they host",
            n=taken["passes"],
            v=taken["visitors"],
        ),
    ]
    if taken["accounts"]:
        losses.append(gettext("their login for their own visitor passes (it stops working)"))
    return Confirmation(
        gettext("Delete %(who)s?", who=who(person)),
        losses,
        gettext("Delete the resident and their biometric data"),
        back_to(rid),
        keeps=[gettext("Their household and its plates stay.")],
    )


@bp.route(f"/{RID}/delete", methods=["GET", "POST"], endpoint="delete")
@confirm_first(_delete_loss)
def delete(rid: int):
    """GET (the link on the resident's page) and a first POST ask; the confirmed POST
    deletes the resident and all that goes with them in one transaction."""
    if request.method == "GET":
        return confirmation_page(_delete_loss(rid))
    resident_or_404(rid)
    with change() as conn:
        counts = delete_resident(conn, rid)
        audit.append(conn, actor(), "resident_delete", f"resident:{rid}", counts, now())
    return redirect(url_for("console_people.index", done="deleted"), 303)
