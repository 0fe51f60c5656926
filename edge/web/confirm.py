"""One confirmation step for every destructive or irreversible action, without JavaScript.

A view decorated with ``confirm_first(describe)`` acts only on a POST that carries
``confirmed=yes``. Any other POST (the button on the page the action sits on) changes
nothing: it answers a confirmation page that names what will be lost (``describe`` builds
it from the same URL arguments the view gets) and re-posts the form's own fields, with the
confirm field added, to the same URL. So one click can never destroy, a reload of the
confirmation page posts it again only as the user chose, and the form's one-time nonce (if
any) is claimed only by the second POST, which is the one that acts.

``describe`` runs after the blueprint's role check and may abort (404 for an unknown id):
the confirmation page is never shown for something that does not exist.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import render_template, request
from flask.typing import ResponseReturnValue

from edge.web.guards import CSRF_FIELD

CONFIRM_FIELD = "confirmed"
CONFIRM_VALUE = "yes"


@dataclass(frozen=True)
class Confirmation:
    """What the confirmation page says: the question, each thing that will be lost, the
    words on the button that acts, and where "Cancel" goes back to."""

    question: str
    losses: list[str]
    button: str
    cancel_url: str
    keeps: list[str] = field(default_factory=list)  # what stays (reassures; optional)
    reversible: bool = False  # True: "until this is undone" instead of "cannot be undone"


def confirmed() -> bool:
    return request.form.get(CONFIRM_FIELD) == CONFIRM_VALUE


def confirmation_page(confirmation: Confirmation, status: int = 200) -> tuple[str, int]:
    """The page that asks; its form re-posts this request's fields (the CSRF token fresh)."""
    carried = [
        (name, value)
        for name, value in request.form.items(multi=True)
        if name not in (CSRF_FIELD, CONFIRM_FIELD)
    ]
    page = render_template(
        "confirm.html",
        c=confirmation,
        action=request.path,
        carried=carried,
        confirm_field=CONFIRM_FIELD,
        confirm_value=CONFIRM_VALUE,
    )
    return page, status


def confirm_first(
    describe: Callable[..., Confirmation],
    when: Callable[[], bool] = lambda: True,
) -> Callable[[Callable[..., ResponseReturnValue]], Callable[..., ResponseReturnValue]]:
    """Decorate a POST view: without the confirm field it shows ``describe(**view_args)``'s
    confirmation page and changes nothing. ``when`` narrows which requests are destructive
    (deactivate, not reactivate)."""

    def wrap(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
        @functools.wraps(view)
        def guarded(**kwargs: Any) -> ResponseReturnValue:
            if request.method == "POST" and when() and not confirmed():
                return confirmation_page(describe(**kwargs))
            return view(**kwargs)

        guarded.asks_first = True  # type: ignore[attr-defined]
        return guarded

    return wrap


def asks_first(view: Callable[..., Any]) -> bool:
    """Is ``view`` wrapped by ``confirm_first`` (a test checks every destructive endpoint)."""
    return bool(getattr(view, "asks_first", False))
