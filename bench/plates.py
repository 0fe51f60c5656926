"""Plate reader benchmark: accuracy and latency against whole-frame PP-OCR.

Run: .venv/bin/python bench/plates.py [--reps N] [--baseline-reps N] [--no-synth]

Prints, in one run on this machine: exact-match accuracy on the real crops and frames
(shared fixtures), median/p95 latency per full frame (detector + rectify + recognise)
and per crop, the same for the baseline (rapidocr_onnxruntime.RapidOCR(): whole-frame
text detection + angle classifier + recognition), and the ratio of medians. Also a
synthetic set (edge.plates.synth, if present) by condition, the decoder ablation
(greedy+repair vs grammar-constrained) and the voting ablation (whole-string vs
per-character). Figures go to BENCHMARKS.md by hand, with the machine named.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import subprocess
import time
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np

from edge.plates.grammar import is_valid_plate, repair_ocr
from edge.plates.reader import PlateReader, PlateReaderSettings

FIXTURES = Path(__file__).parents[1].parent / "shared" / "fixtures" / "plates"


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    cores = os.cpu_count()
    return (
        f"{model}, {cores} cores (nproc), {platform.machine()}, Python {platform.python_version()}"
    )


def timed(fn, arg, reps: int) -> tuple[list[float], object]:
    out = fn(arg)  # warm-up (allocations, onnxruntime first-run optimisation)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        out = fn(arg)
        times.append((time.perf_counter() - t) * 1000)
    return times, out


def summary(ms: list[float]) -> str:
    return (
        f"median {statistics.median(ms):6.1f} ms, p95 {np.percentile(ms, 95):6.1f} ms (n={len(ms)})"
    )


def load_rows() -> list[dict[str, str]]:
    labels = FIXTURES / "labels.tsv"
    if not labels.is_file():
        print(f"!! fixtures not found at {FIXTURES}; real-image figures skipped")
        return []
    with labels.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def bench_real(reader: PlateReader, rows, reps: int, baseline_reps: int) -> None:
    crops = [
        (cv2.imread(str(FIXTURES / r["file"])), r["plate"])
        for r in rows
        if r["kind"] == "plate_crop"
    ]
    frames = [
        (cv2.imread(str(FIXTURES / r["file"])), r["plate"])
        for r in rows
        if r["kind"] == "full_frame"
    ]
    print(f"\n== real fixtures: {len(crops)} crops 94x24, {len(frames)} frames "
          f"{frames[0][0].shape[1]}x{frames[0][0].shape[0]} ==")  # fmt: skip

    rec = reader.recogniser
    modes = {"greedy+repair": rec.decode_greedy, "grammar": rec.decode_grammar}
    exact = Counter()
    valid = 0
    crop_ms: list[float] = []
    for img, plate in crops:
        ms, res = timed(reader.read_crop, img, max(1, reps // 5))
        crop_ms += ms
        valid += res.valid and res.text == plate
        probs = rec.probabilities(img)
        for name, dec in modes.items():
            exact[name] += dec(probs).text == plate
        best = probs.argmax(1)
        keep = (best != 0) & np.r_[True, best[1:] != best[:-1]]
        raw = "".join(rec.charset[i] for i in best[keep])
        exact["raw PP-OCRv4 (no grammar)"] += raw == plate
        exact["raw minus '·' separator"] += raw.replace("·", "") == plate
    for name in (
        "raw PP-OCRv4 (no grammar)",
        "raw minus '·' separator",
        "greedy+repair",
        "grammar",
    ):
        print(
            f"crop exact, {name:28s}: {exact[name]}/{len(crops)} = {exact[name] / len(crops):.1%}"
        )
    print(f"crop exact and valid (reader)        : {valid}/{len(crops)}")
    print(f"per crop latency (read_crop)         : {summary(crop_ms)}")

    ours_ms: list[float] = []
    ours_ok = 0
    for img, plate in frames:
        ms, res = timed(reader.read, img, reps)
        ours_ms += ms
        ours_ok += any(r.text == plate and r.valid for r in res)
    print(f"full frame exact (ours)              : {ours_ok}/{len(frames)}")
    print(f"per full frame latency (ours)        : {summary(ours_ms)}")

    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR()

    def baseline(img: np.ndarray) -> list[str]:
        result, _ = engine(img)
        texts = [line[1] for line in result or []]
        return [p for p in (repair_ocr(t) for t in [*texts, "".join(texts)]) if p]

    base_ms: list[float] = []
    base_ok = 0
    for img, plate in frames:
        ms, found = timed(baseline, img, baseline_reps)
        base_ms += ms
        base_ok += plate in found
    print(f"full frame exact (RapidOCR baseline) : {base_ok}/{len(frames)}")
    print(f"per full frame latency (baseline)    : {summary(base_ms)}")
    ratio = statistics.median(base_ms) / statistics.median(ours_ms)
    print(f"baseline / ours, ratio of medians    : {ratio:.1f}x")


SYNTH_CASES = {  # condition -> render_scene kwargs (seed varies the car, lane and noise)
    "blue frontal": {},
    "green 8-char": {"colour": "green"},
    "yellow": {"colour": "yellow"},
    "white 警": {"colour": "white"},
    "tilt ±12°": {"tilt_deg": 12},
    "perspective ±0.45": {"perspective": 0.45},
    "blur σ2": {"blur": 2.0},
    "dark 0.3 + noise": {"brightness": 0.3, "noise": 5},
    "small 140 px": {"plate_width": 140},
}


def synth_plate(rng: np.random.Generator, colour: str) -> str:
    from edge.plates.grammar import DIGITS, LETTERS, NEV_LETTERS, PROVINCES, SERIAL

    def pick(s: str, n: int = 1) -> str:
        return "".join(rng.choice(list(s), n))

    head = pick(PROVINCES) + pick(LETTERS)
    if colour == "green":
        return head + (pick(NEV_LETTERS) + pick(SERIAL) + pick(DIGITS, 4) if rng.random() < 0.5
                       else pick(DIGITS, 5) + pick(NEV_LETTERS))  # fmt: skip
    if colour == "white":
        return head + pick(DIGITS, 4) + "警"
    if colour == "yellow" and rng.random() < 0.5:
        return head + pick(SERIAL, 4) + rng.choice(["学", "挂"])
    return head + pick(SERIAL, 5)


def bench_synth(reader: PlateReader, per_case: int) -> None:
    try:
        from edge.plates import synth
    except ImportError:
        print("\n== synthetic: edge.plates.synth not present, skipped ==")
        return
    default = reader.detector.min_score
    for min_score in (default, 0.5):
        reader.detector.min_score = min_score
        synth_set(reader, synth, per_case)
    reader.detector.min_score = default
    bench_voting(reader, synth)


def synth_set(reader: PlateReader, synth, per_case: int) -> None:
    print(
        f"\n== synthetic scenes 1280x720 (edge.plates.synth), {per_case} per condition, "
        f"detector_min_score {reader.detector.min_score} =="
    )
    rng = np.random.default_rng(7)
    all_ms: list[float] = []
    totals = Counter()
    for name, kwargs in SYNTH_CASES.items():
        ok = valid = found = 0
        for i in range(per_case):
            kw = dict(kwargs)
            colour = kw.pop("colour", "blue")
            for key in ("tilt_deg", "perspective"):
                if key in kw and i % 2:
                    kw[key] = -kw[key]
            plate = synth_plate(rng, colour)
            frame = synth.render_scene(plate, colour, seed=i, **kw)
            t = time.perf_counter()
            reads = reader.read(frame)
            all_ms.append((time.perf_counter() - t) * 1000)
            found += bool(reads)
            ok += any(r.text == plate for r in reads)
            valid += any(r.text == plate and r.valid for r in reads)
        totals.update(ok=ok, valid=valid, n=per_case)
        print(f"{name:20s}: detected {found}/{per_case}, exact {ok}/{per_case}, "
              f"exact+valid {valid}/{per_case}")  # fmt: skip
    n = totals["n"]
    print(f"{'all synthetic':20s}: exact {totals['ok']}/{n} = {totals['ok'] / n:.1%}, "
          f"exact+valid {totals['valid']}/{n} = {totals['valid'] / n:.1%}")  # fmt: skip
    print(f"per 1280x720 frame latency (ours)    : {summary(all_ms)}")
    empty = sum(bool(reader.read(synth.render_empty_scene(seed=s))) for s in range(20))
    print(f"empty lanes with a plate reported    : {empty}/20")


def bench_voting(reader: PlateReader, synth) -> None:
    """Whole-string vs per-character vote over 5 hard frames per car (blur, dark, angle)."""
    rng = np.random.default_rng(11)
    cars, frames_per_car = 24, 5
    right = Counter()
    for car in range(cars):
        plate = synth_plate(rng, "blue")
        reads = []
        for k in range(frames_per_car):
            frame = synth.render_scene(
                plate, "blue", seed=car * 10 + k, plate_width=int(rng.integers(110, 170)),
                blur=float(rng.uniform(1.0, 2.6)), brightness=float(rng.uniform(0.3, 1.0)),
                noise=float(rng.uniform(2, 9)), perspective=float(rng.uniform(-0.5, 0.5)),
            )  # fmt: skip
            reads += [r for r in reader.read(frame) if r.text]
        right["single frame"] += sum(r.text == plate for r in reads[:1])
        weights: dict[str, float] = defaultdict(float)
        for r in reads:
            if r.valid:
                weights[r.text] += r.confidence
        whole = max(weights, key=lambda t: weights[t]) if weights else ""
        right["whole-string vote"] += whole == plate
        right["whole-string wrong"] += bool(whole) and whole != plate
        per_char = ""
        same_len = [r for r in reads if r.valid and len(r.text) == len(whole)]
        if same_len:
            chars = []
            for i in range(len(whole)):
                votes: dict[str, float] = defaultdict(float)
                for r in same_len:
                    votes[r.text[i]] += r.confidence
                chars.append(max(votes, key=lambda c: votes[c]))
            per_char = "".join(chars)
            if not is_valid_plate(per_char):
                per_char = whole
        right["per-character vote"] += per_char == plate
        right["per-character wrong"] += bool(per_char) and per_char != plate
    print(f"\n== voting ablation: {cars} synthetic cars x {frames_per_car} hard frames ==")
    for name in ("single frame", "whole-string vote", "per-character vote"):
        print(f"{name:20s}: {right[name]}/{cars} cars exact")
    for name in ("whole-string wrong", "per-character wrong"):
        print(f"{name:20s}: {right[name]}/{cars} cars decided with a wrong plate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=30, help="timed repeats per real frame")
    parser.add_argument("--baseline-reps", type=int, default=8, help="repeats per frame, baseline")
    parser.add_argument("--synth-per-case", type=int, default=12)
    parser.add_argument("--no-synth", action="store_true")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    settings = PlateReaderSettings()
    print(f"settings: {settings}")
    reader = PlateReader(settings)
    rows = load_rows()
    if rows:
        bench_real(reader, rows, args.reps, args.baseline_reps)
    if not args.no_synth:
        bench_synth(reader, args.synth_per_case)


if __name__ == "__main__":
    main()
