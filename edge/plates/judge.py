"""Whether one plate read may be acted on: per-class confidence rules and corroboration.

Why a second opinion: the first reader (PP-OCRv4, decoded against the grammar) is right
on most frames, but when it is wrong it can be wrong *confidently* — 皖A0V790 read as
皖A0Y790 at 0.86, a night-time 闽 read as 皖 at 0.98. One model's confidence cannot catch
its own blind spots. A second model trained differently (a plate-only CRNN) is asked how
it reads the same plate *in the same form* (`PlateRecogniser.decode_as`), and must agree on
every character where mistakes are likely or costly: the province (the weakest point:
沪/闽, 琼/京, 豫/皖, 辽/鄂), every character the first reader is not sure of, the class-naming
suffix, and any character the second reader firmly reads otherwise. A disagreement makes
the read "unsure" — never a confident wrong plate.

A dissent is weighed by how well the second reader knows what it contradicts. The plate
CRNN was trained on plates that are mostly 皖; on some provinces (藏, 赣, 琼, 桂, 新) it
reads the right character only 28-89 % of the time (measured: `bench/plates.py
--calibrate`), and blocking every such read would cost recall for nothing. So a *province*
dissent on a province the second reader measurably misreads (recall below `known_recall`),
not firm (< `dissent`) unless it is one of its measured misreads of that province, and not
a pair the *first* reader is known to confuse (then the dissent may well be the truth), is
weighed as evidence: the first reader's odds times
the chance that the second reader misreads this province must still clear the floor.
The same weighing applies to a dissent the second reader is itself unsure of (below
`dissent`) on any province: its province is wrong 15 % of the time at 0.7-0.9 and about
40 % below 0.7 (`SECOND_PROVINCE_MISS`, measured on rendered frames apart from the
benchmark's: `bench/plates.py --bands`), so a first read at 0.99 against its 沪 at 0.77
is still 94 % likely — while a first read at 0.83 against its 0.41 (69 %) is not. A firm
dissent (>= `dissent`) on a province it reads well, or any dissent on a pair the first
reader confuses, still blocks: the night-time 闽 read as 皖 stays unsure.

Pure functions of the two reads, the colour and the settings: testable without models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from edge.plates.grammar import PlateClass, classify, template_of
from edge.plates.near_miss import (
    FIRST_READER_PROVINCE_CONFUSIONS,
    SECOND_READER_PROVINCE_CONFUSIONS,
)

__all__ = ["SECOND_PROVINCE_MISS", "JudgeSettings", "Verdict", "judge"]


@dataclass(frozen=True)
class JudgeSettings:
    """`min_confidence`: every character's floor (a class may lower its suffix's);
    `sure`: characters the first reader is less sure of than this need the second reader's
    agreement; `dissent`: a second reader this sure of another character vetoes the read;
    `corroborated_floor`: a character below the floor but above this still counts when the
    second reader reads the same character at least `dissent` sure (two differently
    trained models agreeing firmly is stronger evidence than one model's 0.8);
    `known_recall`: a province the second reader reads right at least this often (measured)
    is one it knows, and its dissent there always counts."""

    min_confidence: float = 0.80
    sure: float = 0.97
    dissent: float = 0.90
    corroborated_floor: float = 0.5
    known_recall: float = 0.9


@dataclass(frozen=True)
class Verdict:
    """`unsure` is "" for a read that may be acted on, else a code saying why not:
    "unread" (not a plate), "low_confidence", "colour_mismatch", "disagree"."""

    plate_class: PlateClass | None
    unsure: str

    @property
    def valid(self) -> bool:
        return self.unsure == ""


def _suffix_positions(text: str, plate_class: PlateClass) -> tuple[int, ...]:
    """Positions of the class-naming characters (警, 应急, ...): read less surely by
    the OCR model when printed in red, so they get the class's own floor."""
    if plate_class.code == "emergency":
        return (len(text) - 2, len(text) - 1)
    if plate_class.suffix_floor is not None:
        return (len(text) - 1,)
    return ()


def judge(
    text: str,
    char_probs: tuple[float, ...],
    colour: str,
    second: tuple[str, tuple[float, ...]] | None,
    second_knows: Callable[[str], bool],
    settings: JudgeSettings = JudgeSettings(),
    second_recall: Callable[[str], float] = lambda _c: 1.0,
) -> Verdict:
    """Apply the class's rules to a first read and, when given, the second reader's read of
    the same template (`second` = (text, per-character confidence), None when there is no
    second reader). `second_knows(char)` says whether the second model can read `char`
    at all (it cannot vote on what it has no class for); `second_recall(char)` how often it
    reads that province right (measured; 1.0 when it reads it well)."""
    plate_class = classify(text)
    template = template_of(text)
    if plate_class is None or template is None or len(char_probs) != len(text):
        return Verdict(None, "unread")
    if colour != "unknown" and colour not in plate_class.colours:
        return Verdict(plate_class, "colour_mismatch")
    suffix = _suffix_positions(text, plate_class)
    other, other_probs = second if second is not None else ("", ())
    paired = len(other) == len(text) and len(other_probs) == len(text)
    for k, p in enumerate(char_probs):
        floor = settings.min_confidence
        if k in suffix and plate_class.suffix_floor is not None:
            floor = min(floor, plate_class.suffix_floor)
        firmly_seconded = (
            paired
            and p >= settings.corroborated_floor
            and other[k] == text[k]
            and other_probs[k] >= settings.dissent
        )
        if p < floor and not firmly_seconded:
            return Verdict(plate_class, "low_confidence")
    if second is None:
        return Verdict(plate_class, "")
    if not paired:
        return Verdict(plate_class, "disagree")
    must_agree = set(template.province_at) | set(suffix)
    must_agree |= {k for k, p in enumerate(char_probs) if p < settings.sure}
    must_agree |= {k for k, p in enumerate(other_probs) if p >= settings.dissent}
    for k in sorted(must_agree):
        if not second_knows(text[k]) or other[k] == text[k]:
            continue
        weighed = (text[k], other[k], char_probs[k], other_probs[k])
        if k in template.province_at and _explained(*weighed, second_recall, settings):
            continue
        return Verdict(plate_class, "disagree")
    return Verdict(plate_class, "")


#: How often the second reader's province is wrong, by its confidence in it (lowest
#: confidence of each band, share wrong), below `JudgeSettings.dissent`. Measured on 336
#: rendered frames of development seeds (standard 17, 27; hard 18, 28, 38; apart from the
#: benchmark's 7, 8, 9 and the held-out 48, 58): 4/23 wrong at 0.7-0.9, 6/15 at 0.5-0.7,
#: 8/15 below 0.5 (`bench/plates.py --bands` measures it, with the classes set too);
#: rounded down, so that a dissent is weighed as a little more reliable than measured.
SECOND_PROVINCE_MISS: tuple[tuple[float, float], ...] = ((0.7, 0.15), (0.5, 0.35), (0.0, 0.45))

_FIRST_CONFUSES = frozenset(FIRST_READER_PROVINCE_CONFUSIONS) | frozenset(
    (b, a) for a, b in FIRST_READER_PROVINCE_CONFUSIONS
)
_SECOND_MISREADS = frozenset(SECOND_READER_PROVINCE_CONFUSIONS)  # (truth, what it read)


def _explained(
    claimed: str,
    read: str,
    p: float,
    q: float,
    second_recall: Callable[[str], float],
    settings: JudgeSettings,
) -> bool:
    """Whether the second reader's province `read` (at `q`) against the first reader's
    `claimed` (at `p`) is what its measured weakness predicts — on `claimed` (a province it
    often misreads) or at `q` (a read it is unsure of) — so that the first read still
    clears the floor: odds(p) x P(second reader wrong) >= odds(floor). Never for a firm
    dissent on a province it knows, nor for a pair the first reader confuses."""
    if (claimed, read) in _FIRST_CONFUSES:
        return False
    if q >= settings.dissent and (claimed, read) not in _SECOND_MISREADS:
        return False
    unsure = 0.0
    if q < settings.dissent:
        unsure = next(miss for floor, miss in SECOND_PROVINCE_MISS if q >= floor)
    miss = max(1.0 - second_recall(claimed), unsure)
    if miss <= 1.0 - settings.known_recall:
        return False
    p = min(p, 0.999)
    odds = p / (1.0 - p) * miss
    return odds / (1.0 + odds) >= settings.min_confidence
