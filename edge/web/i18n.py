"""Translations: English msgids in the code, a zh catalog (the default language).

The ``.po`` source is versioned; the binary ``.mo`` is compiled from it at app start into
the data folder's cache (a few milliseconds), so a stale compiled catalog can never ship.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("zh", "en")
SOURCE = Path(__file__).with_name("translations")


def compile_translations(target: Path) -> Path:
    """Compile every ``<lang>/LC_MESSAGES/messages.po`` under SOURCE into ``target``."""
    for po_path in SOURCE.glob("*/LC_MESSAGES/messages.po"):
        out = target / po_path.relative_to(SOURCE).with_suffix(".mo")
        out.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as handle:
            catalog = read_po(handle)
        tmp = out.with_suffix(".mo.tmp")
        with tmp.open("wb") as handle:
            write_mo(handle, catalog)
        tmp.replace(out)
    return target
