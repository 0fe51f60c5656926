"""URL converters with bounds: a path number that does not fit is a 404, never a 500.

Werkzeug's ``int`` converter accepts any number of digits, and a 20-digit id reached
SQLite as an integer it cannot hold (OverflowError: HTTP 500). Every ``<int:...>`` in the
app is this converter: at most 2**31 - 1 unless a rule names its own ``max``.
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1


class BoundedInt(IntegerConverter):
    def __init__(
        self,
        map: Any,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = MAX_ID,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, max, signed)
