"""Resident ID numbers (GB 11643-1999): check digit, real birth date not in the future, a region code known in any
period, sex from the 17th digit, masking."""
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.errors import BadRequest
from chalicelib.domain.resident_id import (
    check_digit,
    make_test_id,
    mask,
    parse_resident_id,
    region_known,
)

TODAY = date(2021, 4, 15)


def _with_check_digit(first17: str) -> str:
    return first17 + check_digit(first17)


def _refusal(raw: str, today: date = TODAY) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        parse_resident_id(raw, today)
    assert caught.value.code == "ID_NUMBER_INVALID"
    assert caught.value.details["field"] == "id_number"
    return caught.value


# ---- accepted -------------------------------------------------------------------------------------------------
def test_the_standards_example_with_trailing_x_is_accepted():
    resident = parse_resident_id("11010519491231002X", TODAY)
    assert resident.region_code == "110105"
    assert resident.birth_date == date(1949, 12, 31)
    assert resident.sex == "female"


def test_a_lowercase_x_and_surrounding_spaces_are_read_as_the_same_number():
    assert parse_resident_id(" 11010519491231002x ", TODAY).number == "11010519491231002X"


def test_full_width_digits_typed_with_a_chinese_input_method_are_read_as_ascii():
    assert parse_resident_id("１１０１０５１９４９１２３１００２Ｘ", TODAY).number == "11010519491231002X"


def test_sex_comes_from_the_seventeenth_digit_odd_is_male():
    male = _with_check_digit("33110219800506013")
    female = _with_check_digit("33110219800506024")
    assert parse_resident_id(male, TODAY).sex == "male"
    assert parse_resident_id(female, TODAY).sex == "female"


def test_a_region_created_after_the_birth_year_is_accepted():
    # 丽水市莲都区 (331102) exists since 2000; cards issued there carry it whatever the holder's birth year.
    resident = parse_resident_id(_with_check_digit("33110219800101001"), TODAY)
    assert resident.region_code == "331102"
    assert resident.birth_date == date(1980, 1, 1)


def test_a_region_code_that_was_later_abolished_is_accepted():
    # 北京市崇文区 (110103) was merged away in 2010; older cards still carry it.
    assert parse_resident_id(_with_check_digit("11010319650302004"), TODAY).region_code == "110103"


def test_a_taiwan_residence_permit_prefix_is_accepted():
    assert region_known("830000")
    assert parse_resident_id(_with_check_digit("83000019900101002"), TODAY).region_code == "830000"


def test_a_baby_born_today_is_accepted():
    assert parse_resident_id(_with_check_digit("331102" + TODAY.strftime("%Y%m%d") + "001"), TODAY).birth_date == TODAY


def test_29_february_of_a_leap_year_is_a_real_date():
    assert parse_resident_id(_with_check_digit("33110220000229001"), TODAY).birth_date == date(2000, 2, 29)


# ---- refused --------------------------------------------------------------------------------------------------
def test_a_wrong_check_digit_is_refused():
    good = "11010519491231002X"
    assert "校验位" in _refusal(good[:17] + "1").message


def test_29_february_of_a_non_leap_year_is_refused():
    assert "出生日期不存在" in _refusal(_with_check_digit("33110219990229001")).message


@pytest.mark.parametrize("birth", ["19801301", "19800132", "19800000"])
def test_an_impossible_birth_date_is_refused(birth):
    assert "出生日期" in _refusal(_with_check_digit(f"331102{birth}001")).message


def test_a_birth_date_after_today_is_refused():
    assert "晚于今天" in _refusal(_with_check_digit("33110220210416001")).message


def test_an_implausibly_old_birth_date_is_refused():
    assert "不合理" in _refusal(_with_check_digit("11010518800101001")).message


@pytest.mark.parametrize("region", ["999999", "000000", "339999", "990000"])
def test_an_unknown_region_code_is_refused(region):
    assert "地区代码" in _refusal(_with_check_digit(f"{region}19800101001")).message


@pytest.mark.parametrize("raw", ["", "1101051949123100", "1101051949123100XX", "11010519491231002Y",
                                 "X1010519491231002", "110105-9491231002X", "١١٠١٠٥١٩٤٩١٢٣١٠٠٢X"])
def test_anything_but_17_digits_and_a_digit_or_x_is_refused(raw):
    assert "18 位" in _refusal(raw).message


def test_the_refusal_never_repeats_the_number():
    number = _with_check_digit("33110219990229001")
    error = _refusal(number)
    assert number not in error.message
    assert number not in str(error.details)


def test_the_field_name_can_be_chosen_by_the_caller():
    with pytest.raises(BadRequest) as caught:
        parse_resident_id("1", TODAY, field="insured.0.id_number")
    assert caught.value.details["field"] == "insured.0.id_number"


# ---- masking --------------------------------------------------------------------------------------------------
def test_masking_keeps_the_first_six_and_last_four_characters():
    assert mask("11010519491231002X") == "110105********002X"
    assert parse_resident_id("11010519491231002X", TODAY).masked == "110105********002X"


def test_masking_a_short_value_hides_it_entirely():
    assert mask("123456789") == "*********"


# ---- properties -----------------------------------------------------------------------------------------------
births = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)


@given(born=births, seq=st.integers(0, 999), female=st.booleans())
def test_a_made_test_id_decodes_to_its_birth_date_and_sex(born, seq, female):
    resident = parse_resident_id(make_test_id("331102", born, seq, female), TODAY)
    assert resident.birth_date == born
    assert resident.sex == ("female" if female else "male")


@given(born=births, seq=st.integers(0, 999), position=st.integers(0, 16), shift=st.integers(1, 9))
def test_any_single_mistyped_digit_is_caught(born, seq, position, shift):
    number = make_test_id("331102", born, seq)
    typo = number[:position] + str((int(number[position]) + shift) % 10) + number[position + 1:]
    with pytest.raises(BadRequest):
        parse_resident_id(typo, TODAY)


@given(born=births, seq=st.integers(0, 999), position=st.integers(0, 15))
def test_swapping_two_different_neighbouring_digits_is_caught(born, seq, position):
    number = make_test_id("331102", born, seq)
    a, b = number[position], number[position + 1]
    swapped = number[:position] + b + a + number[position + 2:]
    if a != b:
        with pytest.raises(BadRequest):
            parse_resident_id(swapped, TODAY)
