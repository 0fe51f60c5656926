"""The one authorisation check a blueprint installs: who may enter it at all."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, g, redirect, request, url_for


def require_roles(*roles: str) -> Callable[[], object]:
    """A ``before_request`` hook: anonymous → login page, wrong role → 403."""

    def check() -> object:
        user = g.get("user")
        if user is None:
            if request.method == "GET":
                return redirect(url_for("auth.login"))
            abort(401)
        if user.role not in roles:
            abort(403)
        return None

    return check
