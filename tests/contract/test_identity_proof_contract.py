"""Contract of the identity proof (身份核验码) on the 医保 platform port: the simulator and HttpPlatform over HTTP
answer the same."""
from __future__ import annotations

from datetime import date

import pytest

from chalicelib.adapters.medical_platform import PROOF_MAX_WRONG, PlatformError
from chalicelib.domain.platform import PlatformPerson
from chalicelib.domain.resident_id import make_test_id

PERSON_ID = make_test_id("331102", date(1980, 5, 1), 11)
NO_PHONE_ID = make_test_id("331121", date(1990, 7, 9), 22, female=True)
UNKNOWN_ID = make_test_id("331102", date(1975, 1, 1), 33)


@pytest.fixture()
def people(simulator):
    for number, name in ((PERSON_ID, "张三"), (NO_PHONE_ID, "李四")):
        simulator.register(PlatformPerson(id_number=number, name=name, city="331100", basic_type="resident",
                                          status="active"))
    simulator.set_phone(PERSON_ID, "13800138000")
    return simulator


def _wrong(simulator) -> str:
    return "000000" if simulator.last_proof(PERSON_ID)["code"] != "000000" else "111111"


def test_the_proof_goes_to_the_phone_on_record_shown_masked(platform, people):
    assert platform.send_identity_proof(PERSON_ID) == "138****8000"


def test_the_code_sent_is_valid_once(platform, people):
    platform.send_identity_proof(PERSON_ID)
    code = people.last_proof(PERSON_ID)["code"]
    assert platform.check_identity_proof(PERSON_ID, code) is True
    assert platform.check_identity_proof(PERSON_ID, code) is False


def test_a_wrong_code_is_not_valid(platform, people):
    platform.send_identity_proof(PERSON_ID)
    assert platform.check_identity_proof(PERSON_ID, _wrong(people)) is False


def test_five_wrong_codes_void_the_proof(platform, people):
    platform.send_identity_proof(PERSON_ID)
    code, wrong = people.last_proof(PERSON_ID)["code"], _wrong(people)
    for _ in range(PROOF_MAX_WRONG):
        platform.check_identity_proof(PERSON_ID, wrong)
    assert platform.check_identity_proof(PERSON_ID, code) is False


def test_no_code_was_sent_means_not_valid(platform, people):
    assert platform.check_identity_proof(PERSON_ID, "123456") is False


@pytest.mark.parametrize("id_number, code", [(NO_PHONE_ID, "NO_PHONE_ON_RECORD"), (UNKNOWN_ID, "PERSON_NOT_FOUND")])
def test_no_proof_without_a_person_and_a_phone(platform, people, id_number, code):
    with pytest.raises(PlatformError) as refused:
        platform.send_identity_proof(id_number)
    assert refused.value.code == code
