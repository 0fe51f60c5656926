"""1:N search over every enrolled template, as one matrix-vector product.

Why a match needs more than the best score: at a gate a stranger is compared with every
resident at once, so the chance that *some* template scores high by accident grows with N.
The threshold is therefore stricter than 1:1 verification (measured in BENCHMARKS.md), and
the best identity must also beat the *second-best identity* by a margin: two residents
scoring almost equally means the face is ambiguous (twins, a poor frame), and opening for
either would be a guess. Templates of the same identity never compete with each other.

The index is immutable: the gate builds a new one when templates change and swaps a
reference, so a search never sees a half-updated matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.faces.embedder import EMBEDDING_DIM


@dataclass(frozen=True)
class SearchResult:
    identity: int | None  # the matched identity, None when no match
    best_identity: int | None  # best-scoring identity even when refused (for the log)
    score: float  # best cosine similarity (-1 when the index is empty)
    second_score: float  # best score of any *other* identity (-1 when none)
    reason: str  # matched | below_threshold | ambiguous | empty_index

    @property
    def margin(self) -> float:
        return self.score - self.second_score


class FaceIndex:
    def __init__(self, vectors: np.ndarray, identities: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, EMBEDDING_DIM)
        identities = np.asarray(identities, dtype=np.int64).reshape(-1)
        if len(vectors) != len(identities):
            raise ValueError("one identity per template vector is needed")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        if not np.all(np.isfinite(norms)) or np.any(norms == 0):
            raise ValueError("template vectors must be finite and non-zero")
        self.vectors = vectors / np.where(norms == 0, 1, norms)
        self.identities = identities

    @classmethod
    def empty(cls) -> FaceIndex:
        return cls(np.zeros((0, EMBEDDING_DIM), np.float32), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.identities)

    def search(self, probe: np.ndarray, threshold: float, margin: float) -> SearchResult:
        """Best identity for a unit ``probe`` vector, if it clears ``threshold`` and ``margin``."""
        if not len(self.identities):
            return SearchResult(None, None, -1.0, -1.0, "empty_index")
        scores = self.vectors @ np.asarray(probe, dtype=np.float32).reshape(EMBEDDING_DIM)
        top = int(np.argmax(scores))
        best_identity = int(self.identities[top])
        best = float(scores[top])
        others = scores[self.identities != best_identity]
        second = float(others.max()) if len(others) else -1.0
        if best < threshold:
            return SearchResult(None, best_identity, best, second, "below_threshold")
        if best - second < margin:
            return SearchResult(None, best_identity, best, second, "ambiguous")
        return SearchResult(best_identity, best_identity, best, second, "matched")
