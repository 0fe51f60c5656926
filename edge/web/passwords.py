"""The password rule: long enough, and not guessable from breach lists or the account.

Why zxcvbn (the Python port of Dropbox's estimator) and not a list of our own: it ships
the frequency lists of passwords seen in real breaches (with common words, names and
keyboard patterns) and scores how many guesses a password needs, counting repeats
(``aaaaaaaaaa``), sequences, dates, l33t spellings and the account's own words. A
password must be 10-200 characters and reach score 3 ("safely unguessable": about 10^8
guesses or more), with the username, display name and site name as words it may not lean on.
Only the first 100 characters are scored: zxcvbn's matching grows with the square of the
length, and longer passwords pass on length alone.
"""

from __future__ import annotations

import secrets

from zxcvbn import zxcvbn

from edge.errors import UserError

MIN_LENGTH = 10
MAX_LENGTH = 200
MIN_SCORE = 3
_SCORED_CHARS = 100
_TEMPORARY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


class WeakPassword(UserError):
    """A password the rule refuses; ``reason`` (also its ``code``) is ``length`` or
    ``guessable``."""

    def __init__(self, reason: str, message: str, params: dict[str, object] | None = None) -> None:
        super().__init__(message, params, code=reason)
        self.reason = reason


def check(password: object, words: tuple[str, ...] = ()) -> None:
    """Raise WeakPassword unless ``password`` meets the rule; ``words`` are the account's."""
    if not isinstance(password, str) or not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise WeakPassword(
            "length",
            "A password needs %(min)s to %(max)s characters.",
            {"min": MIN_LENGTH, "max": MAX_LENGTH},
        )
    inputs = [w for w in words if w]
    if zxcvbn(password[:_SCORED_CHARS], user_inputs=inputs)["score"] < MIN_SCORE:
        raise WeakPassword(
            "guessable",
            "This password is too easy to guess (common, a pattern, or built from the "
            "account's name); use a longer one, e.g. several unrelated words.",
        )


def temporary() -> str:
    """A one-time password an admin hands over (changed at its first use): 4 groups of 4."""
    chars = [secrets.choice(_TEMPORARY_ALPHABET) for _ in range(16)]
    return "-".join("".join(chars[i : i + 4]) for i in range(0, 16, 4))
