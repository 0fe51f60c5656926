"""Turn per-frame plate reads into one decision per car ("passage").

Why vote: a car at the barrier is seen in many frames; each frame's read can differ by a
character (glare, motion, a dirty plate). One passage per car needs (1) grouping reads
of the same car, (2) agreeing on its plate, (3) not starting a second passage while the
same car is still standing there or comes back moments later.

Timing trade-off (defaults): at ~10 frames/s a car in front of the camera gives two
agreeing valid reads within ~0.1-0.2 s, so `min_votes=2` decides almost at once while one
stray misread cannot open the gate alone. A car seen in one frame only is not held
forever: when `vote_window_s` after its first read ends, its best plate is decided with a
single vote. The window is the worst-case extra delay for such a car, so it should stay
well under a second; the gate loop calls `flush` on every tick so it is honoured even
when no new frame arrives.

Voting rule: the plate with most valid reads in the track, ties broken by summed
confidence. Per-character voting was measured against a confidence-weighted whole-string
vote (bench/plates.py, 24 synthetic cars x 5 hard frames: 19/24 exact both, 0 wrong
both), so the simpler rule stays: it never assembles a plate that no frame read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from edge.plates.grammar import is_valid_plate
from edge.plates.reader import PlateRead

__all__ = ["Passage", "PlateVoter"]


@dataclass(frozen=True)
class Passage:
    """One car's decided plate: `votes` agreeing valid reads over `frames` frames."""

    plate: str
    confidence: float  # mean confidence of the reads that voted for `plate`
    colour: str  # most common colour among those reads
    votes: int
    frames: int
    first_seen: datetime
    last_seen: datetime


@dataclass
class _Track:
    """Reads believed to be one car, until decided; then it guards against repeats."""

    first_seen: datetime
    last_seen: datetime
    weights: dict[str, float] = field(default_factory=dict)  # plate -> sum of confidence
    votes: dict[str, int] = field(default_factory=dict)  # plate -> valid reads
    confs: dict[str, list[float]] = field(default_factory=dict)
    colours: dict[str, list[str]] = field(default_factory=dict)
    frames: int = 0
    last_frame: datetime | None = None
    decided: str | None = None

    def leader(self) -> str | None:
        if not self.weights:
            return None
        return max(self.weights, key=lambda p: (self.votes.get(p, 0), self.weights[p]))

    def similar(self, plate: str) -> bool:
        """Same car if the plate equals, or is one edit away from, a plate it read."""
        known = [self.decided] if self.decided else list(self.weights)
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
        self, min_votes: int = 2, vote_window_s: float = 0.8, dedupe_window_s: float = 30.0
    ) -> None:
        if min_votes < 1:
            raise ValueError(f"min_votes must be at least 1, got {min_votes}")
        if vote_window_s <= 0:
            raise ValueError(f"vote_window_s must be positive, got {vote_window_s}")
        if dedupe_window_s < 0:
            raise ValueError(f"dedupe_window_s must not be negative, got {dedupe_window_s}")
        self.min_votes = min_votes
        self.vote_window = timedelta(seconds=vote_window_s)
        self.dedupe_window = timedelta(seconds=dedupe_window_s)
        self._tracks: list[_Track] = []

    def add(self, reads: list[PlateRead], at: datetime) -> list[Passage]:
        """Feed one frame's reads; return passages decided now (including closed windows)."""
        decided = self.flush(at)
        touched: set[int] = set()
        for read in reads:
            if not read.valid or not is_valid_plate(read.text):
                continue  # unreadable reads say "a car", not which; the gate loop counts them
            track = self._track_for(read.text, at)
            if id(track) not in touched:
                touched.add(id(track))
                track.frames += 1
            track.last_seen = max(track.last_seen, at)
            if track.decided is not None:
                continue  # same car after its passage: only keeps the dedupe alive
            track.weights[read.text] = track.weights.get(read.text, 0.0) + read.confidence
            track.votes[read.text] = track.votes.get(read.text, 0) + 1
            track.confs.setdefault(read.text, []).append(read.confidence)
            track.colours.setdefault(read.text, []).append(read.colour)
        for track in self._tracks:
            leader = track.leader()
            if track.decided is None and leader and track.votes[leader] >= self.min_votes:
                decided.append(self._decide(track))
        return decided

    def flush(self, at: datetime) -> list[Passage]:
        """Decide tracks whose vote window closed; forget guards whose dedupe window ended."""
        decided = []
        for track in self._tracks:
            window_over = at - track.first_seen >= self.vote_window
            if track.decided is None and window_over and track.leader() is not None:
                decided.append(self._decide(track))
        self._tracks = [
            t for t in self._tracks
            if t.decided is None or at - t.last_seen <= self.dedupe_window
        ]  # fmt: skip
        return decided

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

    def _decide(self, track: _Track) -> Passage:
        plate = track.leader()
        assert plate is not None
        track.decided = plate
        confs, colours = track.confs[plate], track.colours[plate]
        return Passage(
            plate=plate,
            confidence=round(sum(confs) / len(confs), 4),
            colour=max(set(colours), key=colours.count),
            votes=track.votes[plate],
            frames=track.frames,
            first_seen=track.first_seen,
            last_seen=track.last_seen,
        )
