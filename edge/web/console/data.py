"""Bulk data in the browser (console blueprint ``console_data``, /data; admin only):
templates, workbook import with a preview, export, faces from a ZIP, a building's rooms
at once. The rooms list and the stickers are rooms.py on the same blueprint.

Why it is written this way:
- Upload → preview → commit: the uploaded workbook waits between the two steps in the data
  folder, encrypted with the PII key (it holds names and phones) under a random handle
  that only this admin's preview page carries, and is deleted when committed or after an
  hour. The commit re-plans it inside its own transaction (edge.people.bulk_import).
- Every refusal of a whole file (too large, not a workbook, a hostile ZIP) is a 400 page
  with the reason, and changes nothing.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from pathlib import Path

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext

from edge import audit
from edge.db import transaction
from edge.errors import UserError
from edge.people.addresses import (
    AddressError,
    access_groups,
    generate_rooms,
    parse_range,
    set_access_group,
    tree,
)
from edge.people.bulk_import import ImportPlan, export_rows, import_workbook
from edge.people.face_import import import_faces
from edge.people.residents import ResidentError
from edge.people.workbook import MAX_UPLOAD_BYTES, SHEETS, VEHICLE_KIND_LABELS, build_workbook
from edge.web.access import require_console_roles
from edge.web.console.data_messages import count_label, problem_text
from edge.web.console.faces import face_recogniser
from edge.web.console.forms import DuplicateSubmission, accepts_uploads_up_to, claim_nonce
from edge.web.context import actor, get_db, now, state

bp = Blueprint("console_data", __name__, url_prefix="/data", template_folder="templates")
bp.before_request(require_console_roles("console_data"))

FACE_ZIP_LIMIT = 64 * 1024 * 1024  # through the browser; larger sets: `menwei data faces`
STAGED_FOR_S = 3600
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_PURPOSE = "bulk_import.staged"


def _gate_groups() -> set[str]:
    config = state().config
    return {g for gate in config.gates if gate.kind == "pedestrian" for g in gate.access}


def _choices() -> dict[str, list[str]]:
    db = get_db()
    landlords = [r[0] for r in db.execute("SELECT username FROM users WHERE role = 'landlord'")]
    return {
        "building": [b["name"] for b in tree(db.conn)],
        "group": [g["label"] for g in access_groups(db.conn, _gate_groups())],
        "kind": list(VEHICLE_KIND_LABELS.values()),
        "landlord": landlords,
    }


def _xlsx(data: bytes, name: str) -> Response:
    return Response(
        data,
        mimetype=_XLSX,
        headers={
            "Content-Disposition": f"attachment; filename={name}",
            "Cache-Control": "no-store",
        },
    )


def _page(status: int = 200, **context: object) -> tuple[str, int]:
    defaults: dict[str, object] = {
        "groups": access_groups(get_db().conn, _gate_groups()),
        "error": "",
        "plan": None,
        "problems": [],
        "handle": "",
        "faces": None,
        "form": {},
        "committed": False,
        "count_label": count_label,
    }
    return render_template("console/data.html", **{**defaults, **context}), status


@bp.route("/", endpoint="index")
def index():
    return _page()


@bp.route("/template.xlsx", endpoint="template")
def template():
    sheets: dict[str, list[list[object]]] = {kind: [] for kind in SHEETS}
    return _xlsx(build_workbook(sheets, _choices(), with_sample=True), "menwei-template.xlsx")


@bp.route("/export.xlsx", endpoint="export")
def export():
    """Every room, resident (names in full, phones masked) and vehicle: audited."""
    db = get_db()
    rows = export_rows(db, state().vault, state().config.site.zone)
    audit.record(db, actor(), "export", "workbook", **{k: len(v) for k, v in rows.items()})
    return _xlsx(build_workbook(rows, _choices(), with_sample=False), "menwei-export.xlsx")


# -- the staged upload between preview and commit --------------------------------------------
def _stage_dir() -> Path:
    folder = state().config.storage.data_dir / "imports"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for old in folder.glob("*.bin"):
        if time.time() - old.stat().st_mtime > STAGED_FOR_S:
            old.unlink(missing_ok=True)
    return folder


def _stage_path(handle: str) -> Path:
    digest = hashlib.sha256(f"{actor()}:{handle}".encode()).hexdigest()
    return _stage_dir() / f"{digest}.bin"


def _stage(data: bytes) -> str:
    handle = secrets.token_urlsafe(24)
    _stage_path(handle).write_bytes(state().vault.encrypt(data, _PURPOSE))
    return handle


def _staged(handle: str) -> bytes:
    if not (10 <= len(handle) <= 64 and handle.replace("-", "").replace("_", "").isalnum()):
        abort(400, gettext("Upload the workbook again."))
    path = _stage_path(handle)
    if not path.exists():
        abort(400, gettext("This preview has expired: upload the workbook again."))
    return state().vault.decrypt(path.read_bytes(), _PURPOSE)


def _plan(data: bytes, commit: bool) -> ImportPlan:
    return import_workbook(
        get_db(),
        state().vault,
        data,
        state().config.site.zone,
        actor(),
        now(),
        commit,
        _gate_groups(),
    )


@bp.route("/import", methods=["POST"], endpoint="upload")
@accepts_uploads_up_to(MAX_UPLOAD_BYTES + 64 * 1024)
def upload():
    """Dry run: every bad row with its row number and reason; the file waits for commit."""
    sent = request.files.get("workbook")
    data = sent.read(MAX_UPLOAD_BYTES + 1) if sent else b""
    try:
        plan = _plan(data, commit=False)
    except UserError as exc:
        return _page(400, error=problem_text(exc.code, exc.params))
    problems = [(p.sheet, p.row, problem_text(p.code, p.params)) for p in plan.problems]
    handle = _stage(data) if not problems and plan.changes else ""
    return _page(200 if not problems else 400, plan=plan, problems=problems, handle=handle)


@bp.route("/import/commit", methods=["POST"], endpoint="commit")
def commit():
    handle = request.form.get("handle", "")
    data = _staged(handle)
    try:
        plan = _plan(data, commit=True)
    except UserError as exc:
        return _page(400, error=problem_text(exc.code, exc.params))
    problems = [(p.sheet, p.row, problem_text(p.code, p.params)) for p in plan.problems]
    if plan.committed or not problems:
        _stage_path(handle).unlink(missing_ok=True)
    return _page(200 if not problems else 400, plan=plan, problems=problems, committed=True)


@bp.route("/faces", methods=["POST"], endpoint="faces")
@accepts_uploads_up_to(FACE_ZIP_LIMIT)
def faces():
    """Photos named by resident number; each judged and reported; accepted ones stored."""
    sent = request.files.get("archive")
    data = sent.read(FACE_ZIP_LIMIT + 1) if sent else b""
    if not data:
        return _page(400, error=gettext("Choose a ZIP file of photos."))
    consent = request.form.get("consent") == "yes"
    try:
        with face_recogniser() as recogniser:
            report = import_faces(
                get_db(),
                state().vault,
                recogniser,
                data,
                g.user.username,
                consent,
                actor(),
                now(),
                commit=True,
            )
    except ResidentError as exc:
        if exc.code == "consent_missing":
            return _page(400, error=gettext("Confirm that every resident in the photos consented."))
        raise
    except UserError as exc:
        return _page(400, error=problem_text(exc.code, exc.params))
    return _page(faces=report)


@bp.route("/groups", methods=["POST"], endpoint="groups")
def groups():
    """Name an access group (the code the gates' [gates.access] uses) with its label."""
    name, label = request.form.get("name", "")[:40], request.form.get("label", "")[:40]
    try:
        with transaction(get_db()) as conn:
            set_access_group(conn, name, label, now())
            audit.append(conn, actor(), "access_group_set", f"group:{name.strip()}", {}, now())
    except AddressError as exc:
        return _page(400, error=problem_text(exc.code, exc.params))
    return redirect(url_for("console_data.index") + "#groups", 303)


@bp.route("/rooms/generate", methods=["POST"], endpoint="generate")
def generate():
    """Every room of a building: units × floors × rooms per floor (floor 12 room 3: 1203)."""
    form = {
        k: request.form.get(k, "").strip()[:40] for k in ("building", "units", "floors", "rooms")
    }
    try:
        with transaction(get_db()) as conn:
            claim_nonce(conn, actor(), "rooms_generate", now())
            made = generate_rooms(
                conn,
                form["building"],
                parse_range(form["units"], 1, 99, "units"),
                parse_range(form["floors"], 1, 200, "floors"),
                parse_range(form["rooms"], 1, 99, "rooms"),
                now(),
            )
            if made["made"]:
                target = f"building:{form['building']}"
                audit.append(conn, actor(), "rooms_generate", target, made, now())
    except AddressError as exc:
        return _page(400, error=problem_text(exc.code, exc.params), form=form)
    except DuplicateSubmission:
        abort(409, gettext("This form was already sent; nothing was done twice."))
    return redirect(url_for("console_rooms.index", q=form["building"], made=made["made"]), 303)
