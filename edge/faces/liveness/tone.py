"""A cue from the paper rather than the pattern: a print's tones are squeezed and its colours
washed out.

A face in front of the camera spans the full tonal range the scene light gives it: the
pupils, nostrils, the shadow under the chin and dark hair are near black while a lit cheek
or forehead is bright, and skin, lips and eyes carry their own colour. A print cannot: its
darkest tone is the ink's black on that paper (toner or offset on plain paper reflects 4-16
% of the light, inkjet 5-14 %, glossy photo paper 1.5-5 %) and its brightest the paper's
white (78-97 %), so the ratio of its darkest to brightest tone stays at 1/6-1/25 however the
camera is set; and printing inks lose saturation (a halftone's dots mix with the paper white
between them). The camera's gain and tone curve change both, for live faces and prints
alike, which is why the cue reads a *ratio* of tones and a colourfulness, not levels.

Why here: the halftone's dots themselves are invisible to the door camera at the distances
a print is held (at 85-150 lines per inch a dot is 0.17-0.30 mm; at 0.2-0.4 mm per camera
pixel the lens blurs them away before they can alias: edge.faces.liveness.spectrum says so
and bench/liveness.py counts how often they were resolvable: almost never). What survives
the lens is the tone and colour of the paper, and that is what this reads.

How: on the face box (skin, eyes, brows, nostrils, lips: little background), ``black`` is the
1st percentile of luminance over the 99th (each plus two grey levels, so that noise in a
dark frame does not make a ratio of nothing), and ``colour`` is the colourfulness of Hasler
and Süsstrunk (2003): the spread and mean of the red-green and yellow-blue opponent
channels. Both enter the fusion (edge.faces.liveness.fusion) on a log scale, with weights
fitted by logistic regression on the dev seeds of bench/liveness.py.

What it cannot do: a print on glossy photo paper with deep blacks and full colour reads like
a face; a live face that is pale, in flat light, or a camera with a lot of flare (a dirty
dome, backlight) reads like a print, so the cue is evidence, weighed with the others, never
a verdict. A greyscale frame (a colour camera in night mode) has no colour to read: the cue
says nothing there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_SIDE = 24  # a face box smaller than this (pixels) has too few pixels for percentiles
DARK_OFFSET = 2.0  # grey levels added to both tones of the ratio


@dataclass(frozen=True)
class ToneReading:
    black: float  # darkest tone over brightest on the face (0-1; a print: 0.1-0.4)
    colour: float  # colourfulness of the face (Hasler-Süsstrunk; 0 for grey)


def tone(image: np.ndarray, box: tuple[float, float, float, float]) -> ToneReading | None:
    """The face box's tone ratio and colourfulness (None when the box is too small or not
    in the image)."""
    x, y, w, h = box
    height, width = image.shape[:2]
    left, top = max(0, int(x)), max(0, int(y))
    right, bottom = min(width, int(x + w)), min(height, int(y + h))
    if right - left < MIN_SIDE or bottom - top < MIN_SIDE:
        return None
    crop = image[top:bottom, left:right].astype(np.float32)
    blue, green, red = crop[..., 0], crop[..., 1], crop[..., 2]
    luminance = 0.114 * blue + 0.587 * green + 0.299 * red
    low, high = np.percentile(luminance, (1, 99))
    black = float((low + DARK_OFFSET) / (high + DARK_OFFSET))
    rg = red - green
    yb = 0.5 * (red + green) - blue
    colour = float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))
    return ToneReading(black, colour)
