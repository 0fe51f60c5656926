"""Every string the web pages can show has a Chinese translation (zh is the default).

Strings are extracted the way pybabel would: ``_()``/``gettext()`` in the templates (Jinja's
Babel extractor) and ``gettext``/``lazy_gettext``/``_`` in the web modules. A missing one
would show English to a guard or tenant who reads only Chinese.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from edge.web import i18n
from edge.web.accounts import ROLES
from edge.web.i18n import SOURCE, compile_translations, conflicts

ROOT = Path(__file__).resolve().parents[1]
METHODS = [
    ("**/templates/**.html", "jinja2.ext:babel_extract"),
    ("**.py", "python"),
]
KEYWORDS = {"_": None, "N_": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2)}


def _msgids() -> dict[str, str]:
    found: dict[str, str] = {}
    for filename, _line, message, _comments, _context in extract_from_dir(
        ROOT / "edge" / "web", METHODS, keywords=KEYWORDS, options_map={"**.html": {}}
    ):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found.setdefault(msgid, f"edge/web/{filename}")
    return found


def _zh() -> dict[str, str]:
    merged: dict[str, str] = {}
    for po_path in sorted((SOURCE / "zh" / "LC_MESSAGES").glob("*.po")):
        with po_path.open("rb") as handle:
            for message in read_po(handle):
                if message.id and message.string:
                    key = message.id if isinstance(message.id, str) else message.id[0]
                    merged[key] = message.string
    return merged


def test_every_web_string_has_a_chinese_translation():
    zh = _zh()
    missing = sorted(f"{where}: {msgid!r}" for msgid, where in _msgids().items() if msgid not in zh)
    assert not missing, f"{len(missing)} untranslated:\n" + "\n".join(missing)


def test_catalogs_agree_and_compile(tmp_path):
    assert conflicts() == []
    compile_translations(tmp_path)
    assert (tmp_path / "zh" / "LC_MESSAGES" / "messages.mo").stat().st_size > 0


def test_role_names_are_translated():
    """Roles are shown through a variable (``_(user.role)``), which extraction cannot see."""
    zh = _zh()
    assert [role for role in ROLES if role not in zh] == []


def test_a_changed_catalog_is_compiled_again_in_the_same_process(tmp_path, monkeypatch):
    """Compiled catalogs are kept per process while their sources are unchanged; an edited
    .po (the same process building its next app) is never served from the old one."""
    source = tmp_path / "translations"
    folder = source / "zh" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po = folder / "messages.po"
    po.write_text('msgid ""\nmsgstr ""\n\nmsgid "Gate"\nmsgstr "大门"\n', encoding="utf-8")
    monkeypatch.setattr(i18n, "SOURCE", source)
    mo = tmp_path / "out" / "zh" / "LC_MESSAGES" / "messages.mo"
    compile_translations(tmp_path / "out")
    first = mo.read_bytes()
    compile_translations(tmp_path / "out")
    assert mo.read_bytes() == first and "大门".encode() in first
    po.write_text('msgid ""\nmsgstr ""\n\nmsgid "Gate"\nmsgstr "道闸"\n', encoding="utf-8")
    compile_translations(tmp_path / "out")
    assert "道闸".encode() in mo.read_bytes() and "大门".encode() not in mo.read_bytes()
