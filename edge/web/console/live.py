"""Live (console blueprint ``console_live``, see edge.web.console)."""

from __future__ import annotations

from flask import Blueprint, render_template

from edge.web.console import ROLES
from edge.web.roles import require_roles

bp = Blueprint("console_live", __name__, url_prefix="/console", template_folder="templates")
bp.before_request(require_roles(*ROLES["console_live"]))


@bp.route("/", endpoint="index")
def index():  # type: ignore[no-untyped-def]
    return render_template("console/live.html")


@bp.route("/health", endpoint="health")
def health():  # type: ignore[no-untyped-def]
    return render_template("console/health.html")
