"""bench/liveness.py's bookkeeping, without models or fixtures: the 95 % Wilson interval its
held-out table prints, and its refusal of a test seed that is also a dev seed (a seed that
chose the threshold cannot report on it)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from edge.config.liveness import LivenessConfig
from edge.faces.liveness.checker import DEFAULT_THRESHOLD

ROOT = Path(__file__).resolve().parents[1]
Z = 1.959963984540054


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_liveness", ROOT / "bench" / "liveness.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (0, 20, 0.0, 0.16113),  # upper bound z^2 / (n + z^2): one in 20 is not "0 %"
        (1, 20, 0.00888, 0.23611),
        (5, 10, 0.23659, 0.76341),  # symmetric about one half
        (1, 10, 0.01787, 0.40415),
        (4, 80, 0.01961, 0.12162),
        (11, 240, 0.02578, 0.08019),
        (20, 20, 0.83887, 1.0),
    ],
)
def test_wilson_known_values(bench: ModuleType, k: int, n: int, low: float, high: float) -> None:
    got = bench.wilson(k, n)
    assert got == pytest.approx((low, high), abs=5e-5)


def test_wilson_closed_forms_and_edges(bench: ModuleType) -> None:
    for n in (1, 7, 20, 240):
        assert bench.wilson(0, n) == pytest.approx((0.0, Z * Z / (n + Z * Z)))
        assert bench.wilson(n, n) == pytest.approx((n / (n + Z * Z), 1.0))
        for k in range(n + 1):
            low, high = bench.wilson(k, n)
            assert 0.0 <= low <= k / n <= high <= 1.0
    assert bench.wilson(0, 0) == (0.0, 1.0)  # nothing counted: nothing known
    with pytest.raises(ValueError):
        bench.wilson(3, 2)


def test_seeds_dev_then_test_as_before(bench: ModuleType) -> None:
    assert bench.split_seeds([1, 3, 2], [], []) == ([1, 3], [2])
    assert bench.split_seeds([1, 3, 5], [2, 4, 6, 8], [7, 9]) == ([1, 3, 5], [2, 4, 6, 8])
    with pytest.raises(SystemExit, match="at least one dev seed"):
        bench.split_seeds([2], [], [])


@pytest.mark.parametrize(
    ("seeds", "held_out", "extra", "message"),
    [
        ([1, 3, 5], [2, 3], [], r"\[3\] are also dev"),
        ([1, 3], [2, 4, 7], [7, 9], r"\[7\] are also dev or --extra"),
        ([1, 3, 3], [], [3], r"\[3\] are also dev"),  # the old form: last seed is the test seed
        ([1, 3], [2, 4, 2], [], "listed twice"),
    ],
)
def test_a_test_seed_that_is_also_dev_is_refused(
    bench: ModuleType, seeds: list[int], held_out: list[int], extra: list[int], message: str
) -> None:
    with pytest.raises(SystemExit, match=message):
        bench.split_seeds(seeds, held_out, extra)


def test_command_line_refuses_the_overlap_before_any_work() -> None:
    done = subprocess.run(
        [sys.executable, "-P", "bench/liveness.py", "--seeds", "1", "3", "--held-out", "3", "4"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert "held-out seed(s) [3] are also dev" in done.stderr
    assert "machine:" not in done.stdout  # refused before a set is built or a model loaded


def test_bench_threshold_is_the_products(bench: ModuleType) -> None:
    """The bench reports at the config's default (what a box runs), and the checker's own
    default is the same number: a change to one without the other would report a figure
    for a threshold no door uses."""
    assert bench.THRESHOLD == LivenessConfig().threshold == DEFAULT_THRESHOLD
