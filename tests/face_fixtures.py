"""Shared access to the real face photos in ../shared/fixtures/faces (never copied here)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

FACES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "faces"


def face_labels() -> dict[str, str]:
    """file name -> identity, from labels.tsv; skips the calling test when absent."""
    labels = FACES / "labels.tsv"
    if not labels.is_file():
        pytest.skip(f"real face fixtures not present at {FACES} (../shared is absent)")
    with labels.open(encoding="utf-8") as handle:
        return {row["file"]: row["identity"] for row in csv.DictReader(handle, delimiter="\t")}


def single_face_files(labels: dict[str, str]) -> dict[str, str]:
    """Photos of one whole face (no group photo, no deliberately partial face)."""
    return {f: i for f, i in labels.items() if not i.startswith("MULTI") and "partial" not in f}
