"""Who may enter which pages: the one authorisation check a blueprint installs, and the
console's roles per blueprint with the endpoints open to fewer roles.

Each blueprint calls one of these from its ``before_request``; the URL-map test
(tests/test_console_authorisation.py) walks every rule against these tables.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, g, redirect, request, url_for
from flask.typing import ResponseReturnValue

from edge.web.i18n import N_

CONSOLE_ROLES = {
    "console_dashboard": ("admin", "police", "grid"),
    "console_live": ("admin", "guard"),
    "console_events": ("admin", "guard", "police", "grid"),
    "console_people": ("admin", "guard"),
    "console_passes": ("admin", "guard"),
    "console_watchlist": ("admin", "police"),
    "console_my_passes": ("resident",),
    "console_data": ("admin",),
    "console_rooms": ("admin",),
}

# Endpoints open to fewer roles than their blueprint; checked in the same one place.
NARROWER = {
    "console_events.export": ("admin", "police"),  # bulk copies of gate events leave the box
    "console_live.forget_box": ("admin",),  # a removed gate box leaves the hub's lists
}

# (endpoint, label msgid, blueprint whose roles decide who sees the link), in menu order.
NAV = (
    ("console_dashboard.index", N_("Dashboard"), "console_dashboard"),
    ("console_live.index", N_("Live"), "console_live"),
    ("console_events.search", N_("Gate events"), "console_events"),
    ("console_people.index", N_("Residents"), "console_people"),
    ("console_passes.index", N_("Visitor passes"), "console_passes"),
    ("console_watchlist.index", N_("Watchlist"), "console_watchlist"),
    ("console_rooms.index", N_("Rooms"), "console_rooms"),
    ("console_data.index", N_("Bulk data"), "console_data"),
    ("console_live.health", N_("Health"), "console_live"),
    ("console_my_passes.index", N_("My visitor passes"), "console_my_passes"),
)


def require_roles(*roles: str) -> Callable[[], ResponseReturnValue | None]:
    """A ``before_request`` hook: anonymous → login page, wrong role → 403."""

    def check() -> ResponseReturnValue | None:
        user = g.get("user")
        if user is None:
            if request.method == "GET":
                return redirect(url_for("auth.login"))
            abort(401)
        if user.role not in roles:
            abort(403)
        return None

    return check


def allowed_roles(endpoint: str) -> tuple[str, ...]:
    """The roles that may use ``endpoint`` (a console endpoint)."""
    return NARROWER.get(endpoint) or CONSOLE_ROLES[endpoint.split(".")[0]]


def require_console_roles(blueprint: str) -> Callable[[], ResponseReturnValue | None]:
    """A console blueprint's one ``before_request``: its roles, then any narrower endpoint
    rule."""
    check_blueprint = require_roles(*CONSOLE_ROLES[blueprint])

    def check() -> ResponseReturnValue | None:
        refused = check_blueprint()
        if refused is not None:
            return refused
        if g.user.role not in allowed_roles(request.endpoint or blueprint):
            abort(403)
        return None

    return check


def nav_for(role: str | None) -> list[tuple[str, str]]:
    """(endpoint, label) of the console pages ``role`` may open."""
    if role is None:
        return []
    return [(endpoint, label) for endpoint, label, bp in NAV if role in CONSOLE_ROLES[bp]]
