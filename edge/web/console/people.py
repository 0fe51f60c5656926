"""Residents (console blueprint ``console_people``, see edge.web.console)."""

from __future__ import annotations

from flask import Blueprint, render_template

from edge.web.console import ROLES
from edge.web.roles import require_roles

bp = Blueprint("console_people", __name__, url_prefix="/people", template_folder="templates")
bp.before_request(require_roles(*ROLES["console_people"]))


@bp.route("/", endpoint="index")
def index():  # type: ignore[no-untyped-def]
    return render_template("console/people.html")
