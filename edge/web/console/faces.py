"""The web process's face recogniser: loaded once, on first use, shared by every thread.

Why lazily: most requests (tenant form, event lists) never touch faces, and loading and
verifying both models costs ~100 ms and some tens of MB; a box whose web process never
enrols faces never pays it. Why one lock: OpenCV's FaceDetectorYN keeps its input size as
state (``setInputSize``), so two threads detecting at once on different photo sizes would
corrupt each other's results. Enrolment is rare, so serialising it costs nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app

from edge.faces import configured
from edge.faces.liveness.checker import LivenessChecker
from edge.faces.recogniser import FaceRecogniser
from edge.web.context import state

_LOAD_LOCK = threading.Lock()


@contextmanager
def face_recogniser() -> Iterator[FaceRecogniser]:
    """The app's recogniser, held exclusively for the ``with`` block."""
    extensions = current_app.extensions
    with _LOAD_LOCK:
        if "menwei_faces" not in extensions:
            recogniser = configured.face_recogniser(state().config.recognition.faces)
            extensions["menwei_faces"] = (recogniser, threading.Lock())
    recogniser, lock = extensions["menwei_faces"]
    with lock:
        yield recogniser


def liveness_checker() -> LivenessChecker:
    """The app's liveness checker (the models opened and checked once); call it inside
    ``face_recogniser()``'s block, whose lock it shares (one DNN user at a time)."""
    extensions = current_app.extensions
    with _LOAD_LOCK:
        if "menwei_liveness" not in extensions:
            threshold = state().config.recognition.liveness.threshold
            extensions["menwei_liveness"] = LivenessChecker(threshold)
    checker: LivenessChecker = extensions["menwei_liveness"]
    return checker


def capture_gates(config: Any) -> dict[str, str]:
    """The pedestrian gates whose camera can capture a face for enrolment: id -> name (the
    page lists the door by its name, as the site calls it, and posts its id)."""
    return {gate.id: gate.name or gate.id for gate in config.gates if gate.kind == "pedestrian"}
