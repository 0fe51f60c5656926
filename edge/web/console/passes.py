"""Visitor passes (console blueprint ``console_passes``, see edge.web.console)."""

from __future__ import annotations

from flask import Blueprint, render_template

from edge.web.console import ROLES
from edge.web.roles import require_roles

bp = Blueprint("console_passes", __name__, url_prefix="/passes", template_folder="templates")
bp.before_request(require_roles(*ROLES["console_passes"]))


@bp.route("/", endpoint="index")
def index():  # type: ignore[no-untyped-def]
    return render_template("console/passes.html")
