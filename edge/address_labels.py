"""Reading a flat's address out of the text people type: ``6-2-301`` and ``六栋二单元301``
are the same flat, building 6, unit 2, room 301.

Why it is here, in the kernel: the migration that folds the old free-text households into
the one address model (community → building → unit → room) parses their labels, and the
migrations may import only the kernel. Everything that *stores* an address is
edge/people/addresses.py. Pure functions: no database, never raises on any text.

Canonical names are the ones the tenant registry always used: building ``6幢``, unit
``2单元``, room ``301``; a household's label is ``6-2-301``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6}
_DIGITS.update({"七": 7, "八": 8, "九": 9})
_FULLWIDTH = str.maketrans("０１２３４５６７８９－—／", "0123456789--/")
_NUM = r"(\d{1,3}|[零〇一二两三四五六七八九十百]{1,5})"
_BUILDING_WORD = r"(?:幢|栋|号楼|号|楼|座|栋楼)"
_UNIT_WORD = r"(?:单元|门|号门)"
_ROOM = r"([0-9]{1,5}(?:-?[A-Za-z])?)"
_SHAPES = (
    re.compile(rf"^{_NUM}\s*-\s*{_NUM}\s*-\s*{_ROOM}\s*室?$"),  # 6-2-301, 6/2/301
    re.compile(rf"^{_NUM}\s*{_BUILDING_WORD}\s*-?\s*{_NUM}\s*{_UNIT_WORD}\s*-?\s*{_ROOM}\s*室?$"),
)
ROOM_NUMBER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,11}$")


@dataclass(frozen=True)
class FlatAddress:
    """A flat inside the community: building and unit numbers and the room's number."""

    building: int
    unit: int
    room: str

    @property
    def building_name(self) -> str:
        return f"{self.building}幢"

    @property
    def unit_name(self) -> str:
        return f"{self.unit}单元"

    @property
    def label(self) -> str:
        return f"{self.building}-{self.unit}-{self.room}"


def chinese_number(text: str) -> int | None:
    """``3`` → 3, ``十二`` → 12, ``二十一`` → 21, ``一百零二`` → 102; None when not a number."""
    if text.isascii():
        return int(text) if text.isdigit() else None
    total, current = 0, 0
    for char in text:
        if char in _DIGITS:
            current = _DIGITS[char]
        elif char == "十":
            total += (current or 1) * 10
            current = 0
        elif char == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


@functools.lru_cache(maxsize=8192)  # pure; a bulk import reads the same names thousands of times
def parse_flat(text: str | None) -> FlatAddress | None:
    """The flat a label names, or None when it does not read as building/unit/room."""
    if not isinstance(text, str) or len(text) > 60:
        return None
    cleaned = text.translate(_FULLWIDTH).replace("/", "-").strip()
    for shape in _SHAPES:
        found = shape.match(cleaned)
        if found is None:
            continue
        building, unit = chinese_number(found.group(1)), chinese_number(found.group(2))
        room = found.group(3).upper()
        if building and unit and 1 <= building <= 999 and 1 <= unit <= 99:
            return FlatAddress(building, unit, room)
    return None


@functools.lru_cache(maxsize=8192)
def part_number(name: str, word: str) -> int | None:
    """The number in a building or unit name (``6幢``, ``六栋``, ``2单元``, ``6``); None if
    the name is not a number with an optional word (``word``: 'building' or 'unit')."""
    pattern = _BUILDING_WORD if word == "building" else _UNIT_WORD
    found = re.match(rf"^{_NUM}\s*{pattern}?$", name.translate(_FULLWIDTH).strip())
    return chinese_number(found.group(1)) if found else None
