"""Names and phones shown to someone other than their owner keep only what identifies them to a relative."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.masking import mask_name, mask_phone


@pytest.mark.parametrize("name, masked", [
    ("张三", "张*"), ("张小三", "张*三"), ("欧阳小明", "欧**明"), ("王", "*"), ("", ""),
])
def test_names_keep_first_and_last_character(name, masked):
    assert mask_name(name) == masked


@given(st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=2, max_size=30))
def test_a_masked_name_never_shows_its_middle(name):
    masked = mask_name(name)

    assert len(masked) == len(name)
    assert masked[0] == name[0]
    assert set(masked[1:-1]) <= {"*"} and masked != name


def test_phones_keep_the_first_three_and_last_four_digits():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("123") == "***"
