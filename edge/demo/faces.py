"""Which real face photos ``menwei demo`` uses, and why it may have none.

No package ships face photos (they are personal data of whoever is pictured), so the demo
borrows a folder of labelled photos when one is on the machine: by default the team's
fixtures beside the checkout (``../shared/fixtures/faces``), or ``menwei demo --faces DIR``.
A folder is either labelled by a ``labels.tsv`` (columns ``file`` and ``identity``, as the
fixtures are) or holds one sub-folder of photos per person. From it the demo casts one
*resident* (the person with the most photos: enrolled from all but one, the held-out photo
replayed at the door, so recognition is tested on a photo it never saw) and one *stranger*
(another person, enrolled nowhere).

Only the cast's paths leave this module; identities and file names are never printed, since
they can name the people pictured.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from edge.errors import Phrase
from gate_drivers.frame_sources import IMAGE_SUFFIXES

DEFAULT_FACES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "faces"
MAX_ENROL_PHOTOS = 3  # a few poses; enrolment checks each one


@dataclass(frozen=True)
class FaceCast:
    enrol: tuple[Path, ...]  # the resident's enrolment photos (at least one)
    replay: Path  # another photo of the resident, shown to the door camera
    stranger: Path  # a photo of someone else, enrolled nowhere
    folder: Path


def _labelled(folder: Path) -> dict[str, list[Path]]:
    """identity -> photos from labels.tsv; group photos and partial faces are left out."""
    people: dict[str, list[Path]] = {}
    with (folder / "labels.tsv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            name, identity = (row.get("file") or "").strip(), (row.get("identity") or "").strip()
            path = folder / name
            if not name or not identity or identity.startswith("MULTI") or "partial" in name:
                continue
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                people.setdefault(identity, []).append(path)
    return people


def _by_subfolder(folder: Path) -> dict[str, list[Path]]:
    """identity -> photos when the folder holds one sub-folder per person."""
    people: dict[str, list[Path]] = {}
    for person in sorted(p for p in folder.iterdir() if p.is_dir()):
        photos = [p for p in person.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
        if photos:
            people[person.name] = photos
    return people


def find_cast(folder: Path | None) -> tuple[FaceCast | None, str]:
    """The cast from ``folder`` (None: the default place), or None and why faces are skipped.

    The reason names the folder and what it lacks, never a person.
    """
    given = folder is not None
    folder = folder if folder is not None else DEFAULT_FACES
    how = Phrase(
        "point `menwei demo --faces DIR` at a folder with labels.tsv (file, identity) "
        "or one sub-folder of photos per person"
    )
    if not folder.is_dir():
        if given:
            where = Phrase("%(folder)s does not exist", folder=folder)
        else:
            where = Phrase("none on this machine (%(folder)s)", folder=folder)
        return None, Phrase("no face photos: %(where)s; %(how)s", where=where, how=how)
    try:
        labels = folder / "labels.tsv"
        people = _labelled(folder) if labels.is_file() else _by_subfolder(folder)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return None, Phrase(
            "cannot read the face photos in %(folder)s: %(error)s", folder=folder, error=exc
        )
    ranked = sorted(people.items(), key=lambda item: (-len(item[1]), item[0]))
    if not ranked or len(ranked[0][1]) < 2:
        return None, Phrase(
            "%(folder)s has no person with 2 or more photos; %(how)s", folder=folder, how=how
        )
    if len(ranked) < 2:
        return None, Phrase(
            "%(folder)s has photos of one person only: no stranger to show; %(how)s",
            folder=folder, how=how,
        )  # fmt: skip
    resident = sorted(ranked[0][1])
    stranger = sorted(people[min(name for name, _ in ranked[1:])])[0]
    cast = FaceCast(tuple(resident[1 : 1 + MAX_ENROL_PHOTOS]), resident[0], stranger, folder)
    return cast, ""
