"""A cue from physics rather than training: periodic structure on the face (a screen's pixel
grid and its moiré, a print's halftone dots) stands out as isolated peaks in the spatial
frequency spectrum, where skin, hair and a camera's noise give a smooth spectrum.

How: the face's central square (skin, eyes, nose: little background) is cut at the frame's
own resolution (resizing would erase what we look for), split into overlapping windows
whose power spectra are averaged (Welch: one window's periodogram is too noisy to find a
peak in), and each frequency's log power is compared with the median at the same radius.
The score is the strongest excess, in dB, over the mid and high frequencies, leaving out the
8-pixel grid of JPEG blocks that every camera stream has, and the axes (window edges).

What it cannot do: a phone or print held at door distance puts its dots and pixels far finer
than a camera pixel, and the lens erases them before they can alias (bench/liveness.py
reports how often the synthetic media were fine enough to be invisible); it catches media
held close to a sharp camera, large pixels (monitors, zoomed-in images), coarse halftone.
"""

from __future__ import annotations

import cv2
import numpy as np

WINDOW = 32  # pixels per Welch window
MIN_SIDE = 48  # below this the face is too small to look at its texture
NOISE_FLOOR = 1.0  # grey levels of white noise that every camera frame has at least


def face_square(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
    """The central 80 % of the face box, grey, at the frame's resolution (None if too small)."""
    x, y, w, h = box
    side = int(min(w, h) * 0.8)
    if side < MIN_SIDE:
        return None
    cx, cy = x + w / 2, y + h / 2
    left, top = round(cx - side / 2), round(cy - side / 2)
    if left < 0 or top < 0 or left + side > image.shape[1] or top + side > image.shape[0]:
        return None
    grey = cv2.cvtColor(image[top : top + side, left : left + side], cv2.COLOR_BGR2GRAY)
    return grey.astype(np.float32)


def welch_spectrum(patch: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Mean power spectrum (fftshifted, ``window`` x ``window``) of half-overlapping windows."""
    step = window // 2
    tiles = np.lib.stride_tricks.sliding_window_view(patch, (window, window))[::step, ::step]
    tiles = tiles.reshape(-1, window, window)
    tiles = (tiles - tiles.mean(axis=(1, 2), keepdims=True)) * _taper(window)
    power = np.abs(np.fft.rfft2(tiles)) ** 2
    mean = power.mean(axis=0)
    # rebuild the full plane from the real FFT's half (the spectrum of a real signal is
    # symmetric), then centre it
    rows = (-np.arange(window)) % window
    mirrored = mean[rows][:, 1 : window - window // 2][:, ::-1]
    return np.fft.fftshift(np.concatenate([mean, mirrored], axis=1))


_TAPERS: dict[int, np.ndarray] = {}


def _taper(window: int) -> np.ndarray:
    if window not in _TAPERS:
        _TAPERS[window] = np.outer(np.hanning(window), np.hanning(window)).astype(np.float32)
    return _TAPERS[window]


def _excluded(window: int) -> np.ndarray:
    """Frequencies not to judge: near DC, the axes, and the JPEG 8-pixel block harmonics."""
    f = np.fft.fftshift(np.fft.fftfreq(window))
    fy, fx = np.meshgrid(f, f, indexing="ij")
    radius = np.hypot(fx, fy)
    axes = (np.abs(fx) < 1.5 / window) | (np.abs(fy) < 1.5 / window)
    jpeg = np.zeros_like(axes)
    for k in range(1, 5):
        near_x = np.abs(np.abs(fx) - k / 8) < 1.01 / window
        near_y = np.abs(np.abs(fy) - k / 8) < 1.01 / window
        jpeg |= near_x | near_y
    return (radius < 0.12) | axes | jpeg


_RINGS: dict[int, list[np.ndarray]] = {}


def _rings(window: int) -> list[np.ndarray]:
    """Flat indices of each judged ring of frequencies (radius in 1/window steps)."""
    if window not in _RINGS:
        f = np.fft.fftshift(np.fft.fftfreq(window))
        fy, fx = np.meshgrid(f, f, indexing="ij")
        ring = np.round(np.hypot(fx, fy) * window).astype(np.int32).ravel()
        keep = ~_excluded(window).ravel()
        rings = []
        for r in range(int(0.12 * window), window // 2 + 1):
            members = np.flatnonzero(ring == r)
            judged = members[keep[members]]
            if len(members) >= 8 and len(judged):
                rings.append(np.stack([members, np.isin(members, judged)]))
        _RINGS[window] = rings
    return _RINGS[window]


def peak_excess_db(patch: np.ndarray, window: int = WINDOW) -> float:
    """Strongest excess (dB) of one frequency's power over its ring's median."""
    # the power of one grey level of white noise: a floor, so rings the lens and JPEG left
    # nearly empty do not turn rounding noise into "peaks"
    floor = float((_taper(window) ** 2).sum()) * NOISE_FLOOR**2
    log_power = (10 * np.log10(welch_spectrum(patch, window) + floor)).ravel()
    best = 0.0
    for members, judged in _rings(window):
        values = log_power[members]
        excess = values[judged.astype(bool)].max() - np.median(values)
        best = max(best, float(excess))
    return best


def periodic_artefacts(image: np.ndarray, box: tuple[float, float, float, float]) -> float | None:
    """Peak excess in dB on the face of ``image`` (None when the face is too small)."""
    patch = face_square(image, box)
    if patch is None:
        return None
    return peak_excess_db(patch)
