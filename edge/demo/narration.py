"""How the demo and ``menwei gate`` tell a decision: one line per outcome, in the site's
time, with the reasons exactly as they are stored in the event log."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from edge.gates.runner import GateOutcome

INDENT = " " * 10  # lines that continue an outcome's line


def describe_outcome(outcome: GateOutcome, zone: ZoneInfo | None = None) -> str:
    """One line per decision, time in the site's zone, with the stored reasons."""
    when = outcome.occurred_at.astimezone(zone).strftime("%H:%M:%S")
    plate = outcome.plate or "(unread)"
    why = "; ".join(r["message"] for r in outcome.reasons)
    action = (
        "OPEN  → barrier pulsed" if outcome.decision == "open" else "DENY  → barrier stays down"
    )
    line = f"{when}  {plate:<10} {action}  — {why}"
    if outcome.alert_event_id:
        line += f"\n{INDENT}ALERT raised (event {outcome.alert_event_id})"
    return line


def describe_person_outcome(outcome: GateOutcome, zone: ZoneInfo | None = None) -> str:
    """One line per pedestrian-gate event; subjects are labels like "resident 3", never names."""
    when = outcome.occurred_at.astimezone(zone).strftime("%H:%M:%S")
    why = "; ".join(r["message"] for r in outcome.reasons)
    if outcome.decision == "open":
        action = "OPEN  → lock released"
    elif outcome.decision == "deny":
        action = "DENY  → door stays locked"
    else:
        action = "EVENT"
    who = f"{outcome.subject} — " if outcome.subject else "— "
    return f"{when}  {outcome.kind:<18} {action}  {who}{why}"
