"""Near misses: a plate read one confusable character away from a plate the gate knows.

Why: a valid read that is not registered is usually a stranger — but sometimes it is a
resident's car read with one character wrong (皖A0V790 read as 皖A0Y790, a night-time 闽
read as 皖). Denying it silently locks the resident out; opening for the registered look-alike
would open for whoever drives a plate one stroke away. So such a read never opens by itself:
the gate asks a guard "possibly 皖A0V790 — confirm?" (edge.store.prompts).

"Confusable" is deliberately narrow, so strangers' cars do not all become prompts: the
character pairs that OCR models and people confuse on plates (0/D/Q, 8/B, 2/Z, 5/S, 6/G,
V/Y, 1/I), and province characters the readers were seen to confuse — on real images (沪/闽,
琼/京, 豫/皖, 辽/鄂, 闽/皖, in the held-out sets behind the plate issue) and on rendered
plates (`bench/plates.py --calibrate`, see BENCHMARKS.md). Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "CONFUSABLE_GROUPS",
    "FIRST_READER_PROVINCE_CONFUSIONS",
    "PROVINCE_LOOKALIKES",
    "SECOND_READER_PROVINCE_CONFUSIONS",
    "confusable",
    "near_miss_variants",
    "near_misses",
]

#: Serial characters that are read for one another (each group: all pairs within it).
CONFUSABLE_GROUPS: tuple[str, ...] = ("0DQ", "8B", "2Z", "5S", "6G", "VY", "1I")

#: Province misreads of the *first* reader (PP-OCRv4): on real images in the held-out sets
#: behind the plate issue (沪/闽, 琼/京, 豫/皖, 辽/鄂, 闽/皖), then on rendered plates (the
#: calibration of bench/plates.py, 555 frames). Either character of a pair may be the truth.
FIRST_READER_PROVINCE_CONFUSIONS: tuple[tuple[str, str], ...] = (
    ("沪", "闽"),
    ("琼", "京"),
    ("豫", "皖"),
    ("辽", "鄂"),
    ("闽", "皖"),
    ("藏", "皖"),
    ("藏", "冀"),
    ("藏", "赣"),
    ("津", "湘"),
)
#: Province misreads of the second reader (the plate CRNN) in the same calibration, as
#: (truth, what it read).
SECOND_READER_PROVINCE_CONFUSIONS: tuple[tuple[str, str], ...] = (
    ("赣", "豫"),
    ("赣", "皖"),
    ("赣", "桂"),
    ("桂", "皖"),
    ("青", "吉"),
    ("藏", "苏"),
    ("藏", "蒙"),
    ("藏", "京"),
    ("琼", "皖"),
    ("琼", "沪"),
    ("新", "苏"),
    ("新", "浙"),
    ("津", "川"),
    ("渝", "浙"),
    ("湘", "沪"),
    ("闽", "川"),
)
#: Every province pair a near miss considers: what either reader confuses.
PROVINCE_LOOKALIKES = FIRST_READER_PROVINCE_CONFUSIONS + SECOND_READER_PROVINCE_CONFUSIONS


def _pairs() -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for group in CONFUSABLE_GROUPS:
        for a in group:
            out.setdefault(a, set()).update(b for b in group if b != a)
    for a, b in PROVINCE_LOOKALIKES:
        out.setdefault(a, set()).add(b)
        out.setdefault(b, set()).add(a)
    return {k: frozenset(v) for k, v in out.items()}


_LOOKALIKE = _pairs()


def confusable(a: str, b: str) -> bool:
    """Whether characters `a` and `b` (different) are read for one another."""
    return b in _LOOKALIKE.get(a, frozenset())


def near_miss_variants(plate: str) -> frozenset[str]:
    """Every string one confusable character away from `plate` (same length; `plate`
    itself excluded): the plates a registered-plate lookup should try."""
    out = set()
    for k, char in enumerate(plate):
        for other in _LOOKALIKE.get(char, ()):
            out.add(plate[:k] + other + plate[k + 1 :])
    return frozenset(out)


def near_misses(read: str, known: Iterable[str]) -> list[str]:
    """The plates in `known` that `read` misses by exactly one confusable character,
    sorted; [] when `read` is itself known (an exact match is not a near miss)."""
    known = set(known)
    if read in known:
        return []
    return sorted(known & near_miss_variants(read))
