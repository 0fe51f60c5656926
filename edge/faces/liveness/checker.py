"""The liveness stage of the face path: look at each frame that identified a face, then judge
the frames together.

``observe`` runs the per-frame cues on one frame and its detected face (the learned models,
the border, periodic artefacts, the tone of paper, and — with an IR camera — the IR face);
``judge`` adds the cues that need several frames (parallax of the landmarks, the
surroundings' motion) and fuses everything (edge.faces.liveness.fusion) into one verdict
against the threshold.

The gate calls ``observe`` only on frames that identified a resident, so a stranger or an
empty doorway costs nothing here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.faces.detector import Face, FaceDetector
from edge.faces.liveness.border import StillEdges, border
from edge.faces.liveness.fusion import FrameCues, LivenessVerdict, SequenceCues, fuse
from edge.faces.liveness.infrared import IrGeometry, ir_reading
from edge.faces.liveness.parallax import parallax
from edge.faces.liveness.passive import PassiveLiveness
from edge.faces.liveness.scene import scene_motion
from edge.faces.liveness.spectrum import periodic_artefacts
from edge.faces.liveness.surround import surround
from edge.faces.liveness.tone import tone

DEFAULT_THRESHOLD = 0.63  # highest with BPCER <= 5 % on the dev seeds (1, 3) of bench/liveness.py


@dataclass(frozen=True)
class Observation:
    """One frame that identified a face, with what the per-frame cues made of it."""

    image: np.ndarray
    face: Face
    cues: FrameCues


class LivenessChecker:
    """Opens (and SHA-256 checks) the vendored models once. ``observe`` and ``judge`` may be
    called from any thread; ``learn_view`` belongs to the thread that reads the camera."""

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        ir: IrGeometry | None = None,
        ir_detector: FaceDetector | None = None,
    ) -> None:
        if not 0 < threshold < 1:
            raise ValueError("liveness threshold must be between 0 and 1")
        if ir is not None and ir_detector is None:
            raise ValueError("an IR camera needs a face detector for its frames")
        self.threshold = threshold
        self.ir = ir
        self.ir_detector = ir_detector
        self.passive = PassiveLiveness()
        self.still_edges = StillEdges()

    def learn_view(self, image: np.ndarray) -> None:
        """Show the checker a frame with nobody in it (the door's empty view)."""
        self.still_edges.learn(image)

    def observe(
        self, image: np.ndarray, face: Face, ir_image: np.ndarray | None = None
    ) -> Observation:
        x, y, w, h = (float(v) for v in face.row[:4])
        box = (x, y, w, h)
        ir = None
        if self.ir is not None and self.ir_detector is not None:
            ir = ir_reading(self.ir_detector, ir_image, face, self.ir)
        cues = FrameCues(
            self.passive.score(image, box),
            border(image, box, self.still_edges),
            periodic_artefacts(image, box),
            ir,
            tone(image, box),
        )
        return Observation(image, face, cues)

    def judge(self, observations: list[Observation]) -> LivenessVerdict:
        """The verdict on frames of one face (at least one)."""
        return fuse([o.cues for o in observations], sequence_cues(observations), self.threshold)


def sequence_cues(observations: list[Observation]) -> SequenceCues:
    """The cues that need several frames of one face: parallax, surround, the still scene."""
    marks = [o.face.landmarks for o in observations]
    images = [o.image for o in observations]
    return SequenceCues(parallax(marks), surround(images, marks), scene_motion(images, marks))
