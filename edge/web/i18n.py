"""Translations: English msgids in the code, a zh catalog (the default language).

The ``.po`` sources are versioned; the binary ``.mo`` is compiled from it at app start into
the data folder's cache (a few milliseconds), so a stale compiled catalog can never ship.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("zh", "en")
SOURCE = Path(__file__).with_name("translations")


def compile_translations(target: Path) -> Path:
    """Compile each language's ``.po`` files into one ``<lang>/LC_MESSAGES/messages.mo``.

    A language folder may hold several catalogs (``messages.po`` for the registry, one
    ``console_<part>.po`` per console blueprint), so each part of the app owns its strings.
    They are merged in name order; a msgid translated differently in two files is an error,
    not a silent override.
    """
    for folder in sorted(p for p in SOURCE.glob("*/LC_MESSAGES") if p.is_dir()):
        merged = None
        for po_path in sorted(folder.glob("*.po")):
            with po_path.open("rb") as handle:
                catalog = read_po(handle)
            if merged is None:
                merged = catalog
                continue
            for message in catalog:
                if not message.id:
                    continue
                known = merged.get(message.id)
                if known is not None and known.string and message.string != known.string:
                    raise ValueError(
                        f"{po_path.name}: {message.id!r} is translated differently elsewhere"
                    )
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
