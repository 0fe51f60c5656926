"""Watchlist (console blueprint ``console_watchlist``, see edge.web.console)."""

from __future__ import annotations

from flask import Blueprint, render_template

from edge.web.console import ROLES
from edge.web.roles import require_roles

bp = Blueprint("console_watchlist", __name__, url_prefix="/watchlist", template_folder="templates")
bp.before_request(require_roles(*ROLES["console_watchlist"]))


@bp.route("/", endpoint="index")
def index():  # type: ignore[no-untyped-def]
    return render_template("console/watchlist.html")
