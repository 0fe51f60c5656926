"""Suite-wide test settings.

Hypothesis's default 200 ms deadline per example turns a descheduled test thread or a
garbage collection in a process holding the recognition models into a "flaky" failure on a
loaded CI machine. Speed is measured in bench/, never in unit tests, so examples have no
deadline here.
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("menwei", deadline=None)
settings.load_profile("menwei")
