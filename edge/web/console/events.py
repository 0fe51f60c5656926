"""Gate events (console blueprint ``console_events``, see edge.web.console)."""

from __future__ import annotations

from flask import Blueprint, render_template

from edge.web.console import ROLES
from edge.web.roles import require_roles

bp = Blueprint("console_events", __name__, url_prefix="/events", template_folder="templates")
bp.before_request(require_roles(*ROLES["console_events"]))


@bp.route("/", endpoint="search")
def search():  # type: ignore[no-untyped-def]
    return render_template("console/events.html")
