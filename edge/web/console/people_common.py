"""The ``console_people`` blueprint itself and what its two route modules share.

The routes live in people.py (list, households, add, edit, (de)activate, delete) and
people_credentials.py (faces, PIN, plates); both register on ``bp`` here, so the role check
is installed once, for every route, in this one place.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import gettext

from edge import audit
from edge.db import transaction
from edge.people.addresses import access_groups, picker_groups
from edge.people.residents import ResidentError, get_resident
from edge.people.vehicles import list_vehicles
from edge.pii import PiiVault
from edge.web.access import require_console_roles
from edge.web.console.faces import capture_gates
from edge.web.console.forms import DuplicateSubmission
from edge.web.console.people_messages import done_text
from edge.web.context import actor, get_db, state

bp = Blueprint("console_people", __name__, url_prefix="/people", template_folder="templates")
bp.before_request(require_console_roles("console_people"))

_MAX_ID = 2**31 - 1  # a larger id in a URL would overflow SQLite's integer: 404, never 500
RID = f"<int(max={_MAX_ID}):rid>"
VID = f"<int(max={_MAX_ID}):vid>"


def vault() -> PiiVault:
    return state().vault


def resident_or_404(rid: int) -> dict[str, Any]:
    """The resident (kind resident) with full name; 404 for a visitor or an unknown id."""
    found = get_resident(get_db(), vault(), rid)
    if found is None:
        abort(404, gettext("There is no such resident."))
    return found


def who(person: dict[str, Any]) -> str:
    """A resident named on a confirmation page: number, masked name, household."""
    return gettext(
        "resident #%(id)s %(name)s (household %(household)s)",
        id=person["id"],
        name=person["name_masked"],
        household=person["household"] or "—",
    )


def back_to(rid: int) -> str:
    return url_for("console_people.resident", rid=rid)


def duplicate() -> NoReturn:
    abort(
        409,
        gettext(
            "This form was already sent; nothing was done twice. Open the page again to see"
            " the result."
        ),
    )


@contextmanager
def change() -> Iterator[sqlite3.Connection]:
    """One write transaction for a change to a resident: a second submit of the same
    form is 409, a resident deleted meanwhile (by another guard) 404; both change nothing."""
    try:
        with transaction(get_db()) as conn:
            yield conn
    except DuplicateSubmission:
        duplicate()
    except ResidentError as exc:
        if exc.code != "no_resident":
            raise
        abort(404, gettext("There is no such resident."))


def known_groups() -> list[dict[str, str]]:
    """Access groups to choose from, with their labels: the named ones (edge.people.addresses),
    those the gates name in [gates.access] and those in use; never ``visitors``."""
    gate_groups = {"residents"}
    for gate in state().config.gates:
        if gate.kind == "pedestrian":
            gate_groups.update(gate.access)
    return access_groups(get_db().conn, gate_groups)


def check_known_group(group: str) -> None:
    """ResidentError ``unknown_group`` unless ``group`` is one a form may choose."""
    if group.strip() not in {known["name"] for known in known_groups()}:
        raise ResidentError("unknown_group", "choose an access group from the list")


@bp.app_context_processor
def _pickers() -> dict[str, Any]:
    """``room_choices()`` for the room picker of any console form (read only when called)."""
    return {"room_choices": lambda: picker_groups(get_db().conn)}


def district_vehicle_ids(household_id: int | None) -> set[int]:
    """Plates the district platform manages: its downlink replaces them, so no local remove."""
    if household_id is None:
        return set()
    rows = get_db().execute(
        "SELECT id FROM vehicles WHERE household_id = ? AND source = 'district'", (household_id,)
    )
    return {row[0] for row in rows}


def resident_page(
    rid: int,
    *,
    error: str = "",
    refused: tuple | list = (),
    form: dict[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The resident's own page (the only one with the full name: showing it is audited)."""
    person = resident_or_404(rid)
    db = get_db()
    audit.record(db, actor(), "view", f"resident:{rid}")
    plates = list_vehicles(db, household=person["household"]) if person["household"] else []
    page = render_template(
        "console/people_resident.html",
        person=person,
        form=form or {k: person[k] or "" for k in ("name", "household", "group")},
        plates=[p for p in plates if p["kind"] == "resident"],
        district=district_vehicle_ids(person["household_id"]),
        has_photo=db.execute(
            "SELECT 1 FROM resident_face_photos WHERE resident_id = ?", [rid]
        ).fetchone()
        is not None,
        groups=known_groups(),
        capture_gates=capture_gates(state().config),
        error=error,
        refused=refused,
        done=done_text(
            request.args.get("done"),
            request.args.get("live"),
            state().config.recognition.liveness.threshold,
        )
        if status == 200
        else "",
    )
    return page, status
