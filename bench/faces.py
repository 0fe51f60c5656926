"""Benchmark: face detection + embedding per frame, 1:N search, and accuracy on real faces.

Run: .venv/bin/python bench/faces.py [--repeats N]

What it prints (everything measured in this run, on this machine):
1. YuNet detection on a 640x480 frame made from a real fixture photo, SFace alignment +
   embedding per face, and their sum (the per-face cost at the gate).
2. 1:N search (``FaceIndex.search``: one matrix-vector product + second-best identity) at
   1k / 10k / 50k templates, against a baseline in the same run: a Python loop over the
   same templates calling ``cv2.FaceRecognizerSF.match``-style per-template cosine.
3. Verification on every pair of single-face fixture photos, in BGR (what OpenCV's samples
   feed) and RGB (the ablation): genuine / impostor score distributions, TAR and false
   accepts at thresholds 0.363 (SFace's 1:1 default) up to 0.60, and for each threshold the
   estimated chance that a stranger matches *someone* among 500 residents x 3 templates,
   from a normal fit to the impostor scores (a model: real tails are usually heavier).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import platform
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from edge.config.pedestrian import FaceRecognitionConfig
from edge.faces.images import read_image_file
from edge.faces.index import FaceIndex
from edge.faces.recogniser import FaceRecogniser

FACES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "faces"


def _ms(samples: list[float]) -> str:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, int(0.95 * len(samples)))]
    return f"median {statistics.median(samples):.2f} ms, p95 {p95:.2f} ms (n = {len(samples)})"


def timing(recogniser: FaceRecogniser, repeats: int) -> None:
    photo = read_image_file(FACES / "fr_obama.jpg")
    frame = np.zeros((480, 640, 3), np.uint8)  # a person at the door: photo placed in a frame
    face = cv2.resize(photo, (384, 480), interpolation=cv2.INTER_AREA)
    frame[:, 128:512] = face
    faces = recogniser.detector.detect(frame)
    assert faces, "no face found in the timing frame"
    recogniser.embedder.embed(frame, faces[0])  # warm-up
    det, emb = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        faces = recogniser.detector.detect(frame)
        det.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        recogniser.embedder.embed(frame, faces[0])
        emb.append((time.perf_counter() - t) * 1000)
    total = [a + b for a, b in zip(det, emb, strict=True)]
    print("1. per 640x480 frame, one face")
    print(f"   detect (YuNet)          {_ms(det)}")
    print(f"   align + embed (SFace)   {_ms(emb)}")
    print(f"   detect + embed          {_ms(total)}   target <= 35 ms")


def search_timing(repeats: int) -> None:
    rng = np.random.default_rng(0)
    print("2. 1:N search (3 templates per identity)")
    for n in (1_000, 10_000, 50_000):
        vectors = rng.normal(size=(n, 128)).astype(np.float32)
        index = FaceIndex(vectors, np.arange(n) // 3)
        probe = vectors[n // 2] / np.linalg.norm(vectors[n // 2])
        index.search(probe, 0.5, 0.05)
        ours = []
        for _ in range(repeats):
            t = time.perf_counter()
            index.search(probe, 0.5, 0.05)
            ours.append((time.perf_counter() - t) * 1000)
        loop = []
        rows = list(index.vectors[: min(n, 10_000)])
        for _ in range(3):
            t = time.perf_counter()
            best = -2.0
            for row in rows:  # the obvious Python loop, on at most 10k rows
                best = max(best, float(np.dot(row, probe)))
            loop.append((time.perf_counter() - t) * 1000 * n / len(rows))
        print(
            f"   N = {n:>6}: vectorised {_ms(ours)};  Python-loop baseline "
            f"median {statistics.median(loop):.1f} ms (scaled from {len(rows)} rows)"
        )


def accuracy(recogniser: FaceRecogniser) -> None:
    with (FACES / "labels.tsv").open(encoding="utf-8") as handle:
        labels = {r["file"]: r["identity"] for r in csv.DictReader(handle, delimiter="\t")}
    usable = {f: i for f, i in labels.items() if not i.startswith("MULTI") and "partial" not in f}
    default = FaceRecognitionConfig().match_threshold
    print(
        f"3. verification on {len(usable)} single-face fixtures ({len(set(usable.values()))} ids)"
    )
    for colour in ("bgr", "rgb"):
        recogniser.embedder.colour = colour
        vectors = {}
        for name in usable:
            image = read_image_file(FACES / name)
            face = recogniser.detector.detect(image)[0]
            vectors[name] = recogniser.embedder.embed(image, face)
        genuine, impostor = [], []
        for a, b in itertools.combinations(sorted(vectors), 2):
            score = float(vectors[a] @ vectors[b])
            (genuine if usable[a] == usable[b] else impostor).append(score)
        mu, sigma = statistics.mean(impostor), statistics.stdev(impostor)
        print(
            f"   {colour.upper()}: genuine n={len(genuine)} mean {statistics.mean(genuine):.3f} "
            f"min {min(genuine):.3f};  impostor n={len(impostor)} mean {mu:.3f} "
            f"sd {sigma:.3f} max {max(impostor):.3f}"
        )
        for threshold in (0.363, 0.40, 0.45, 0.50, 0.55, 0.60):
            tar = sum(s >= threshold for s in genuine) / len(genuine)
            fa = sum(s >= threshold for s in impostor)
            per_pair = 0.5 * math.erfc((threshold - mu) / (sigma * math.sqrt(2)))
            at_500 = 1 - (1 - per_pair) ** 1500
            mark = "  <- default" if abs(threshold - default) < 1e-9 else ""
            print(
                f"     threshold {threshold:.3f}: TAR {tar:6.1%}  "
                f"false accepts {fa}/{len(impostor)}"
                f"  est. stranger matches someone of 500 (x3 templates): {at_500:.2e}{mark}"
            )
    recogniser.embedder.colour = "bgr"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.processor() or '?'}, OpenCV {cv2.__version__}")
    if not (FACES / "labels.tsv").is_file():
        raise SystemExit(f"face fixtures not found at {FACES}")
    cv2.setNumThreads(2)
    recogniser = FaceRecogniser()
    timing(recogniser, args.repeats)
    search_timing(args.repeats)
    accuracy(recogniser)


if __name__ == "__main__":
    main()
