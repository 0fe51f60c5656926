"""Suite-wide test settings.

Hypothesis's default 200 ms deadline per example turns a descheduled test thread or a
garbage collection in a process holding the recognition models into a "flaky" failure on a
loaded CI machine. Speed is measured in bench/, never in unit tests, so examples have no
deadline here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from edge import audit

settings.register_profile("menwei", deadline=None)
settings.load_profile("menwei")


@pytest.fixture(autouse=True)
def audit_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test's process writes audit rows with one test audit key, unless the code under
    test points the process at its config's key (create_app and the CLI do)."""
    path = tmp_path_factory.getbasetemp() / "audit-key" / "audit.key"
    audit.use_key_file(path)
    return path
