"""Agreement over consecutive frames before a face opens the door.

Why: one frame can match by accident (motion blur, a half-turned head, a poster behind the
person); the same identity matched in ``frames_to_agree`` consecutive face-bearing frames
within ``window_s`` is far less likely to be chance. A frame with a different or no match
restarts the count, so two people alternating in front of the camera never add up to
one opening. After a decision the same identity is quiet for ``dedupe_s`` so one person
standing at the door is one passage, not one per second.

Each frame may carry what a later stage needs from it (the liveness stage's observation of
that frame): the decision hands back the agreeing frames' payloads, so liveness is judged
on exactly the frames that identified the face.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from edge.faces.index import SearchResult


@dataclass(frozen=True)
class FaceDecisionInput:
    """What the matcher hands to the policy once frames agree."""

    identity: int
    score: float  # lowest best-score of the agreeing frames (the conservative one)
    margin: float
    frames: int
    first_seen: datetime
    payloads: tuple[Any, ...] = ()  # what each agreeing frame carried, oldest first


@dataclass
class _Run:
    identity: int
    count: int
    first_seen: datetime
    last_seen: datetime
    scores: list[float] = field(default_factory=list)
    margins: list[float] = field(default_factory=list)
    payloads: list[Any] = field(default_factory=list)


class FrameAgreement:
    def __init__(self, frames_to_agree: int = 3, window_s: float = 2.0, dedupe_s: float = 10.0):
        if frames_to_agree < 1:
            raise ValueError("frames_to_agree must be at least 1")
        self.frames_to_agree = frames_to_agree
        self.window = timedelta(seconds=window_s)
        self.dedupe = timedelta(seconds=dedupe_s)
        self._run: _Run | None = None
        self._quiet: dict[int, datetime] = {}

    def add(
        self, result: SearchResult | None, at: datetime, payload: Any = None
    ) -> FaceDecisionInput | None:
        """Feed one frame's best search result (None: no face) and what the frame carries;
        returns a decided identity with the agreeing frames' payloads."""
        self._quiet = {k: v for k, v in self._quiet.items() if v > at}
        if result is None or result.identity is None:
            self._run = None
            return None
        run = self._run
        if run is None or run.identity != result.identity or at - run.first_seen > self.window:
            run = self._run = _Run(result.identity, 0, at, at)
        run.count += 1
        run.last_seen = at
        run.scores.append(result.score)
        run.margins.append(result.margin)
        run.payloads.append(payload)
        if run.count < self.frames_to_agree or result.identity in self._quiet:
            return None
        self._run = None
        self._quiet[result.identity] = at + self.dedupe
        return FaceDecisionInput(
            run.identity,
            min(run.scores),
            min(run.margins),
            run.count,
            run.first_seen,
            tuple(run.payloads),
        )

    def reset(self) -> None:
        self._run = None
