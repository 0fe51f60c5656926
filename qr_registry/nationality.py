"""Nationalities for passports and foreign permanent-residence cards (GB/T 2659 = ISO 3166-1).

Why these sources: the list and its codes (alpha-3 as stored and as printed on the old
card, numeric as encoded in the 2023 card) come from ``pycountry`` (Debian's iso-codes
data); the Chinese names are the short names of CLDR, shipped inside Babel (which the web
app already uses), e.g. 德国, 韩国, 朝鲜 — what a tenant expects to read, where iso-codes'
own zh_CN catalogue has the long forms (大韩民国). Nothing is fetched at run time.

Hong Kong, Macau and Taiwan are not nationalities here: their residents are Chinese
citizens and register with the residence permit; China itself is a nationality only for
a passport (a Chinese citizen may show one).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import pycountry
from babel import Locale

CHINA = "CHN"
_NOT_NATIONALITIES = frozenset({"HKG", "MAC", "TWN"})


@dataclass(frozen=True)
class Country:
    alpha3: str
    numeric: str  # three digits, as in the 2023 permanent-residence card number
    name_en: str
    name_zh: str

    def label(self, lang: str = "zh") -> str:
        """What the form's list shows and accepts back: ``德国 Germany (DEU)``."""
        first = self.name_zh if lang == "zh" else self.name_en
        second = self.name_en if lang == "zh" else self.name_zh
        return f"{first} {second} ({self.alpha3})"


@functools.cache
def countries() -> tuple[Country, ...]:
    """Every ISO 3166-1 country that can be a nationality, sorted by alpha-3 code."""
    zh = Locale.parse("zh_Hans_CN").territories
    found = []
    for entry in pycountry.countries:
        if entry.alpha_3 in _NOT_NATIONALITIES:
            continue
        name_en = getattr(entry, "common_name", None) or entry.name
        found.append(Country(entry.alpha_3, entry.numeric, name_en, zh.get(entry.alpha_2, name_en)))
    return tuple(sorted(found, key=lambda c: c.alpha3))


@functools.cache
def _index() -> dict[str, Country]:
    index: dict[str, Country] = {}
    for country in countries():
        for key in (
            country.alpha3, country.name_en, country.name_zh,
            country.label("zh"), country.label("en"),
        ):  # fmt: skip
            index[_key(key)] = country
    return index


def _key(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()


def find(text: str) -> Country | None:
    """The country a tenant chose or typed: alpha-3 code, Chinese or English name, or the
    list's own label; None when it is none of these."""
    if not isinstance(text, str) or len(text) > 120:
        return None
    key = _key(text)
    found = _index().get(key)
    if found is None:
        match = re.search(r"\(([a-z]{3})\)$", key)  # a label edited around its code
        found = _index().get(match.group(1)) if match else None
    return found


def by_alpha3(code: str) -> Country | None:
    return _index().get(_key(code)) if len(code) == 3 else None


def by_numeric(code: str) -> Country | None:
    return next((c for c in countries() if c.numeric == code), None)
