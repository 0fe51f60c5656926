"""The community's rooms in the browser (console blueprint ``console_rooms``, /rooms; admin):
list and search, landlords (one room or many at once), a new sticker token (after a
confirmation: the old sticker stops working), deleting an unused room, sticker sheets.

Why it is written this way:
- Every change commits with its audit row (room ids and counts, never a name).
- A new token is a two-step form: the confirmation page says the printed sticker stops
  working, and only its POST with ``confirm=yes`` replaces it.
- Stickers are a POST (printing gives rooms made in bulk their first token: a write),
  answered with the PDF; the QR's address is ``[registry] base_url``.
"""

from __future__ import annotations

from math import ceil

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_babel import gettext

from edge import audit
from edge.db import transaction
from edge.people.addresses import (
    AddressError,
    communities,
    delete_room,
    get_room,
    list_rooms,
    rename_community,
    room_uses,
    set_landlord,
    tree,
)
from edge.web.access import require_console_roles
from edge.web.confirm import Confirmation, confirm_first
from edge.web.console.data_messages import problem_text, uses_text
from edge.web.context import actor, get_db, now, state
from qr_registry.rooms import ensure_tokens, issue_token
from qr_registry.rooms import list_rooms as registry_rooms
from qr_registry.stickers import LAYOUTS, sticker_sheet_pdf

bp = Blueprint("console_rooms", __name__, url_prefix="/rooms", template_folder="templates")
bp.before_request(require_console_roles("console_rooms"))

PAGE_SIZE = 100
MAX_STICKERS = 3000  # one PDF; a 2,600-room community prints in one go
_MAX_ID = 2**31 - 1
ROOM = f"<int(max={_MAX_ID}):room_id>"
COMMUNITY = f"<int(max={_MAX_ID}):community_id>"


def _landlords() -> list[dict]:
    rows = get_db().execute(
        "SELECT id, username, display_name FROM users WHERE role = 'landlord' AND active = 1"
        " ORDER BY username"
    )
    return [{"id": r[0], "username": r[1], "display_name": r[2]} for r in rows]


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "")
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) > _MAX_ID:
        abort(400, gettext("There is no such page."))
    return int(raw)


@bp.route("/", endpoint="index")
def index(error: str = "", status: int = 200):
    """Rooms by building, unit and number; search by address; filter by landlord."""
    query = request.args.get("q", "").strip()
    if len(query) > 40:
        abort(400, gettext("Search for at most 40 characters of an address."))
    landlord = request.args.get("landlord", "")
    if landlord not in ("", "none") and not (landlord.isascii() and landlord.isdigit()):
        abort(400, gettext("Choose a landlord from the list."))
    building = _int_arg("building")
    page = _int_arg("page") or 1
    total, rooms = list_rooms(
        get_db().conn, query, building, landlord, PAGE_SIZE, (page - 1) * PAGE_SIZE
    )
    return render_template(
        "console/rooms.html",
        rooms=rooms,
        total=total,
        q=query,
        landlord=landlord,
        building=building,
        buildings=tree(get_db().conn),
        communities=communities(get_db().conn),
        community_error=error,
        landlords=_landlords(),
        page=page,
        pages=max(1, ceil(total / PAGE_SIZE)),
        made=_int_arg("made"),
        done=request.args.get("done", "") if status == 200 else "",
        layouts=list(LAYOUTS),
    ), status


@bp.route(f"/community/{COMMUNITY}/name", methods=["POST"], endpoint="rename_community")
def rename(community_id: int):
    """Rename a community (the default "本小区" made before a property existed, a typo):
    audited with the old and the new name; a bad or taken name is said on the page."""
    name = request.form.get("name", "")
    try:
        with transaction(get_db()) as conn:
            old = rename_community(conn, community_id, name)
            new = " ".join(name.split())
            if old != new:
                details = {"from": old, "to": new}
                audit.append(conn, actor(), "community_rename", f"community:{community_id}",
                             details, now())  # fmt: skip
    except AddressError as exc:
        if exc.code == "no_community":
            abort(404, gettext("There is no such community."))
        return index(error=problem_text(exc.code, exc.params), status=400)
    return redirect(url_for("console_rooms.index", done="renamed") + "#communities", 303)


def _room_ids() -> list[int]:
    raw = request.form.getlist("room")
    if not raw or len(raw) > 5000:
        abort(400, gettext("Choose one or more rooms."))
    if not all(r.isascii() and r.isdigit() and int(r) <= _MAX_ID for r in raw):
        abort(400, gettext("Choose one or more rooms."))
    return sorted({int(r) for r in raw})


@bp.route("/landlord", methods=["POST"], endpoint="landlord")
def landlord():
    """Give the chosen rooms a landlord (or none)."""
    rooms = _room_ids()
    raw = request.form.get("landlord", "")
    if raw != "none" and not (raw.isascii() and raw.isdigit()):
        abort(400, gettext("Choose a landlord from the list."))
    landlord_id = None if raw == "none" else int(raw)
    try:
        with transaction(get_db()) as conn:
            changed = set_landlord(conn, rooms, landlord_id)
            details = {"rooms": len(rooms), "changed": changed, "landlord_id": landlord_id}
            audit.append(conn, actor(), "rooms_landlord", "rooms", details, now())
    except AddressError:
        abort(400, gettext("Choose a landlord from the list."))
    back = request.form.get("back", "")
    if back.isdigit():
        return redirect(url_for("console_rooms.room", room_id=int(back), done="landlord"), 303)
    return redirect(url_for("console_rooms.index", done="landlord"), 303)


def _room_or_404(room_id: int):
    room = get_room(get_db().conn, room_id)
    if room is None:
        abort(404, gettext("There is no such room."))
    return room


@bp.route(f"/{ROOM}", endpoint="room")
def room(room_id: int, error: str = "", status: int = 200):
    found = _room_or_404(room_id)
    conn = get_db().conn
    token = conn.execute(
        "SELECT created_at FROM room_tokens WHERE room_id = ? AND retired_at IS NULL", (room_id,)
    ).fetchone()
    page = render_template(
        "console/room.html",
        room=found,
        uses=room_uses(conn, room_id),
        token_since=token[0] if token else None,
        landlords=_landlords(),
        error=error,
        done=request.args.get("done", "") if status == 200 else "",
        layouts=list(LAYOUTS),
    )
    return page, status


@bp.route(f"/{ROOM}/token", methods=["GET", "POST"], endpoint="token")
def token(room_id: int):
    """A new sticker token: confirm first; the printed sticker then says 'replaced'."""
    found = _room_or_404(room_id)
    if request.method == "GET" or request.form.get("confirm") != "yes":
        return render_template("console/room_token.html", room=found)
    with transaction(get_db()) as conn:
        issue_token(conn, room_id, now())
        audit.append(conn, actor(), "room_token_replace", f"room:{room_id}", {}, now())
    return redirect(url_for("console_rooms.room", room_id=room_id, done="token"), 303)


def _room_loss(room_id: int) -> Confirmation:
    found = _room_or_404(room_id)
    return Confirmation(
        gettext("Delete the room %(label)s?", label=found.label),
        [gettext("the room, its sticker's QR code (it stops working) and its landlord link")],
        gettext("Delete the room"),
        url_for("console_rooms.room", room_id=room_id),
    )


def _room_unused() -> bool:
    """A room still in use gets its refusal at once, not a question first."""
    room_id = int((request.view_args or {}).get("room_id", 0))
    return not any(room_uses(get_db().conn, room_id).values())


@bp.route(f"/{ROOM}/delete", methods=["POST"], endpoint="delete")
@confirm_first(_room_loss, when=_room_unused)
def delete(room_id: int):
    """Delete an unused room; one in use stays, and the page says what uses it."""
    _room_or_404(room_id)
    conn = get_db().conn
    uses = room_uses(conn, room_id)
    try:
        with transaction(get_db()) as tx:
            delete_room(tx, room_id)
            audit.append(tx, actor(), "room_delete", f"room:{room_id}", {}, now())
    except AddressError as exc:
        if exc.code != "in_use":
            raise
        text = problem_text("in_use", {"uses": uses_text(uses)})
        return room(room_id, error=text, status=409)
    return redirect(url_for("console_rooms.index", done="deleted"), 303)


@bp.route("/stickers.pdf", methods=["POST"], endpoint="stickers")
def stickers():
    """Sticker sheets for the chosen rooms, or a whole building's (``building``)."""
    layout = request.form.get("layout", "a4")
    if layout not in LAYOUTS:
        abort(400, gettext("Choose a sticker size from the list."))
    conn = get_db().conn
    if request.form.get("building"):
        raw = request.form["building"]
        if not (raw.isascii() and raw.isdigit()):
            abort(400, gettext("Choose a building from the list."))
        wanted = [r.id for r in registry_rooms(conn, building_id=int(raw))]
    else:
        wanted = _room_ids()
    if not wanted:
        abort(400, gettext("Choose one or more rooms."))
    if len(wanted) > MAX_STICKERS:
        abort(400, gettext("At most %(n)s stickers at once.", n=MAX_STICKERS))
    with transaction(get_db()) as tx:
        issued = ensure_tokens(tx, wanted, now())
        details = {"rooms": len(wanted), "tokens_issued": issued, "layout": layout}
        audit.append(tx, actor(), "stickers_print", "rooms", details, now())
    order = {room_id: index for index, room_id in enumerate(wanted)}
    rooms = sorted((r for r in registry_rooms(conn) if r.id in order), key=lambda r: order[r.id])
    config = state().config
    pdf = sticker_sheet_pdf(
        rooms,
        config.registry.base_url,
        title=gettext("QR stickers"),
        layout=layout,
        controller=config.registry.controller,
    )  # a StickerError (no font) is the app's zh page (edge.web.printing)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": "attachment; filename=stickers.pdf",
            "Cache-Control": "no-store",
        },
    )
