"""The root of Menwei's own errors, and the one class for errors a person can fix.

Why one class for the fixable ones: the command line and the console must tell "you typed
something we cannot use" (say so in one line or next to the field) from a programming error
(let it crash loudly, with its stack trace, in the log). Catching bare ``ValueError`` or
``KeyError`` wholesale turned the second into the first; catching ``UserError`` does not.
Hardware drivers (``gate_drivers``) import nothing of ours and keep their own exceptions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping


class MenweiError(Exception):
    """Root of every error Menwei raises on purpose."""


class UserError(MenweiError, ValueError):
    """Input a person can correct: a malformed plate, an unknown gate, a refused photo.

    ``code`` is stable (logs, tests and the console's own wording key on it); ``message`` is
    an English msgid with ``%(name)s`` placeholders filled from ``params``, so a page can
    show it translated (``render(gettext)``) while ``str()`` reads in English.
    """

    code = "invalid_input"

    def __init__(
        self, message: str, params: Mapping[str, object] | None = None, *, code: str | None = None
    ) -> None:
        self.message = message
        self.params = dict(params or {})
        if code is not None:
            self.code = code
        super().__init__(self.render())

    def render(self, translate: Callable[[str], str] | None = None) -> str:
        """The message in the reader's language (``translate`` is gettext; None: English).
        A parameter that is itself a message (a ``UserError``, or text carrying ``msgid``
        and ``params`` such as ``edge.db_file.Problem``) is rendered in the same language."""
        text = translate(self.message) if translate is not None else self.message
        if not self.params:
            return text
        params = {key: render_part(value, translate) for key, value in self.params.items()}
        return text % params


def render_part(value: object, translate: Callable[[str], str] | None) -> object:
    """``value`` as a reader of ``translate``'s language reads it, when it is a message."""
    if translate is None:
        return value
    if isinstance(value, UserError):
        return value.render(translate)
    msgid, params = getattr(value, "msgid", None), getattr(value, "params", None)
    if isinstance(msgid, str) and isinstance(params, Mapping):
        text = translate(msgid)
        return text % {k: render_part(v, translate) for k, v in params.items()} if params else text
    return value


class Phrase(str):
    """A word or phrase given as a message's parameter that is itself an English msgid
    ("resident", "visitor"): ``str`` is the English, and a ``UserError`` rendered in
    another language renders it in that language too (``render_part``)."""

    msgid: str
    params: dict[str, object]

    def __new__(cls, msgid: str, **params: object) -> Phrase:
        made = super().__new__(cls, msgid % params if params else msgid)
        made.msgid = msgid
        made.params = params
        return made
