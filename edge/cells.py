"""Spreadsheet cells that can never run as formulas, for every export a person opens.

A cell starting with ``= + - @`` (or tab/CR) would run as a formula in the officer's
Excel/WPS (CSV injection); such cells get a leading apostrophe. So does every trigger that
follows a separator inside a cell (``工程师;=HYPERLINK(…)`` → ``工程师;'=HYPERLINK(…)``): a
spreadsheet that guesses ``;`` or ``|`` as the separator, or ignores quotes, would split
the cell and run the second half. Shared by the registry's and the gate events' exports,
so neither imports the other.
"""

from __future__ import annotations

import re
from typing import Any

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
# a separator (or line break) a spreadsheet may split on, then a formula trigger
SPLIT_FORMULA = re.compile(r"([,;|\t\r\n]\s*)([=+\-@])")


def safe_cell(value: Any) -> str:
    """Text for a cell that a spreadsheet will never evaluate as a formula."""
    text = "" if value is None else str(value)
    text = SPLIT_FORMULA.sub(r"\1'\2", text)
    return "'" + text if text.startswith(DANGEROUS) else text
