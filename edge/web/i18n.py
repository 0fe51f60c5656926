"""Translations: English msgids in the code, a zh catalog (the default language).

The ``.po`` sources are versioned; the binary ``.mo`` is compiled from them at app start (once
per process while the sources are unchanged), so a stale compiled catalog can never ship. It
is written into the data folder's cache only when it changed: ``menwei web`` must start on a
full or read-only data disk, where an unchanged catalog needs no write and a changed one goes
to a private temporary folder instead.
"""

from __future__ import annotations

import io
import logging
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from edge.files import write_durably

log = logging.getLogger(__name__)
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


def _merged_mo(folder: Path) -> bytes | None:
    """One language folder's catalogs merged in name order (the first translation of a msgid
    wins, see ``conflicts``) and compiled to ``.mo`` bytes; None without catalogs.

    Compiled once per process while the folder's ``.po`` files keep their names, sizes and
    modification times: parsing them all costs a large part of an app's start-up, and a
    process that builds many apps (the tests, the demo) would parse them again for each."""
    stamp = tuple(
        (path.name, info.st_mtime_ns, info.st_size)
        for path in sorted(folder.glob("*.po"))
        for info in (path.stat(),)
    )
    cached = _compiled.get(folder)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    merged: Catalog | None = None
    for _path, catalog in _catalogs(folder):
        if merged is None:
            merged = catalog
            continue
        for message in catalog:
            known = merged.get(message.id) if message.id else None
            if message.id and not (known is not None and known.string):
                merged[message.id] = message
    data = None
    if merged is not None:
        compiled = io.BytesIO()
        write_mo(compiled, merged)
        data = compiled.getvalue()
    _compiled[folder] = (stamp, data)
    return data


_compiled: dict[Path, tuple[tuple[tuple[str, int, int], ...], bytes | None]] = {}


def compile_translations(target: Path) -> Path:
    """Compile each language's ``.po`` files into one ``<lang>/LC_MESSAGES/messages.mo``.

    A language folder may hold several catalogs (``messages.po`` for the registry, one
    ``console_<part>.po`` per console part), so each part of the app owns its strings. They
    are merged in name order; the first translation of a msgid wins (see ``conflicts``).
    """
    for folder in sorted(p for p in SOURCE.glob("*/LC_MESSAGES") if p.is_dir()):
        data = _merged_mo(folder)
        if data is None:
            continue
        out = folder.relative_to(SOURCE) / "messages.mo"
        try:
            if (target / out).read_bytes() == data:
                continue
        except OSError:
            pass  # not there yet (or unreadable): write it
        try:
            (target / out).parent.mkdir(parents=True, exist_ok=True)
            write_durably(target / out, data)
        except OSError as exc:  # a full or read-only data disk: start anyway
            fallback = Path(tempfile.mkdtemp(prefix="menwei-translations-"))
            log.warning("translations not cached in %s (%s): compiled into %s", target, exc,
                        fallback)  # fmt: skip
            return compile_translations(fallback)
    return target
