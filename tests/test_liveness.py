"""Liveness cues one by one, their fusion, the pinned models, and whole presentations made
from the real fixture photos (edge.faces.liveness.synthetic)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest
from helpers import FACES

from edge.faces.detector import Face, FaceDetector
from edge.faces.images import read_image_file
from edge.faces.liveness import models, synthetic
from edge.faces.liveness.attempts import PinWindow, SpoofAttempts
from edge.faces.liveness.border import StillEdges, border
from edge.faces.liveness.checker import LivenessChecker
from edge.faces.liveness.enrolment import capture_verdict, photo_score
from edge.faces.liveness.fusion import FrameCues, SequenceCues, fuse, tone_evidence
from edge.faces.liveness.infrared import CalibrationError, IrGeometry, calibrate, ir_reading
from edge.faces.liveness.parallax import ParallaxReading, nose_on_face_plane, parallax
from edge.faces.liveness.passive import PassiveLiveness, PassiveScore, is_greyscale, model_crop
from edge.faces.liveness.scene import scene_motion
from edge.faces.liveness.spectrum import peak_excess_db
from edge.faces.liveness.stage import LivenessStage, StageSettings, ir_frame_near
from edge.faces.liveness.surround import SurroundReading, surround
from edge.faces.liveness.tone import ToneReading, tone
from edge.faces.models import FaceModelError

# -- the vendored models --


def test_the_vendored_models_are_the_pinned_files_with_their_licence():
    for spec in models.PASSIVE_MODELS:
        assert len(models.read_checked(spec)) > 1_000_000
    assert "Apache License" in (models.MODEL_DIR / "LICENSE").read_text()


def test_a_missing_or_altered_model_stops_with_the_file_named(tmp_path, monkeypatch):
    for spec in models.PASSIVE_MODELS:
        shutil.copy(models.MODEL_DIR / spec.file, tmp_path / spec.file)
    monkeypatch.setattr(models, "MODEL_DIR", tmp_path)
    PassiveLiveness()  # an exact copy is fine
    victim = tmp_path / models.PASSIVE_MODELS[0].file
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit: the weights of a damaged SD card
    victim.write_bytes(bytes(data))
    with pytest.raises(
        FaceModelError, match=r"2\.7_80x80_MiniFASNetV2\.onnx has SHA-256 .* altered"
    ):
        PassiveLiveness()
    victim.unlink()
    with pytest.raises(FaceModelError, match=r"liveness model not readable: .*MiniFASNetV2"):
        PassiveLiveness()


# -- the learned cue --


def test_crops_follow_the_models_convention_scaled_clamped_and_shifted_inside():
    image = np.zeros((480, 640, 3), np.uint8)
    image[:, :320] = 255  # left half white, to see where the crop came from
    crop = model_crop(image, (300.0, 200.0, 40.0, 40.0), 2.7)  # 108 px around (320, 220)
    assert crop.shape == (80, 80, 3)
    assert crop[:, :35].min() == 255 and crop[:, 45:].max() == 0
    edge = model_crop(image, (0.0, 0.0, 100.0, 100.0), 4.0)  # would leave the image: shifted
    assert edge[:, :60].min() == 255 and edge[:, 68:].max() == 0  # x 0-399 of the image
    huge = model_crop(image, (100.0, 50.0, 400.0, 400.0), 4.0)  # scale reduced to fit
    assert huge.shape == (80, 80, 3)


def test_greyscale_frames_are_not_scored_by_the_models():
    grey = np.full((240, 320, 3), 90, np.uint8)
    colour = grey.copy()
    colour[..., 2] = 160
    assert is_greyscale(grey) and not is_greyscale(colour)
    score = PassiveLiveness().score(grey, (100.0, 60.0, 80.0, 80.0))
    assert score.live is None and score.greyscale


# -- parallax --

HEAD = np.array(  # a head's five landmarks in 3-D (mm): eyes, nose tip (in front), mouth corners
    [[-32, -35, 0], [32, -35, 0], [0, 0, 28], [-25, 30, 0], [25, 30, 0]], np.float64
)


def _project(points: np.ndarray, yaw: float, pitch: float, roll: float, shift=(0, 0)) -> np.ndarray:
    rot, _ = cv2.Rodrigues(np.radians([pitch, yaw, roll]))
    cam = points @ rot.T + np.array([0, 0, 600.0])
    return np.stack(
        [
            500 * cam[:, 0] / cam[:, 2] + 320 + shift[0],
            500 * cam[:, 1] / cam[:, 2] + 240 + shift[1],
        ],
        1,
    )


def test_a_flat_face_keeps_its_nose_on_the_same_spot_however_it_is_held():
    flat = HEAD.copy()
    flat[2, 2] = 0  # the nose printed on the plane
    frames = [
        _project(flat, y, p, r, (4 * y, -3 * p))
        for y, p, r in [(0, 0, 0), (15, -8, 5), (-20, 10, -8)]
    ]
    assert parallax(frames).drift < 0.01
    assert nose_on_face_plane(np.zeros((5, 2))) is None  # degenerate: no reading, no crash


def test_a_real_head_turning_moves_its_nose_against_the_face_plane():
    still = parallax([_project(HEAD, 0, 0, 0), _project(HEAD, 0.5, 0, 0)])
    turning = parallax([_project(HEAD, -6, 0, 0), _project(HEAD, 8, 2, 0)])  # 14 degrees
    assert still.drift < 0.02 < 0.1 < turning.drift and turning.drift_px > 5
    assert not parallax([_project(HEAD, 0, 0, 0)]).usable


# -- the scene around the face --


def _scene(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
    return cv2.resize(texture, (640, 480), interpolation=cv2.INTER_CUBIC)


def _marks(dx: float, dy: float) -> np.ndarray:
    base = np.array([[290, 200], [350, 200], [320, 235], [295, 265], [345, 265]], np.float64)
    return base + np.array([dx, dy])


def _paste(back: np.ndarray, front: np.ndarray, dx: int, dy: int, box: tuple) -> np.ndarray:
    x0, y0, x1, y1 = box
    out = back.copy()
    out[y0 + dy : y1 + dy, x0 + dx : x1 + dx] = front[y0:y1, x0:x1]
    return out


def test_a_head_moving_before_a_still_scene_is_told_from_a_sheet_moving_with_its_print():
    scene, face = _scene(1), _scene(2)
    live = [_paste(scene, face, d, 0, (280, 170, 360, 280)) for d in (0, 6)]  # the face only
    assert surround(live, [_marks(0, 0), _marks(6, 0)]).coherence < 0.3
    sheet = [_paste(scene, face, d, 0, (30, 100, 600, 380)) for d in (0, 6)]  # a sheet
    reading = surround(sheet, [_marks(0, 0), _marks(6, 0)])
    assert reading.coherence > 0.8 and not reading.whole_view
    still = surround([scene, scene], [_marks(0, 0), _marks(0.5, 0)])
    assert still.coherence is None  # nothing moved: no reading either way


def test_a_sheet_filling_the_view_or_a_shaking_camera_counts_for_less():
    scene = _scene(3)
    shaken = [scene, np.roll(np.roll(scene, 5, axis=1), 3, axis=0)]
    reading = surround(shaken, [_marks(0, 0), _marks(5, 3)])
    assert reading.coherence > 0.8 and reading.whole_view
    plain = SequenceCues(ParallaxReading(0.0, 2), SurroundReading(1.0, 6.0, 2))
    whole = SequenceCues(ParallaxReading(0.0, 2), SurroundReading(1.0, 6.0, 2, True))
    assert whole.evidence()["surround"] == plain.evidence()["surround"] / 2


def test_the_fixed_view_moving_outside_the_person_is_a_held_medium():
    """A person moves in front of a still view; a hand-held sheet (larger than the head)
    moves what is printed around the face, even when the face itself hardly moves."""
    scene, person = _scene(4), _scene(5)
    live = [_paste(scene, person, d, 0, (250, 150, 390, 480)) for d in (0, 6)]  # head, body
    reading = scene_motion(live, [_marks(0, 0), _marks(6, 0)])
    assert reading.moved is not None and reading.moved < 0.1 and reading.patches >= 3
    # a sheet turned about the face: the face stays, its printed surroundings move
    turned = cv2.warpAffine(scene, cv2.getRotationMatrix2D((320, 230), 2.0, 1.0), (640, 480))
    sheet = scene_motion([scene, turned], [_marks(0, 0), _marks(0, 0)])
    assert sheet.moved is not None and sheet.moved > 0.6
    # a print four face widths wide against a still wall: its surroundings move
    held = [_paste(scene, person, d, d, (40, 10, 590, 460)) for d in (0, 3)]
    assert scene_motion(held, [_marks(0, 0), _marks(3, 3)]).moved > 0.6
    rng = np.random.default_rng(0)
    walls = [  # a bare wall under camera noise: nothing to read
        np.clip(128 + rng.normal(0, 2, (480, 640, 3)), 0, 255).astype(np.uint8) for _ in (0, 1)
    ]
    assert scene_motion(walls, [_marks(0, 0), _marks(4, 0)]).moved is None
    cues = SequenceCues(ParallaxReading(0.0, 2), SurroundReading(None, 0.0, 0), sheet)
    assert cues.evidence()["scene"] == -5.0
    assert not fuse([_cues(0.999)] * 3, cues, 0.5).live


# -- periodic artefacts --


def test_a_pixel_grid_on_the_face_stands_out_of_the_spectrum_and_skin_does_not():
    rng = np.random.default_rng(0)
    skin = cv2.GaussianBlur(rng.normal(128, 20, (128, 128)).astype(np.float32), (0, 0), 2)
    ys, xs = np.mgrid[0:128, 0:128]
    grid = skin + 25 * np.sin(2 * np.pi * (0.31 * xs + 0.07 * ys))
    assert peak_excess_db(skin) < 9 < 12 < peak_excess_db(grid.astype(np.float32))


# -- fusion --


def _cues(live: float | None, border_score: float = 0.0) -> FrameCues:
    from edge.faces.liveness.border import BorderReading

    third = border_score
    return FrameCues(
        PassiveScore(live, (), live is None),
        BorderReading({"left": third, "right": third, "top": third, "bottom": 0.0}),
        None,
    )


STILL = SequenceCues(ParallaxReading(0.0, 3), SurroundReading(None, 0.0, 0))


def test_fusion_lets_each_physical_cue_outweigh_a_confident_model():
    assert fuse([_cues(0.99)] * 3, STILL, 0.5).live
    assert not fuse([_cues(0.999, border_score=1.0)] * 3, STILL, 0.5).live
    sheet = SequenceCues(ParallaxReading(0.0, 3), SurroundReading(0.95, 6.0, 2))
    verdict = fuse([_cues(0.999)] * 3, sheet, 0.5)
    assert not verdict.live and verdict.evidence["surround"] == -5.0
    details = verdict.details()
    assert details["parts"]["model"] == 4.0 and details["readings"]["surround"] == 0.95


def test_a_greyscale_frame_needs_evidence_of_depth_to_pass():
    grey = [_cues(None)] * 3
    assert not fuse(grey, STILL, 0.5).live
    turning = SequenceCues(ParallaxReading(0.12, 3, 60.0), SurroundReading(0.0, 5.0, 2))
    assert fuse(grey, turning, 0.5).live


def test_one_odd_frame_neither_sinks_nor_carries_the_sequence():
    assert fuse([_cues(0.99), _cues(0.01), _cues(0.98)], STILL, 0.5).live
    assert not fuse([_cues(0.01), _cues(0.99), _cues(0.02)], STILL, 0.5).live


def test_the_tone_of_a_frame_counts_only_where_the_models_could_see_colour():
    from edge.faces.liveness.border import BorderReading

    flat = BorderReading({"left": 0.0, "right": 0.0, "top": 0.0, "bottom": 0.0})
    paper = ToneReading(black=0.3, colour=15.0)
    colour = FrameCues(PassiveScore(0.9, (), False), flat, None, tone=paper)
    assert colour.evidence()["tone"] == pytest.approx(tone_evidence(paper))
    assert tone_evidence(paper) < -1.0
    grey = FrameCues(PassiveScore(None, (), True), flat, None, tone=paper)
    assert "tone" not in grey.evidence()  # a night-mode frame has no colour to judge
    verdict = fuse([colour, grey, colour], STILL, 0.5)  # a part missing on one frame counts 0
    assert verdict.evidence["tone"] == pytest.approx(2 * tone_evidence(paper) / 3)
    assert verdict.readings["tone_black"] == pytest.approx(0.3)


# -- infrared --


def test_ir_geometry_must_be_an_invertible_3x3_matrix():
    with pytest.raises(ValueError, match="3x3"):
        IrGeometry(np.eye(2))
    with pytest.raises(ValueError, match="invertible"):
        IrGeometry(np.zeros((3, 3)))


# -- whole presentations made from the real photos --


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


@pytest.fixture(scope="module")
def checker() -> LivenessChecker:
    return LivenessChecker()


def _photo(detector: FaceDetector, name: str) -> tuple[np.ndarray, Face]:
    if not (FACES / name).is_file():
        pytest.skip(f"real face fixtures not present at {FACES} (../shared is absent)")
    photo = read_image_file(FACES / name)
    return photo, detector.detect(photo)[0]


def _judge(checker: LivenessChecker, detector: FaceDetector, frames, nir=None):
    observations = []
    for i, image in enumerate(frames):
        faces = detector.detect(image)
        assert faces, "no face in a synthetic frame"
        observations.append(checker.observe(image, faces[0], None if nir is None else nir[i]))
    return checker.judge(observations)


@pytest.mark.parametrize("name", ["fr_obama.jpg", "of_carell.jpg", "fr_rose_leslie_img1.jpg"])
def test_a_live_head_passes_and_a_phone_with_the_same_photo_does_not(name, detector, checker):
    photo, face = _photo(detector, name)
    rng = np.random.default_rng(7)
    live = synthetic.genuine(photo, face, 4, rng, "natural")
    verdict = _judge(checker, detector, live.frames)
    assert verdict.live, verdict.details()
    phone = synthetic.attack("phone_in_frame", photo, face, 4, rng)
    refused = _judge(checker, detector, phone.frames)
    assert not refused.live, refused.details()


@pytest.mark.parametrize("name", ["fr_obama.jpg", "of_carell.jpg", "fr_rose_leslie_img1.jpg"])
def test_paper_squeezes_the_tones_and_washes_out_the_colour_of_a_real_face(name, detector):
    """The fixture photo as the camera would see the face, and the same photo as printed on
    plain paper (toner black 10 %, paper white 88 %, ink saturation 80 %): the print's
    darkest tone rises towards its brightest and its colour fades, and the cue's part turns
    from evidence for life to evidence against."""
    photo, face = _photo(detector, name)
    box = tuple(float(v) for v in face.row[:4])
    image = photo.astype(np.float32) / 255
    grey = image.mean(axis=2, keepdims=True)
    image = grey + (image - grey) * 0.8
    printed = np.clip((0.10 + 0.78 * image) * 255, 0, 255).astype(np.uint8)
    live, paper = tone(photo, box), tone(printed, box)
    assert live is not None and paper is not None
    assert paper.black > live.black + 0.08 and paper.colour < 0.7 * live.colour
    assert tone_evidence(live) > 0.5 and tone_evidence(paper) < tone_evidence(live) - 1.0
    assert tone(photo, (box[0], box[1], 20.0, 20.0)) is None  # too few pixels to judge
    assert tone(photo, (-500.0, -500.0, 100.0, 100.0)) is None  # not in the image


@pytest.mark.parametrize("name", ["fr_obama.jpg", "of_carell.jpg"])
def test_a_halftone_print_held_by_hand_is_refused_by_its_tone(name, detector, checker):
    """Borderless toner/offset prints of the fixture photo (the kind that passed the door in
    the previous round), held by hand: the tone cue reads them as paper and the door
    refuses them."""
    photo, face = _photo(detector, name)
    rng = np.random.default_rng(1)
    for _ in range(30):
        sheet = synthetic.attack("print", photo, face, 4, rng)
        if sheet.params["process"] == "halftone":
            break
    assert sheet.params["process"] == "halftone"
    verdict = _judge(checker, detector, sheet.frames)
    assert not verdict.live and verdict.evidence["tone"] < -0.5, verdict.details()


def test_the_ir_camera_sees_no_face_on_a_screen_and_a_flat_sheet_for_a_carbon_print(detector):
    photo, face = _photo(detector, "of_carell.jpg")
    geometry = IrGeometry(synthetic.IR_CALIBRATION)
    rng = np.random.default_rng(11)
    live = synthetic.genuine(photo, face, 1, rng, "still", nir=True)
    colour_face = detector.detect(live.frames[0])[0]
    assert ir_reading(detector, live.nir[0], colour_face, geometry).live
    screen = synthetic.attack("screen", photo, face, 1, rng, nir=True)
    reading = ir_reading(detector, screen.nir[0], detector.detect(screen.frames[0])[0], geometry)
    assert reading.why == "no_face"
    for _ in range(10):  # until the print is made with carbon black (half of them are)
        sheet = synthetic.attack("print", photo, face, 1, rng, nir=True)
        if sheet.params["carbon_black"]:
            break
    reading = ir_reading(detector, sheet.nir[0], detector.detect(sheet.frames[0])[0], geometry)
    assert not reading.live and reading.why in ("flat", "no_face")
    assert ir_reading(detector, None, colour_face, geometry).why == "no_frame"
    away = IrGeometry(synthetic.IR_CALIBRATION @ np.array([[1, 0, 200], [0, 1, 0], [0, 0, 1.0]]))
    assert ir_reading(detector, live.nir[0], colour_face, away).why == "elsewhere"


def test_border_cue_sees_a_phone_around_the_face_and_not_a_plain_doorway(detector):
    photo, face = _photo(detector, "fr_obama.jpg")
    rng = np.random.default_rng(3)
    phone = synthetic.attack("phone_in_frame", photo, face, 1, rng)
    found = detector.detect(phone.frames[0])[0]
    assert border(phone.frames[0], tuple(float(v) for v in found.row[:4])).score > 0.6


def test_calibration_recovers_the_cameras_geometry_from_a_chessboard():
    board = np.full((480, 640), 255, np.uint8)
    for row in range(7):
        for col in range(10):
            if (row + col) % 2:
                x, y = 120 + 40 * col, 100 + 40 * row
                board[y : y + 40, x : x + 40] = 0
    colour = cv2.cvtColor(board, cv2.COLOR_GRAY2BGR)
    ir = cv2.warpPerspective(colour, synthetic.IR_CALIBRATION, (640, 480), borderValue=(255,) * 3)
    matrix = calibrate(colour, ir)
    probe = np.array([[320.0, 240.0], [150.0, 100.0]])
    expected = IrGeometry(synthetic.IR_CALIBRATION).map_points(probe)
    assert np.abs(IrGeometry(matrix).map_points(probe) - expected).max() < 1.0
    with pytest.raises(CalibrationError, match="no 9x6 chessboard found in the IR picture"):
        calibrate(colour, np.full_like(colour, 128))


# -- what a door remembers ------------------------------------------------------------------


def test_repeated_attempts_slow_the_face_path_more_each_time_and_then_forget():
    t0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    attempts = SpoofAttempts(window_s=60, repeat_count=3, slow_s=10, max_slow_s=40)
    assert attempts.record(t0) == 1 and not attempts.face_paused(t0)
    assert attempts.record(t0 + timedelta(seconds=5)) == 2
    third = attempts.record(t0 + timedelta(seconds=10))
    assert attempts.repeated(third)
    assert attempts.face_paused(t0 + timedelta(seconds=19))
    assert not attempts.face_paused(t0 + timedelta(seconds=21))
    attempts.record(t0 + timedelta(seconds=22))  # fourth: twice as long
    assert attempts.paused_until() == t0 + timedelta(seconds=42)
    for k in range(5):  # capped
        attempts.record(t0 + timedelta(seconds=23 + k))
    assert attempts.paused_until() == t0 + timedelta(seconds=27 + 40)
    later = t0 + timedelta(minutes=5)
    assert attempts.record(later) == 1 and not attempts.face_paused(later + timedelta(seconds=1))


def test_the_pin_window_takes_one_entry_in_time_for_the_resident_the_face_named():
    t0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    window = PinWindow(pin_s=20)
    assert window.take(t0) is None
    window.ask(7, "EV1", t0)
    assert window.waiting(t0 + timedelta(seconds=19)).resident_id == 7
    request = window.take(t0 + timedelta(seconds=19))
    assert request.resident_id == 7 and request.event_id == "EV1"
    assert window.take(t0 + timedelta(seconds=19)) is None  # one entry per ask
    window.ask(7, "EV2", t0)
    assert window.take(t0 + timedelta(seconds=21)) is None  # too late


def _doorway(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frame = np.full((480, 640, 3), 140, np.uint8)
    frame[40:, 190:450] = (70, 80, 95)  # the door leaf
    cv2.rectangle(frame, (185, 35), (455, 479), (30, 30, 30), 6)  # its frame, close round a head
    noise = rng.normal(0, 2.5, frame.shape)
    return np.clip(frame + noise, 0, 255).astype(np.uint8)


def test_edges_of_the_empty_doorway_are_learned_and_not_taken_for_a_phone(detector, checker):
    photo, face = _photo(detector, "of_carell.jpg")
    x, y, w, h = face.box
    crop = photo[max(0, y - h // 2) : y + int(1.6 * h), max(0, x - w // 3) : x + w + w // 3]
    head = cv2.resize(crop, None, fx=0.42, fy=0.42, interpolation=cv2.INTER_AREA)
    frame = _doorway(1)
    top, left = 90, 320 - head.shape[1] // 2
    mask = np.zeros(head.shape[:2], np.float32)  # a head and shoulders, no straight cut
    centre = (head.shape[1] // 2, head.shape[0] // 2)
    cv2.ellipse(mask, centre, (head.shape[1] // 2 - 4, head.shape[0] // 2 - 4), 0, 0, 360, 1, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 5)[..., None]
    area = frame[top : top + head.shape[0], left : left + head.shape[1]]
    area[:] = (mask * head + (1 - mask) * area).astype(np.uint8)
    found = detector.detect(frame)[0]
    box = tuple(float(v) for v in found.row[:4])
    assert border(frame, box).score > 0.6  # the door frame looks like a phone's body...
    still = StillEdges()
    for seed in range(40):
        still.learn(_doorway(seed))
    assert border(frame, box, still).score < 0.3  # ...until the empty doorway is known
    phone = frame.copy()
    cv2.rectangle(
        phone,
        (left - 25, top - 40),
        (left + head.shape[1] + 25, top + head.shape[0] + 30),
        (20, 20, 20),
        8,
    )
    assert border(phone, box, still).score > 0.6  # a phone's body is not part of the view


def test_the_stage_follows_the_door_policy(checker):
    t0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="needs a liveness checker"):
        LivenessStage(StageSettings(mode="required"), None)
    off = LivenessStage(StageSettings(mode="off"), None)
    assert not off.active and off.judge(("anything",)) is None
    strict = LivenessStage(StageSettings(mode="required"), checker)
    refusal = strict.refused(7, "EV1", t0)
    assert refusal.pin is None and refusal.attempts == 1 and not refusal.repeated
    lenient = LivenessStage(StageSettings(mode="required_or_pin", pin_s=15), checker)
    refusal = lenient.refused(7, "EV2", t0)
    assert refusal.pin is not None and refusal.pin.until == t0 + timedelta(seconds=15)
    assert lenient.take_pin(t0 + timedelta(seconds=5)).resident_id == 7


def test_an_ir_frame_counts_only_when_it_was_taken_with_the_colour_frame():
    t0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    image = np.zeros((8, 8, 3), np.uint8)

    class Frame:
        def __init__(self, at: datetime) -> None:
            self.image, self.captured_at = image, at

    near = ir_frame_near(lambda: Frame(t0), 0.5)
    assert near(t0 + timedelta(seconds=0.3)) is image
    assert near(t0 + timedelta(seconds=2)) is None  # the IR camera stalled
    assert ir_frame_near(lambda: None, 0.5)(t0) is None


def test_enrolment_scores_an_upload_and_judges_a_capture(detector, checker):
    photo, face = _photo(detector, "fr_obama.jpg")
    upload = photo_score(checker, detector, photo)
    assert upload is not None and 0 <= upload.score <= 1
    assert photo_score(checker, detector, np.full((200, 200, 3), 128, np.uint8)) is None
    rng = np.random.default_rng(5)
    live = synthetic.genuine(photo, face, 4, rng, "natural")
    assert capture_verdict(checker, detector, live.frames).live
    phone = synthetic.attack("phone_in_frame", photo, face, 4, rng)
    assert not capture_verdict(checker, detector, phone.frames).live
    assert capture_verdict(checker, detector, [np.zeros((240, 320, 3), np.uint8)]) is None
