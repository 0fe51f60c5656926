"""How the demo and ``menwei gate`` tell a decision: one line per outcome, in the site's
time and the locale's language (``LANG=zh_CN.UTF-8`` → Chinese), with the reasons rendered
from their codes and parameters by edge.vocabulary, as every other surface shows them."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from edge.errors import render_part
from edge.gates.runner import GateOutcome
from edge.vocabulary import N_, Vocabulary, locale_language, translator

INDENT = " " * 10  # lines that continue an outcome's line
ACTIONS = {
    ("vehicle", "open"): N_("OPEN  → barrier pulsed"),
    ("vehicle", "deny"): N_("DENY  → barrier stays down"),
    ("pedestrian", "open"): N_("OPEN  → lock released"),
    ("pedestrian", "deny"): N_("DENY  → door stays locked"),
    ("pedestrian", "none"): N_("EVENT"),
    ("vehicle", "none"): N_("EVENT"),
}


def told(msgid: str, **params: object) -> str:
    """A line of the demo's own story in the locale's language, its ``%(name)s``
    placeholders filled from ``params``."""
    translate = translator(locale_language())
    text = translate(msgid)
    return text % {k: render_part(v, translate) for k, v in params.items()} if params else text


def kind_label(kind: str) -> str:
    """An event kind's label in the locale's language."""
    return _words(None).kind(kind)


def who(label: str | None) -> str:
    """A people label ("resident 1 of household 3-1-402") in the locale's language."""
    return _words(None).who(label)


def _words(zone: ZoneInfo | None) -> Vocabulary:
    return Vocabulary.for_language(locale_language(), zone or ZoneInfo("UTC"))


def describe_outcome(outcome: GateOutcome, zone: ZoneInfo | None = None) -> str:
    """One line per vehicle-gate decision; a guard's manual open is told as one."""
    words = _words(zone)
    when = words.time(outcome.occurred_at, seconds=True)[11:]
    why = words.reasons(outcome.reasons)
    action = words.gettext(ACTIONS["vehicle", outcome.decision])
    if outcome.kind == "manual_open":
        line = f"{when}  {words.kind('manual_open')}  {action}  — {why}"
    else:
        plate = outcome.plate or words.gettext(N_("(unread)"))
        line = f"{when}  {plate:<10} {action}  — {why}"
    if outcome.alert_event_id:
        raised = words.gettext(N_("ALERT raised (event %(id)s)")) % {"id": outcome.alert_event_id}
        line += f"\n{INDENT}{raised}"
    return line


def describe_person_outcome(outcome: GateOutcome, zone: ZoneInfo | None = None) -> str:
    """One line per pedestrian-gate event; subjects are labels like "resident 3", never names."""
    words = _words(zone)
    when = words.time(outcome.occurred_at, seconds=True)[11:]
    why = words.reasons(outcome.reasons)
    action = words.gettext(ACTIONS["pedestrian", outcome.decision])
    subject = words.subject(outcome.subject)
    who = f"{subject} — " if subject else "— "
    return f"{when}  {words.kind(outcome.kind):<18} {action}  {who}{why}"
