"""Every benchmark in bench/ still starts: its imports and its command line resolve.

BENCHMARKS.md names one command per hot path; a benchmark that no longer imports after a
module moved is a figure nobody can re-measure. Each script is run as documented
(``python -P bench/X.py``) with ``--help``, in its own process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.name for p in (ROOT / "bench").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_starts(script: str) -> None:
    done = subprocess.run(
        [sys.executable, "-P", f"bench/{script}", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
