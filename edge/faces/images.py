"""Turning untrusted bytes (uploads, files, frames) into a BGR image, or a clear refusal.

Why check before decoding: an enrolment upload is outside input. A 50 kB PNG can declare
60,000 x 60,000 pixels and make the decoder allocate gigabytes on a box with 2 GB of RAM,
so the header's dimensions are checked (Pillow reads only the header) before any pixel is
decoded; a file that is not an image, or is truncated, is refused with what is wrong.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from edge.errors import UserError

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 40 MP phone photo is fine; a decompression bomb is not
MIN_SIDE = 64


class ImageInputError(UserError):
    """An image that cannot be used: an English msgid with parameters (its zh in the
    catalogs), rendered in the reader's language (``render``)."""

    code = "image"


def decode_image(data: bytes) -> np.ndarray:
    """Decode JPEG/PNG/... bytes into a BGR uint8 array, or raise ImageInputError."""
    image_size(data)
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ImageInputError("image data is corrupt or truncated")
    return image


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the header alone, after the size, type and pixel checks;
    ImageInputError for anything that must not be decoded."""
    if not data:
        raise ImageInputError("empty file")
    if len(data) > MAX_FILE_BYTES:
        raise ImageInputError(
            "file is %(mb)s MB, the limit is %(limit)s MB",
            {"mb": len(data) // 1024 // 1024, "limit": MAX_FILE_BYTES >> 20},
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                width, height = probe.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageInputError(
            "image declares more than %(mp)s megapixels", {"mp": MAX_PIXELS // 1_000_000}
        ) from None
    except UnidentifiedImageError:
        raise ImageInputError("not an image file (JPEG or PNG expected)") from None
    except OSError as exc:
        raise ImageInputError("unreadable image: %(error)s", {"error": exc}) from None
    check_dimensions(width, height)
    return width, height


def check_dimensions(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise ImageInputError(
            "image is %(width)sx%(height)s, more than %(mp)s megapixels",
            {"width": width, "height": height, "mp": MAX_PIXELS // 1_000_000},
        )
    if min(width, height) < MIN_SIDE:
        raise ImageInputError(
            "image is only %(width)sx%(height)s pixels", {"width": width, "height": height}
        )


def read_image_file(path: Path) -> np.ndarray:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return decode_image(b"\0" * (MAX_FILE_BYTES + 1))  # same message as an upload
        data = path.read_bytes()
    except OSError as exc:
        raise ImageInputError(
            "cannot read %(file)s: %(error)s", {"file": path.name, "error": exc.strerror}
        ) from None
    return decode_image(data)


def check_frame(image: object) -> np.ndarray:
    """A camera frame must be a non-empty HxWx3 uint8 array; anything else is refused."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ImageInputError("frame is not an 8-bit image array")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ImageInputError("frame has shape %(shape)s, expected HxWx3", {"shape": image.shape})
    check_dimensions(image.shape[1], image.shape[0])
    return image
