"""Who a member is: mainland mobile numbers, real names as on the ID card, one-time code shape."""
import pytest

from chalicelib.domain.errors import BadRequest
from chalicelib.domain.identity import (
    check_sms_code_shape,
    normalise_name,
    parse_phone,
    same_person_name,
)


@pytest.mark.parametrize("phone", ["13800138000", "19912345678", " 15012345678 "])
def test_a_mainland_mobile_number_is_accepted(phone):
    assert parse_phone(phone) == phone.strip()


@pytest.mark.parametrize("phone", ["", "12800138000", "1380013800", "138001380000", "+8613800138000",
                                   "1380013800a", "１３８００１３８０００", "13８00138000"])
def test_anything_else_is_not_a_phone(phone):
    with pytest.raises(BadRequest) as caught:
        parse_phone(phone, field="grantee_phone")
    assert caught.value.code == "PHONE_INVALID"
    assert caught.value.details == {"field": "grantee_phone"}


@pytest.mark.parametrize("name", ["张三", "欧阳娜娜", "买买提·艾力", "Anna", "𠮷野家"])
def test_a_name_as_written_on_the_card_is_accepted(name):
    assert normalise_name(name) == name


def test_dots_typed_with_other_characters_become_the_middle_dot():
    assert normalise_name("买买提•艾力") == "买买提·艾力"
    assert normalise_name("买买提・艾力") == "买买提·艾力"


@pytest.mark.parametrize("name", ["", "张", "张 三", "张3", "·张三", "张三·", "张··三", "<script>", "张" * 31])
def test_a_name_that_cannot_be_on_a_card_is_refused(name):
    with pytest.raises(BadRequest) as caught:
        normalise_name(name)
    assert caught.value.code == "NAME_INVALID"


def test_names_match_regardless_of_dot_style_and_latin_case():
    assert same_person_name("买买提•艾力", "买买提·艾力")
    assert same_person_name("anna", "Anna")
    assert not same_person_name("张三", "张四")


def test_a_code_is_six_digits_leading_zeros_included():
    assert check_sms_code_shape("012345") == "012345"


@pytest.mark.parametrize("code", ["12345", "1234567", "12345a", "", "١٢٣٤٥٦"])
def test_anything_but_six_ascii_digits_is_not_a_code(code):
    with pytest.raises(BadRequest) as caught:
        check_sms_code_shape(code)
    assert caught.value.code == "SMS_CODE_FORMAT"


# ---- Unicode normalisation (issue #10 item 6) --------------------------------------------------------------
def test_a_compatibility_ideograph_is_the_unified_character():
    from chalicelib.domain.identity import normalise_name, same_person_name

    assert normalise_name("\uf900三") == "豈三"
    assert same_person_name("\uf900三", "豈三") and same_person_name("豈三", "\uf900三")


def test_invisible_characters_are_trimmed_on_both_sides_of_a_compare():
    from chalicelib.domain.identity import normalise_name, same_person_name

    assert normalise_name("张\u200b三\ufeff") == "张三"
    assert same_person_name("张三", "\u200e张\u00ad三")


def test_full_width_latin_and_dots_are_folded():
    from chalicelib.domain.identity import normalise_name

    assert normalise_name("ＭＡＲＹ．ＳＭＩＴＨ") == "MARY·SMITH"


def test_a_name_of_only_invisible_characters_is_refused():
    import pytest

    from chalicelib.domain.errors import BadRequest
    from chalicelib.domain.identity import normalise_name

    with pytest.raises(BadRequest):
        normalise_name("\u200b\u200b")
