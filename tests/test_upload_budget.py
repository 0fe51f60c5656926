"""Face uploads are decoded one at a time under a per-request pixel budget.

Before: five 39.7 MP PNGs in one upload were all decoded before any check, taking the web
process from 0.8 GB to 1.5 GB."""

from __future__ import annotations

import weakref

import cv2
import numpy as np
import pytest

from edge.people.resident_faces import FaceEnrolmentError, upload_templates
from edge.vocabulary import translator


class CountingRecogniser:
    """Stands in for the face models: records how many decoded images are alive at once."""

    def __init__(self) -> None:
        self.alive: list[weakref.ref] = []
        self.most_alive = 0

    def enrolment_template(self, image: np.ndarray) -> str:
        self.alive = [r for r in self.alive if r() is not None]
        self.alive.append(weakref.ref(image))
        self.most_alive = max(self.most_alive, len(self.alive))
        return f"template {image.shape[1]}x{image.shape[0]}"


def big_png(width: int, height: int) -> bytes:
    ok, data = cv2.imencode(".png", np.full((height, width, 3), 120, np.uint8))
    assert ok
    return data.tobytes()


def test_photos_are_decoded_one_at_a_time_within_the_budget() -> None:
    photo = big_png(6000, 4000)  # 24 MP, a few hundred KB as PNG
    recogniser = CountingRecogniser()
    uploads = [(f"p{i}.png", photo) for i in range(5)]
    with pytest.raises(FaceEnrolmentError) as refused:
        upload_templates(recogniser, uploads, pixel_budget=80_000_000)
    assert recogniser.most_alive == 1
    assert [(r.label, r.code) for r in refused.value.refused] == [
        ("p3.png", "over_budget"),
        ("p4.png", "over_budget"),
    ]
    assert "more than 80 megapixels" in refused.value.refused[0].message
    assert "照片总像素超过 80 百万" in refused.value.refused[0].render(translator("zh"))
    assert refused.value.render(translator("zh")).startswith(
        "未登记任何人脸，2 张照片被拒："
        "p3.png：照片总像素超过 80 百万：请一次少传几张或传较小的照片；p4.png："
    )
    recogniser = CountingRecogniser()
    made = upload_templates(recogniser, uploads[:3])
    assert made == ["template 6000x4000"] * 3 and recogniser.most_alive == 1


def test_wrong_type_and_bomb_are_refused_before_decoding() -> None:
    recogniser = CountingRecogniser()
    with pytest.raises(FaceEnrolmentError) as refused:
        upload_templates(recogniser, [("a.gif", b"GIF89a...."), ("b.png", big_png(64, 64)[:40])])
    assert [r.code for r in refused.value.refused] == ["bad_type", "bad_image"]
    assert recogniser.most_alive == 0
