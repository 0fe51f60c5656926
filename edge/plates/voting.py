"""Turn per-frame plate reads into one decision per car ("passage"), or into "unsure".

Why vote: a car at the barrier is seen in many frames; each frame's read can differ by a
character (glare, motion, a dirty plate). One passage per car needs (1) grouping reads
of the same car, (2) agreeing on its plate, (3) not starting a second passage while the
same car is still standing there or comes back moments later.

Timing trade-off (defaults): at ~10 frames/s a car in front of the camera gives two
agreeing valid reads within ~0.1-0.2 s, so `min_votes=2` decides almost at once while one
stray misread cannot open the gate alone. A car seen in one frame only is not held
forever: when `vote_window_s` after its first read ends, its best plate is decided with a
single vote. The gate loop calls `flush` on every tick so the window is honoured even
when no new frame arrives.

Voting rule: the plate with most valid reads in the track, ties broken by summed
confidence — and then *every character* must agree across the car's frames: at each
position, the leader's character must hold at least `agree_share` of the confidence
weight of all plate-shaped reads of that length in the track, valid or not (an unsure
frame that read 闽 where the others read 皖 is evidence too). A whole-string vote alone
would let two confident frames of 皖A0Y790 outvote one of 皖A0V790 without noticing that
the frames disagree on a character. A car whose frames keep disagreeing is not decided:
when it leaves (no read for `vote_window_s`) it is reported as `Unsure`, with the
candidates, for a guard to look at — never as a confident plate.

Evidence travels with the decision: the voter is given each frame with its reads, and a
track keeps, per plate it read validly, the frame of its most confident read and the
plate's corners in it. The decided plate's frame leaves in its `Passage` (the event's
snapshot) and the track then lets go of its frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from edge.plates.grammar import classify, is_valid_plate
from edge.plates.reader import PlateRead

__all__ = ["Evidence", "Passage", "PlateVoter", "Unsure"]

Quad = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Evidence:
    """The frame where a plate read best, with the plate's corners in it (frame pixels)."""

    frame: np.ndarray = field(repr=False, compare=False)
    quad: Quad | None
    confidence: float

    def box(self) -> list[int] | None:
        """The plate as an upright box [x1, y1, x2, y2] in frame pixels."""
        if not self.quad:
            return None
        xs, ys = [p[0] for p in self.quad], [p[1] for p in self.quad]
        return [round(min(xs)), round(min(ys)), round(max(xs)), round(max(ys))]


@dataclass(frozen=True)
class Passage:
    """One car's decided plate: `votes` agreeing valid reads over `frames` frames.

    `agreement`: the lowest per-character share of the vote (1.0 when every frame read
    every character alike). `plate_class` and `auto_open` come from the grammar: a
    military-style plate is decided and recorded, but never opens by itself. `evidence`:
    the frame of the plate's most confident read (None when no frames were given).
    """

    plate: str
    confidence: float  # mean confidence of the reads that voted for `plate`
    colour: str  # the colour most of those reads named; "unknown" only when none named one
    votes: int
    frames: int
    first_seen: datetime
    last_seen: datetime
    plate_class: str = "ordinary"
    auto_open: bool = True
    agreement: float = 1.0
    evidence: Evidence | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Unsure:
    """A car whose frames never agreed on a plate: for the guard, never for the barrier.

    `candidates`: plates read for it, most voted first, with their valid-read counts.
    """

    candidates: tuple[tuple[str, int], ...]
    frames: int
    first_seen: datetime
    last_seen: datetime
    agreement: float


@dataclass
class _Vote:
    text: str
    char_probs: tuple[float, ...]
    confidence: float
    colour: str
    valid: bool


@dataclass
class _Track:
    """Reads believed to be one car, until decided; then it guards against repeats."""

    first_seen: datetime
    last_seen: datetime
    reads: list[_Vote] = field(default_factory=list)
    best: dict[str, Evidence] = field(default_factory=dict)  # valid plate -> its best frame
    frames: int = 0
    decided: str | None = None

    def keep(self, read: PlateRead, frame: np.ndarray | None) -> None:
        """Keep ``frame`` as the evidence for ``read``'s plate if it read best there."""
        kept = self.best.get(read.text)
        if frame is not None and read.valid and (kept is None or read.confidence > kept.confidence):
            self.best[read.text] = Evidence(frame, read.quad, read.confidence)

    def valid_votes(self) -> dict[str, list[_Vote]]:
        out: dict[str, list[_Vote]] = {}
        for vote in self.reads:
            if vote.valid:
                out.setdefault(vote.text, []).append(vote)
        return out

    def leader(self) -> str | None:
        votes = self.valid_votes()
        if not votes:
            return None
        return max(votes, key=lambda p: (len(votes[p]), sum(v.confidence for v in votes[p])))

    def agreement(self, plate: str) -> float:
        """The lowest share, over positions, of the weight behind `plate`'s character."""
        same = [v for v in self.reads if len(v.text) == len(plate)]
        lowest = 1.0
        for k, char in enumerate(plate):
            weights: dict[str, float] = {}
            for vote in same:
                w = vote.char_probs[k] if len(vote.char_probs) == len(plate) else vote.confidence
                weights[vote.text[k]] = weights.get(vote.text[k], 0.0) + max(w, 1e-3)
            total = sum(weights.values())
            lowest = min(lowest, weights.get(char, 0.0) / total if total else 0.0)
        return lowest

    def similar(self, plate: str) -> bool:
        """Same car if the plate equals, or is one edit away from, a plate it read."""
        known = [self.decided] if self.decided else {v.text for v in self.reads}
        return any(_distance(plate, k) <= 1 for k in known if k)


def _distance(a: str, b: str) -> int:
    """Edit distance (Levenshtein). Not Hamming: a green 8-character plate read with one
    character missing is itself a valid 7-character plate, and must stay the same car."""
    if abs(len(a) - len(b)) > 1:
        return 2
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


class PlateVoter:
    """Groups reads into cars and emits one `Passage` per car. Times are injected."""

    def __init__(
        self,
        min_votes: int = 2,
        vote_window_s: float = 0.8,
        dedupe_window_s: float = 30.0,
        agree_share: float = 0.7,
    ) -> None:
        if min_votes < 1:
            raise ValueError(f"min_votes must be at least 1, got {min_votes}")
        if vote_window_s <= 0:
            raise ValueError(f"vote_window_s must be positive, got {vote_window_s}")
        if dedupe_window_s < 0:
            raise ValueError(f"dedupe_window_s must not be negative, got {dedupe_window_s}")
        if not 0.5 <= agree_share <= 1:
            raise ValueError(f"agree_share must be within [0.5, 1], got {agree_share}")
        self.min_votes = min_votes
        self.vote_window = timedelta(seconds=vote_window_s)
        self.dedupe_window = timedelta(seconds=dedupe_window_s)
        self.agree_share = agree_share
        self._tracks: list[_Track] = []
        self._unsure: list[Unsure] = []

    def add(
        self, reads: list[PlateRead], at: datetime, frame: np.ndarray | None = None
    ) -> list[Passage]:
        """Feed one frame's reads (and the frame, kept as evidence for the passage); return
        passages decided now (including closed windows)."""
        decided = self.flush(at)
        touched: set[int] = set()
        for read in reads:
            if not is_valid_plate(read.text):
                continue  # unreadable reads say "a car", not which; the gate loop counts them
            track = self._track_for(read.text, at)
            if id(track) not in touched:
                touched.add(id(track))
                track.frames += 1
            track.last_seen = max(track.last_seen, at)
            if track.decided is not None:
                continue  # same car after its passage: only keeps the dedupe alive
            probs = tuple(getattr(read, "char_probs", ()) or ())
            track.reads.append(
                _Vote(read.text, probs, read.confidence, read.colour, bool(read.valid))
            )
            track.keep(read, frame)
        for track in self._tracks:
            leader = track.leader()
            if track.decided is None and leader and self._agreed(track, leader, self.min_votes):
                decided.append(self._decide(track, leader))
        return decided

    def flush(self, at: datetime) -> list[Passage]:
        """Decide tracks whose vote window closed; report cars that left unagreed;
        forget guards whose dedupe window ended."""
        decided = []
        keep = []
        for track in self._tracks:
            leader = track.leader()
            window_over = at - track.first_seen >= self.vote_window
            gone = at - track.last_seen > self.vote_window
            if track.decided is None and window_over and leader and self._agreed(track, leader, 1):
                decided.append(self._decide(track, leader))
            if track.decided is None and gone:
                if leader is not None:  # valid reads that never agreed: the guard decides
                    self._unsure.append(self._unsure_of(track))
                continue
            if track.decided is None or at - track.last_seen <= self.dedupe_window:
                keep.append(track)
        self._tracks = keep
        return decided

    def pop_unsure(self) -> list[Unsure]:
        """Cars that left without their frames agreeing, since the last call."""
        out, self._unsure = self._unsure, []
        return out

    def pending(self) -> list[Unsure]:
        """Cars in view whose plate is not decided yet (not agreed, or too few votes)."""
        return [self._unsure_of(t) for t in self._tracks if t.decided is None and t.reads]

    def _agreed(self, track: _Track, leader: str, min_votes: int) -> bool:
        votes = len(track.valid_votes()[leader])
        return votes >= min_votes and track.agreement(leader) >= self.agree_share - 1e-9

    def _unsure_of(self, track: _Track) -> Unsure:
        counts: dict[str, int] = {}
        for vote in track.reads:
            counts[vote.text] = counts.get(vote.text, 0) + int(vote.valid)
        ranked = tuple(sorted(counts.items(), key=lambda kv: -kv[1]))
        leader = track.leader() or ranked[0][0]
        return Unsure(
            ranked, track.frames, track.first_seen, track.last_seen, track.agreement(leader)
        )

    def _track_for(self, plate: str, at: datetime) -> _Track:
        """The track this read belongs to, or a new one.

        A decided track absorbs its exact plate for the whole dedupe window (refreshed
        while the car stays in view), but a one-character neighbour only while the car is
        still in view (within the vote window of its last read): a later car with a
        similar plate is a different car and must get its own decision.
        """
        for track in self._tracks:
            if track.decided is not None:
                if plate == track.decided:
                    return track
                if (
                    _distance(plate, track.decided) <= 1
                    and at - track.last_seen <= self.vote_window
                ):
                    return track
            elif track.similar(plate) and at - track.last_seen <= self.vote_window:
                return track
        track = _Track(first_seen=at, last_seen=at)
        self._tracks.append(track)
        return track

    def _decide(self, track: _Track, plate: str) -> Passage:
        track.decided = plate
        evidence, track.best = track.best.get(plate), {}  # a decided track holds no frame
        votes = track.valid_votes()[plate]
        colours = [v.colour for v in votes]
        kind = classify(plate)
        return Passage(
            plate=plate,
            confidence=round(sum(v.confidence for v in votes) / len(votes), 4),
            colour=max(sorted(set(colours) - {"unknown"}) or ["unknown"], key=colours.count),
            votes=len(votes),
            frames=track.frames,
            first_seen=track.first_seen,
            last_seen=track.last_seen,
            plate_class=kind.code if kind else "",
            auto_open=kind.auto_open if kind else False,
            agreement=round(track.agreement(plate), 4),
            evidence=evidence,
        )
