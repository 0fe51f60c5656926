"""Face recognition on the real fixture photos: models, enrolment checks, 1:N, agreement."""

from __future__ import annotations

import itertools
import zlib
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest
from helpers import FACES, single_face_files

from edge.config.pedestrian import FaceRecognitionConfig
from edge.faces.images import ImageInputError, check_frame, decode_image, read_image_file
from edge.faces.index import FaceIndex
from edge.faces.matcher import FrameAgreement
from edge.faces.models import FaceModelError, read_model, strip_unused_inputs
from edge.faces.recogniser import EnrolmentRefused, FaceRecogniser
from edge.vocabulary import translator

DEFAULTS = FaceRecognitionConfig()


@pytest.fixture(scope="module")
def recogniser() -> FaceRecogniser:
    return FaceRecogniser()


@pytest.fixture(scope="module")
def templates(recogniser: FaceRecogniser, face_labels) -> dict[str, tuple[str, np.ndarray]]:
    labels = single_face_files(face_labels)
    return {
        name: (identity, recogniser.enrolment_template(read_image_file(FACES / name)).vector)
        for name, identity in labels.items()
    }


def test_shipped_models_are_verified_and_the_sface_graph_is_cleaned():
    info, data = read_model(None, "face_recognition_sface_2021dec_int8bq.onnx")
    assert info.shipped and len(info.sha256) == 64
    stripped = strip_unused_inputs(data)
    assert len(stripped) < len(data)  # the unused inputs were there, and are gone
    assert strip_unused_inputs(stripped) == stripped


def test_a_configured_model_that_is_missing_or_not_onnx_is_refused(tmp_path):
    with pytest.raises(FaceModelError, match="not readable"):
        read_model(tmp_path / "nope.onnx", "face_recognition_sface_2021dec_int8bq.onnx")
    with pytest.raises(FaceModelError, match="not an ONNX model"):
        strip_unused_inputs(b"\x08garbage" * 10)


def test_same_person_matches_and_different_people_do_not(templates):
    genuine, impostor = [], []
    for (a, (ida, va)), (b, (idb, vb)) in itertools.combinations(templates.items(), 2):
        (genuine if ida == idb else impostor).append((float(va @ vb), a, b))
    assert len(genuine) >= 10 and len(impostor) >= 100
    false_accepts = [p for p in impostor if p[0] >= DEFAULTS.match_threshold]
    assert false_accepts == []
    accepted = [p for p in genuine if p[0] >= DEFAULTS.match_threshold]
    assert len(accepted) >= 0.85 * len(genuine)
    assert np.mean([p[0] for p in genuine]) > np.mean([p[0] for p in impostor]) + 0.4


def test_one_to_n_finds_the_enrolled_person_and_refuses_a_stranger(templates):
    # enrol one photo per identity; probe with the others
    enrolled: dict[str, str] = {}
    for name, (identity, _) in sorted(templates.items()):
        enrolled.setdefault(identity, name)
    ids = {identity: n for n, identity in enumerate(sorted(enrolled))}
    names = list(enrolled.values())
    index = FaceIndex(
        np.stack([templates[n][1] for n in names]), [ids[templates[n][0]] for n in names]
    )
    thr, margin = DEFAULTS.match_threshold, DEFAULTS.margin
    hits = 0
    probes = [n for n in templates if n not in names]
    for name in probes:
        identity, vector = templates[name]
        result = index.search(vector, thr, margin)
        assert result.identity in (None, ids[identity])  # never the wrong person
        hits += result.identity == ids[identity]
    assert hits >= len(probes) - 2
    # a stranger: remove Obama from the index, probe with Obama
    keep = [n for n in names if templates[n][0] != "obama"]
    without = FaceIndex(
        np.stack([templates[n][1] for n in keep]), [ids[templates[n][0]] for n in keep]
    )
    for identity, vector in templates.values():
        if identity == "obama":
            assert without.search(vector, thr, margin).identity is None


def test_margin_refuses_an_ambiguous_face():
    rng = np.random.default_rng(1)
    base = rng.normal(size=128).astype(np.float32)
    twin = base + 0.01 * rng.normal(size=128).astype(np.float32)
    index = FaceIndex(np.stack([base, twin]), [1, 2])
    probe = base / np.linalg.norm(base)
    result = index.search(probe, 0.5, 0.05)
    assert result.identity is None and result.reason == "ambiguous"
    assert FaceIndex(np.stack([base, base]), [1, 1]).search(probe, 0.5, 0.05).identity == 1


def test_empty_index_and_bad_vectors():
    assert FaceIndex.empty().search(np.ones(128) / 128**0.5, 0.5, 0.05).reason == "empty_index"
    with pytest.raises(ValueError):
        FaceIndex(np.zeros((2, 128)), [1, 2])


def test_enrolment_refuses_no_face_two_faces_small_blurred_and_turned(recogniser, face_labels):
    labels = face_labels
    two = next(f for f, i in labels.items() if i.startswith("MULTI"))
    with pytest.raises(EnrolmentRefused) as info:
        recogniser.enrolment_template(read_image_file(FACES / two))
    assert info.value.refusal.code == "several_faces"

    wall = np.full((480, 640, 3), 128, np.uint8)
    cv2.putText(wall, "no face here", (50, 240), cv2.FONT_HERSHEY_SIMPLEX, 2, (0, 0, 0), 3)
    with pytest.raises(EnrolmentRefused) as info:
        recogniser.enrolment_template(wall)
    assert info.value.refusal.code == "no_face"
    assert info.value.render(translator("zh")) == "照片中未检测到人脸"
    assert str(info.value) == "no face found in the photo"  # one language at a time

    photo = read_image_file(FACES / "fr_obama.jpg")
    recogniser.enrolment_template(photo)  # the original is fine
    tiny = cv2.resize(photo, (200, 250), interpolation=cv2.INTER_AREA)
    with pytest.raises(EnrolmentRefused) as info:
        recogniser.enrolment_template(tiny)
    assert info.value.refusal.code in ("face_too_small", "no_face")
    blurred = cv2.GaussianBlur(photo, (0, 0), 6)
    with pytest.raises(EnrolmentRefused) as info:
        recogniser.enrolment_template(blurred)
    assert info.value.refusal.code in ("blurred", "no_face")
    rotated = cv2.warpAffine(
        photo, cv2.getRotationMatrix2D((455, 400), 35, 1.0), (photo.shape[1], photo.shape[0])
    )
    with pytest.raises(EnrolmentRefused) as info:
        recogniser.enrolment_template(rotated)
    assert info.value.refusal.code in ("not_frontal", "no_face")


def test_gate_probe_ignores_black_and_noise_frames(recogniser):
    assert recogniser.probe(np.zeros((480, 640, 3), np.uint8)) is None
    noise = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    assert recogniser.probe(noise) is None


def test_bad_images_are_refused_with_a_reason(tmp_path):
    with pytest.raises(ImageInputError, match="empty"):
        decode_image(b"")
    with pytest.raises(ImageInputError, match="not an image"):
        decode_image(b"%PDF-1.4 hello" * 100)
    ok, jpeg = cv2.imencode(".jpg", np.full((200, 200, 3), 90, np.uint8))
    assert ok
    with pytest.raises(ImageInputError):
        decode_image(jpeg.tobytes()[: len(jpeg) // 3])  # truncated
    # a PNG header declaring a huge image: refused before any pixel is decoded
    big = tmp_path / "big.png"
    cv2.imwrite(str(big), np.zeros((64, 64, 3), np.uint8))
    data = bytearray(big.read_bytes())
    data[16:24] = (30000).to_bytes(4, "big") + (30000).to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")  # a valid IHDR chunk
    with pytest.raises(ImageInputError, match="megapixels"):
        decode_image(bytes(data))
    with pytest.raises(ImageInputError):
        check_frame(np.zeros((480, 640), np.uint8))
    with pytest.raises(ImageInputError):
        check_frame(np.zeros((480, 640, 3), np.float32))


def test_frames_must_agree_before_a_decision():
    agree = FrameAgreement(frames_to_agree=3, window_s=2.0, dedupe_s=10.0)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    from edge.faces.index import SearchResult

    hit = SearchResult(7, 7, 0.7, 0.1, "matched")
    other = SearchResult(8, 8, 0.7, 0.1, "matched")
    assert agree.add(hit, t0) is None
    assert agree.add(other, t0 + timedelta(seconds=0.2)) is None  # restarts the count
    assert agree.add(hit, t0 + timedelta(seconds=0.4)) is None
    assert agree.add(hit, t0 + timedelta(seconds=0.6)) is None
    decided = agree.add(hit, t0 + timedelta(seconds=0.8))
    assert decided is not None and decided.identity == 7 and decided.frames == 3
    for k in range(3):  # same person still standing there: quiet
        assert agree.add(hit, t0 + timedelta(seconds=1 + 0.2 * k)) is None
    assert agree.add(None, t0 + timedelta(seconds=2)) is None
    late = [agree.add(hit, t0 + timedelta(seconds=11 + 0.2 * k)) for k in range(3)]
    assert late[-1] is not None


def test_a_decision_carries_the_payloads_of_exactly_the_agreeing_frames():
    from edge.faces.index import SearchResult

    agree = FrameAgreement(frames_to_agree=3, window_s=2.0, dedupe_s=10.0)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    hit, other = SearchResult(7, 7, 0.7, 0.1, "matched"), SearchResult(8, 8, 0.7, 0.1, "matched")
    agree.add(hit, t0, "a")
    agree.add(other, t0 + timedelta(seconds=0.2), "b")  # another face: a new run
    agree.add(hit, t0 + timedelta(seconds=0.4), "c")
    agree.add(hit, t0 + timedelta(seconds=0.6), "d")
    decided = agree.add(hit, t0 + timedelta(seconds=0.8), "e")
    assert decided is not None and decided.payloads == ("c", "d", "e")
