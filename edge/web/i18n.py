"""Translations: English msgids in the code, a zh catalog (the default language).

The ``.po`` sources are versioned; the binary ``.mo`` is compiled from it at app start into
the data folder's cache (a few milliseconds), so a stale compiled catalog can never ship.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("zh", "en")
SOURCE = Path(__file__).with_name("translations")


def N_(msgid: str) -> str:
    """Marks a msgid for extraction; it is translated where it is shown (the template)."""
    return msgid


def _catalogs(folder: Path) -> list[tuple[Path, Catalog]]:
    catalogs = []
    for po_path in sorted(folder.glob("*.po")):
        with po_path.open("rb") as handle:
            catalogs.append((po_path, read_po(handle)))
    return catalogs


def conflicts() -> list[str]:
    """Msgids that two catalogs of one language translate differently (a test keeps this
    empty; at run time the first catalog in name order wins, so the app still starts)."""
    found = []
    for folder in sorted(p for p in SOURCE.glob("*/LC_MESSAGES") if p.is_dir()):
        seen: dict[str, tuple[str, str]] = {}
        for po_path, catalog in _catalogs(folder):
            for message in catalog:
                if not message.id or not message.string:
                    continue
                key = str(message.id)
                if key in seen and seen[key][0] != message.string:
                    found.append(
                        f"{folder.parent.name}: {key!r} is {seen[key][0]!r} in {seen[key][1]}"
                        f" but {message.string!r} in {po_path.name}"
                    )
                seen.setdefault(key, (str(message.string), po_path.name))
    return found


def compile_translations(target: Path) -> Path:
    """Compile each language's ``.po`` files into one ``<lang>/LC_MESSAGES/messages.mo``.

    A language folder may hold several catalogs (``messages.po`` for the registry, one
    ``console_<part>.po`` per console part), so each part of the app owns its strings. They
    are merged in name order; the first translation of a msgid wins (see ``conflicts``).
    """
    for folder in sorted(p for p in SOURCE.glob("*/LC_MESSAGES") if p.is_dir()):
        merged: Catalog | None = None
        for _path, catalog in _catalogs(folder):
            if merged is None:
                merged = catalog
                continue
            for message in catalog:
                known = merged.get(message.id) if message.id else None
                if message.id and not (known is not None and known.string):
                    merged[message.id] = message
        if merged is None:
            continue
        out = target / folder.relative_to(SOURCE) / "messages.mo"
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".mo.tmp")
        with tmp.open("wb") as handle:
            write_mo(handle, merged)
        tmp.replace(out)
    return target
