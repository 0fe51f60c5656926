"""``menwei resident ...`` and ``menwei pass ...``: thin click commands over edge.people.residents
and edge.people.passes, for the pedestrian gate.

The CLI runs as the box's administrator, who holds the PII key, so ``resident list`` shows
names; they are printed, never logged. Face enrolment refuses to run without the operator
who recorded the resident's consent, prints every refused photo with its reason, and then
stores nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from edge.cli.common import (
    Column,
    cli_group,
    config_option,
    fail,
    parse_time,
    print_table,
    read_config,
    say,
    shown,
    store_and_vault,
    tr,
    words,
)
from edge.vocabulary import GROUPS, N_, STATUSES, locale_language, zone_label

RESIDENT_COLUMNS: list[Column] = [
    (N_("No."), lambda r, w: f"#{r['id']}"),
    (N_("Name"), lambda r, w: r.get("name") or ""),
    (N_("Household"), lambda r, w: r["household"] or ""),
    (N_("Group"), lambda r, w: w.word(GROUPS, r["group"])),
    (N_("State"), lambda r, w: w.word(STATUSES, "active" if r["active"] else "inactive")),
    (N_("Faces"), lambda r, w: str(r["templates"])),
    (N_("PIN"), lambda r, w: w.yes_no(r["has_pin"])),
    (N_("Face consent"), lambda r, w: w.time(r["face_consent_at"])),
]
PASS_COLUMNS: list[Column] = [
    (N_("No."), lambda r, w: f"#{r['id']}"),
    (N_("For"), lambda r, w: w.who(r["label"])),
    (N_("Host"), lambda r, w: f"#{r['resident']}" if r["resident"] else ""),
    (N_("Group"), lambda r, w: w.word(GROUPS, r["group"])),
    (N_("Valid from"), lambda r, w: w.time(r["valid_from"])),
    (N_("Valid until"), lambda r, w: w.time(r["valid_to"])),
    (N_("Uses"), lambda r, w: f"{r['uses']}/{r['max_uses']}"),
    (N_("Revoked"), lambda r, w: w.yes_no(r["revoked"])),
]


@cli_group()
def resident() -> None:
    """Residents of pedestrian gates: add, list, remove, enrol faces, set PINs."""


@resident.command("add")
@click.argument("name")
@click.option("--household", help="Household label, e.g. 3-1-402.")
@click.option("--group", default="residents", show_default=True, help="Access group.")
@config_option
def resident_add(name: str, household: str | None, group: str, config_path: Path) -> None:
    """Add a resident called NAME (stored encrypted)."""
    from edge.people.residents import add_resident

    _, db, vault = store_and_vault(config_path)
    resident_id = add_resident(db, vault, name, household, group)
    say("added resident #%(id)s", id=resident_id)


@resident.command("list")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (stored codes, UTC times) for scripts."
)
@config_option
def resident_list(as_json: bool, config_path: Path) -> None:
    """List residents with names, templates, PIN and consent."""
    from edge.people.residents import list_residents

    config, db, vault = store_and_vault(config_path, read_only=True)
    print_table(list_residents(db, vault), RESIDENT_COLUMNS, words(config), as_json)


@resident.command("remove")
@click.argument("resident_id", type=int)
@config_option
def resident_remove(resident_id: int, config_path: Path) -> None:
    """Delete a resident with their face templates and passes (one transaction)."""
    from edge.people.residents import remove_resident
    from edge.store.open import open_store

    templates = remove_resident(open_store(read_config(config_path)), resident_id)
    say("removed resident #%(id)s and %(n)s face template(s)", id=resident_id, n=templates)


@resident.command("enrol-face")
@click.argument("resident_id", type=int)
@click.argument("photos", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--consent-by",
    default="",
    help="Operator who recorded the resident's consent to face recognition (required).",
)
@click.option(
    "--from-gate",
    "from_gate",
    default=None,
    metavar="GATE",
    help="Capture the face from this running pedestrian gate's camera instead of photo "
    "files: the resident stands at the door; a capture not judged live is refused.",
)
@config_option
def resident_enrol_face(
    resident_id: int,
    photos: tuple[Path, ...],
    consent_by: str,
    from_gate: str | None,
    config_path: Path,
) -> None:
    """Enrol face PHOTOS for a resident (all must pass the quality checks or none is kept),
    or a capture from a door's camera with --from-gate (it must also pass the door's liveness
    check: a photo held up to the camera is refused)."""
    from edge.faces.configured import face_recogniser
    from edge.people.resident_faces import FaceEnrolmentError, enrol_face_files, enrol_faces
    from edge.people.residents import require_resident

    if not consent_by.strip():
        raise fail(
            "face templates are biometric data: record the resident's consent and give "
            "--consent-by OPERATOR (who recorded it)"
        )
    if bool(photos) == bool(from_gate):
        raise click.UsageError(tr("give either PHOTOS or --from-gate GATE"))
    config, db, vault = store_and_vault(config_path)
    if from_gate:
        require_resident(db.conn, resident_id)  # before the resident is asked to stand there
        image, score = capture_from_gate(config, from_gate)
        recogniser = face_recogniser(config.recognition.faces)
        try:
            ids = enrol_faces(
                db,
                vault,
                recogniser,
                resident_id,
                [("capture", image)],
                consent_by,
                True,
                audit_by="cli",
                audit_details={"liveness_scores": [float(score)], "captured_at_gate": from_gate},
            )
        except FaceEnrolmentError as exc:
            for refused in exc.refused:
                _say_refused(refused)
            raise fail("nothing enrolled: the capture was refused") from None
        said = tr("enrolled %(n)s face template(s) for resident #%(id)s from gate %(gate)s")
        click.echo(said % {"n": len(ids), "id": resident_id, "gate": from_gate})
        click.echo(tr("liveness score of the capture: %(score)s") % {"score": score})
        return
    recogniser = face_recogniser(config.recognition.faces)
    scores = _liveness_scores(config.recognition.liveness.threshold, recogniser, photos)
    try:
        ids = enrol_face_files(
            db,
            vault,
            recogniser,
            resident_id,
            list(photos),
            consent_by,
            consent=True,
            audit_by="cli",
            audit_details={"liveness_scores": [round(s, 2) for _, s, _ in scores]},
        )
    except FaceEnrolmentError as exc:
        for refused in exc.refused:
            _say_refused(refused)
        raise fail(
            "nothing enrolled: %(n)s of %(total)s photo(s) refused",
            n=len(exc.refused), total=len(photos),
        ) from None  # fmt: skip
    say("enrolled %(n)s face template(s) for resident #%(id)s", n=len(ids), id=resident_id)
    for name, value, live in scores:
        if live:
            say("  %(photo)s: liveness score %(score)s", photo=name, score=f"{value:.2f}")
        else:
            say("  %(photo)s: liveness score %(score)s (low: a photo of a photo or a screen?"
                " check it)", photo=name, score=f"{value:.2f}")  # fmt: skip


def _say_refused(refused: Any) -> None:
    """One refused photo and why, in the locale's language."""
    say("refused %(photo)s: %(why)s", err=True, photo=refused.label, why=shown(refused.reason))


def capture_from_gate(config: Any, gate_id: str) -> tuple[Any, str]:
    """A live capture from ``gate_id``'s camera (edge.gates.control ``capture``): the frame
    and its liveness score, or a ClickException saying why there is none."""
    import base64

    import cv2
    import numpy as np

    from edge.gates.control import CAPTURE_S, GateUnreachableError, send_gate_command

    if config.gate(gate_id).kind != "pedestrian":
        raise fail("gate %(gate)s is not a pedestrian gate", gate=gate_id)
    click.echo(tr("look at the camera of gate %(gate)s...") % {"gate": gate_id})
    request = {"cmd": "capture", "seconds": CAPTURE_S}
    try:
        reply = send_gate_command(config.storage.run_dir, gate_id, request, CAPTURE_S + 20)
    except GateUnreachableError as exc:
        raise click.ClickException(words(config).gate_reply(exc.code)) from None
    if not reply.get("ok"):
        raise click.ClickException(words(config).gate_reply(reply.get("code")))
    if reply.get("why") == "no_face":
        raise click.ClickException(
            tr("no face seen at gate %(gate)s: stand close in front of its camera and try again")
            % {"gate": gate_id}
        )
    score = f"{float(reply.get('score', 0.0)):.2f}"
    if not reply.get("live"):
        raise click.ClickException(
            tr(
                "capture refused: not judged a live person (liveness %(score)s below "
                "%(threshold)s; a photo or a screen?); nothing enrolled"
            )
            % {"score": score, "threshold": reply.get("threshold")}
        )
    try:
        data = base64.b64decode(str(reply["photo_jpeg_b64"]), validate=True)
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except (KeyError, ValueError):
        image = None
    if image is None:
        raise fail("gate %(gate)s sent no usable picture", gate=gate_id)
    return image, score


def _liveness_scores(
    threshold: float, recogniser: Any, photos: tuple[Path, ...]
) -> list[tuple[str, float, bool]]:
    """Each photo's liveness score (name, score, judged live), for the operator and the
    audit row (never a refusal: residents hand in photos of photos; a low score says check
    it is the person in front of you). A file that cannot be read is left to the
    enrolment, which refuses it with its reason."""
    from edge.faces.images import ImageInputError, read_image_file
    from edge.faces.liveness.checker import LivenessChecker
    from edge.faces.liveness.enrolment import photo_score

    checker = LivenessChecker(threshold)
    scores = []
    for path in photos:
        try:
            verdict = photo_score(checker, recogniser.detector, read_image_file(path))
        except ImageInputError:
            continue
        if verdict is not None:
            scores.append((path.name, verdict.score, verdict.live))
    return scores


@resident.command("set-pin")
@click.argument("resident_id", type=int)
@config_option
def resident_set_pin(resident_id: int, config_path: Path) -> None:
    """Set the keypad PIN of a resident (entered at the door as ID*PIN).

    The PIN is prompted for twice, hidden; never an argument, which would leave it in
    the shell history and the process list.
    """
    from edge.people.residents import set_pin
    from edge.store.open import open_store

    db = open_store(read_config(config_path))
    pin = click.prompt(
        tr("PIN (6-8 digits)"),
        hide_input=True,
        confirmation_prompt=tr("Repeat for confirmation"),
    )
    set_pin(db, resident_id, pin)
    say("PIN set for resident #%(id)s; at the keypad: %(id)s*PIN", id=resident_id)


@cli_group("pass")
def pass_group() -> None:
    """QR passes for visitors of the pedestrian gate."""


@pass_group.command("issue")
@click.option("--resident", "resident_id", type=int, help="Host resident's number.")
@click.option("--label", default="", help="What the pass is for (no names or phones).")
@click.option("--valid-from", help="Start (site time unless a zone is given); default now.")
@click.option(
    "--valid-to",
    required=True,
    help="End, e.g. 2026-06-03T18:00; a date alone (2026-06-03) means the end of that day.",
)
@click.option(
    "--uses", type=int, default=1, show_default=True, help="How many times the pass opens the gate."
)
@click.option("--group", default="visitors", show_default=True, help="Access group.")
@click.option(
    "--png",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the QR code here (default pass-<id>.png in the current folder).",
)
@config_option
def pass_issue(
    resident_id: int | None,
    label: str,
    valid_from: str | None,
    valid_to: str,
    uses: int,
    group: str,
    png: Path | None,
    config_path: Path,
) -> None:
    """Issue a QR pass; the token is shown once and only its hash is stored."""
    from edge.db import utc_now
    from edge.people.passes import issue_pass
    from edge.store.open import open_store

    config = read_config(config_path)
    db = open_store(config)
    start = parse_time(valid_from, config) or utc_now()
    end = parse_time(valid_to, config, end_of_day=True)
    if end is None:
        raise click.BadParameter(tr("an end time is required"), param_hint="--valid-to")
    label = label or (f"visitor of resident {resident_id}" if resident_id else "visitor")
    pass_id, token = issue_pass(db, label, start, end, uses, resident_id, group)
    until = words(config).time(end)
    zone = zone_label(config.site.zone, end, locale_language())
    say("pass #%(id)s: %(uses)s use(s) until %(until)s (%(zone)s)", id=pass_id, uses=uses,
        until=until, zone=zone)  # fmt: skip
    say("QR payload (shown once): %(token)s", token=token)
    path = png or Path(f"pass-{pass_id}.png")
    try:
        import qrcode
    except ImportError:
        say("(qrcode package not installed: no PNG written; encode the payload above)")
        return
    image = qrcode.make(token, box_size=8, border=4)
    image.save(str(path))
    say("QR code written to %(path)s", path=path)


@pass_group.command("revoke")
@click.argument("pass_id", type=int)
@config_option
def pass_revoke(pass_id: int, config_path: Path) -> None:
    """Stop a pass working at once."""
    from edge.people.passes import revoke_pass
    from edge.store.open import open_store

    revoke_pass(open_store(read_config(config_path)), pass_id)
    say("pass #%(id)s revoked", id=pass_id)


@pass_group.command("list")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (stored codes, UTC times) for scripts."
)
@config_option
def pass_list(as_json: bool, config_path: Path) -> None:
    """List passes with validity and uses (tokens are never stored, so never shown)."""
    from edge.people.passes import list_passes
    from edge.store.open import open_reader

    config = read_config(config_path)
    print_table(list_passes(open_reader(config)), PASS_COLUMNS, words(config), as_json)
