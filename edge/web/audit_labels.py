"""How the audit log reads on the audit page: its action and object codes through the one
vocabulary (``edge.vocabulary.AUDIT_ACTIONS``/``AUDIT_PARTIES``), actors shown by account
name, details as short "key: value" text, and the chain verification's result in words.

The stored codes stay English (they are what the chain signs and the district receives);
a code this version does not know is shown as it is.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext

from edge.audit import VerifyResult
from edge.vocabulary import Vocabulary
from edge.web.context import state
from edge.web.i18n import N_


def _words() -> Vocabulary:
    return Vocabulary(gettext, state().config.site.zone)


def action_label(code: str) -> str:
    return _words().audit_action(code)


def object_kind_label(kind: str) -> str:
    return _words().party(kind)


def object_label(target: str, usernames: dict[int, str] | None = None) -> str:
    """``registration:01J…`` → ``登记 01J…``, ``user:3`` → its account's name; a target
    without a kind is shown as it is."""
    return _words().party(target, usernames) if target else ""


def actor_label(actor: str, usernames: dict[int, str]) -> str:
    """``user:3`` → the account's username (``#3`` if it is gone); system actors labelled."""
    return _words().party(actor, usernames)


def details_shown(raw: str) -> list[tuple[str, str, bool]]:
    """Details as (label, value, diagnostic?) in the reader's language (edge.vocabulary)."""
    return _words().audit_details(raw)


PROBLEMS = (
    ("cannot verify", N_("The audit key could not be read, so nothing could be checked.")),
    ("truncated", N_("Entries at the end of the log were removed.")),
    ("re-hashed", N_("Entries were rewritten and their links computed again.")),
    ("its content was changed", N_("An entry's content was changed after it was written.")),
    ("does not link", N_("An entry does not link to the one before it.")),
    ("is missing", N_("An entry is missing from the middle of the log.")),
    ("not signed by this box", N_("A checkpoint was not signed by this box.")),
)


def verification(result: VerifyResult, zone: Any) -> dict[str, Any]:
    """The result in plain words: ok or the kind of problem, where, and the checkpoint."""
    plain = next((gettext(text) for prefix, text in PROBLEMS if prefix in result.problem), "")
    checkpoint = result.checkpoint
    return {
        "ok": result.ok,
        "rows": result.rows,
        "first_bad": result.first_bad_seq,
        "plain": plain or result.problem,
        "technical": result.problem,
        "checkpoint_seq": checkpoint.seq if checkpoint else None,
        "checkpoint_at": checkpoint.at if checkpoint else None,
    }
