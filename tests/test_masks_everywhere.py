"""One mask per kind of value, the same wherever a value is shown (web probe, Dec 2026).

A mask hides the same positions on every page, export and public page: two masks of the
same name that hide different parts (or one that hides the characters but shows how many
there were) combine into more than either shows. The console's resident lists showed
``张**`` for any name while the tenant's own status and a co-resident's consent page
showed ``张**`` for 张三丰 and ``张*`` for 张三: the length of a name, on pages a stranger
holding a link can open.
"""

from __future__ import annotations

import pytest

from edge.people import residents
from qr_registry import masking

NAMES = ["张三", "张三丰", "欧阳建国", "阿卜杜·热合曼·买买提", "Anna Schmidt", "李", "A" * 60]


@pytest.mark.parametrize("mask", [residents.mask_name, masking.mask_name],
                         ids=["console", "registry"])  # fmt: skip
def test_a_masked_name_shows_its_first_character_and_never_its_length(mask) -> None:
    shown = {name: mask(name) for name in NAMES}
    assert {len(text) for text in shown.values()} == {3}, shown
    assert all(text == name[0] + "**" for name, text in shown.items()), shown


def test_the_console_and_the_registry_mask_a_name_alike() -> None:
    assert [masking.mask_name(n) for n in NAMES] == [residents.mask_name(n) for n in NAMES]
