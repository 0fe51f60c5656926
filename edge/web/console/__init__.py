"""The guard and admin console: blueprints of the one web app (``edge.web.app``).

They share the app's accounts, roles, sessions, CSRF check and audit log. Each blueprint
is one audience's set of pages and checks its roles once, in a ``before_request``:

| blueprint | prefix | roles | what |
| --- | --- | --- | --- |
| ``console_live`` | ``/console`` | admin, guard | live view per gate, manual open, health |
| ``console_events`` | ``/events`` | admin, guard, police, grid | search, event, snapshot, feed |
| ``console_people`` | ``/people`` | admin, guard | residents, households, faces, plates, PINs |
| ``console_passes`` | ``/passes`` | admin, guard | visitor passes by QR, plate or face |
| ``console_watchlist`` | ``/watchlist`` | admin, police | plates and faces on the watchlist |
| ``console_my_passes`` | ``/my`` | resident | a resident's own visitor passes (QR, plate) |

Police and grid workers' reads of gate events are audit-logged (the rule for every access
by police); guards' and admins' changes are audit-logged too.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, g, request

from edge.web.roles import require_roles

ROLES = {
    "console_live": ("admin", "guard"),
    "console_events": ("admin", "guard", "police", "grid"),
    "console_people": ("admin", "guard"),
    "console_passes": ("admin", "guard"),
    "console_watchlist": ("admin", "police"),
    "console_my_passes": ("resident",),
}

# Endpoints open to fewer roles than their blueprint; checked in the same one place.
NARROWER = {
    "console_events.export": ("admin", "police"),  # bulk copies of gate events leave the box
}


def allowed_roles(endpoint: str) -> tuple[str, ...]:
    """The roles that may use ``endpoint`` (a console endpoint)."""
    return NARROWER.get(endpoint) or ROLES[endpoint.split(".")[0]]


def require_console_roles(blueprint: str) -> Callable[[], object]:
    """The blueprint's one ``before_request``: its roles, then any narrower endpoint rule."""
    check_blueprint = require_roles(*ROLES[blueprint])

    def check() -> object:
        refused = check_blueprint()
        if refused is not None:
            return refused
        if g.user.role not in allowed_roles(request.endpoint or blueprint):
            abort(403)
        return None

    return check


def N_(msgid: str) -> str:
    """Marks a msgid for extraction; it is translated where it is shown (the template)."""
    return msgid


# (endpoint, label msgid, blueprint whose roles decide who sees the link), in menu order.
NAV = (
    ("console_live.index", N_("Live"), "console_live"),
    ("console_events.search", N_("Gate events"), "console_events"),
    ("console_people.index", N_("Residents"), "console_people"),
    ("console_passes.index", N_("Visitor passes"), "console_passes"),
    ("console_watchlist.index", N_("Watchlist"), "console_watchlist"),
    ("console_live.health", N_("Health"), "console_live"),
    ("console_my_passes.index", N_("My visitor passes"), "console_my_passes"),
)


def blueprints() -> list[Blueprint]:
    """Every console blueprint, for ``create_app`` to register."""
    from edge.web.console.events import bp as events_bp
    from edge.web.console.live import bp as live_bp
    from edge.web.console.my_passes import bp as my_passes_bp
    from edge.web.console.passes import bp as passes_bp
    from edge.web.console.people import bp as people_bp
    from edge.web.console.watchlist import bp as watchlist_bp

    return [live_bp, events_bp, people_bp, passes_bp, watchlist_bp, my_passes_bp]


def nav_for(role: str | None) -> list[tuple[str, str]]:
    """(endpoint, label) of the console pages ``role`` may open."""
    if role is None:
        return []
    return [(endpoint, label) for endpoint, label, bp in NAV if role in ROLES[bp]]
