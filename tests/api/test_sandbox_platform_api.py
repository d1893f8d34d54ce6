"""The sandbox's people and platform administration routes (local stage only)."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from chalicelib.domain.resident_id import make_test_id

ID_NUMBER = make_test_id("331102", date(1980, 5, 1), 11)
JSON = {"Content-Type": "application/json"}


def post(client, path: str, body: dict):
    return client.http.post(path, headers=JSON, body=json.dumps(body, ensure_ascii=False))


def person(**overrides) -> dict:
    return {"name": "张三", "id_number": ID_NUMBER, "city": "331100", "basic_type": "employee", "status": "active",
            "basic_start": "2005-03-01", "account_current_fen": 50_000, "account_prior_years_fen": 120_000,
            "special_groups": ["低保"], "life_event": {"kind": "household_moved_in", "date": "2020-12-01"}} | overrides


def test_registering_a_person_answers_with_the_id_number_masked(client):
    response = post(client, "/sandbox/people", person())

    assert response.status_code == 201
    body = response.json_body
    assert body["id_number_masked"] == ID_NUMBER[:6] + "********" + ID_NUMBER[-4:]
    assert ID_NUMBER not in response.body.decode()
    assert (body["birth_date"], body["sex"]) == ("1980-05-01", "male")
    assert body["life_events"] == [{"kind": "household_moved_in", "date": "2020-12-01"}]


def test_the_registered_person_is_what_the_platform_port_finds(client):
    from chalicelib import deps

    post(client, "/sandbox/people", person())

    found = deps.platform().find_person(ID_NUMBER)
    assert (found.name, found.city, found.basic_type, found.basic_start) == ("张三", "331100", "employee",
                                                                              date(2005, 3, 1))
    assert deps.platform().balances(ID_NUMBER).prior_years_fen == 120_000


def test_an_invalid_id_number_is_refused_with_the_reason(client):
    response = post(client, "/sandbox/people", person(id_number=ID_NUMBER[:17] + ("0" if ID_NUMBER[17] != "0"
                                                                                    else "1")))
    assert response.status_code == 400
    assert response.json_body["code"] == "ID_NUMBER_INVALID"


def test_a_resident_cannot_be_given_an_account_balance(client):
    response = post(client, "/sandbox/people", person(basic_type="resident"))
    assert response.status_code == 400
    assert response.json_body["code"] == "SANDBOX_RESIDENT_HAS_NO_ACCOUNT"


def test_the_statement_shows_balances_deductions_and_refunds_with_id_numbers_masked(client):
    from chalicelib import deps

    post(client, "/sandbox/people", person())
    deps.platform().deduct(ID_NUMBER, "prior_years", 15_000, "order-0001-pay", "ORDER-0001")
    deps.platform().refund("order-0001-pay", 5_000, "order-0001-refund")

    response = client.http.get(f"/sandbox/people/{ID_NUMBER}")

    assert response.status_code == 200
    body = response.json_body
    assert (body["account_current_fen"], body["account_prior_years_fen"]) == (50_000, 110_000)
    assert [(d["amount_fen"], d["source"]) for d in body["deductions"]] == [(15_000, "prior_years")]
    assert [r["amount_fen"] for r in body["refunds"]] == [5_000]
    assert ID_NUMBER not in response.body.decode()


def test_the_statement_of_an_unknown_person_is_not_found(client):
    assert client.http.get(f"/sandbox/people/{ID_NUMBER}").status_code == 404


def test_an_injected_fault_makes_the_next_call_time_out_after_taking_effect(client):
    from chalicelib import deps
    from chalicelib.adapters.medical_platform import PlatformUnavailable

    post(client, "/sandbox/people", person())
    response = post(client, "/sandbox/platform/faults", {"operation": "deduct", "when": "after"})
    assert response.status_code == 201

    with pytest.raises(PlatformUnavailable):
        deps.platform().deduct(ID_NUMBER, "current", 1_000, "order-0002-pay", "ORDER-0002")
    assert deps.platform().find_deduction("order-0002-pay") is not None


def test_an_unknown_fault_is_refused(client):
    response = post(client, "/sandbox/platform/faults", {"operation": "format_disk", "when": "after"})
    assert response.status_code == 400


def test_a_pushed_settlement_is_listed_by_the_platform(client, clock):
    from datetime import datetime

    from chalicelib import deps
    from chalicelib.adapters.clock import CHINA_TZ

    clock.set(datetime(2021, 5, 3, 9, 0, tzinfo=CHINA_TZ))
    post(client, "/sandbox/people", person())

    response = post(client, "/sandbox/settlements", {"id_number": ID_NUMBER, "service_date": "2021-05-01",
                                                     "setting": "inpatient",
                                                     "amounts_fen": {"self_pay_fen": 30_000}})

    assert response.status_code == 201
    assert response.json_body["settled_at"] == "2021-05-03T09:00:00+08:00"
    listed = deps.platform().settlements_after(0)
    assert [s.settlement_id for s in listed] == [response.json_body["settlement_id"]]
    assert response.json_body["seq"] == 1


def test_the_platform_contract_routes_refuse_unsigned_calls(client):
    response = post(client, "/sandbox/platform/persons/query", {"id_number": ID_NUMBER})
    assert response.status_code == 401
    assert response.json_body["code"] == "PLATFORM_SIGNATURE_INVALID"


def test_a_settlement_in_the_national_shape_is_published_with_its_service_date_and_setting(client, clock):
    from datetime import datetime

    from chalicelib import deps
    from chalicelib.adapters.clock import CHINA_TZ

    clock.set(datetime(2021, 5, 3, 9, 0, tzinfo=CHINA_TZ))
    post(client, "/sandbox/people", person())
    record = {"setl_id": "N-1", "setl_time": "2021-05-01T10:00:00+08:00", "med_type": "21",
              "medfee_sumamt": "250000.00", "fulamt_ownpay_amt": "50000.00", "inscp_scp_amt": "200000.00",
              "hifp_pay": "140000.00", "hifmi_pay": "30000.00", "psn_part_amt": "80000.00", "acct_pay": "10000.00",
              "psn_cash_pay": "70000.00"}

    response = post(client, "/sandbox/settlements", {"id_number": ID_NUMBER, "settlement": record})

    assert response.status_code == 201, response.json_body
    body = response.json_body
    assert (body["settlement_id"], body["service_date"], body["setting"]) == ("N-1", "2021-05-01", "inpatient")
    assert body["national"]["medfee_sumamt"] == "250000.00"
    [published] = deps.platform().settlements_after(0)
    assert published.national.hifmi_pay == Decimal("30000.00")


def test_a_settlement_with_both_shapes_or_neither_is_refused_naming_the_problem(client):
    post(client, "/sandbox/people", person())
    response = post(client, "/sandbox/settlements", {"id_number": ID_NUMBER})
    assert response.status_code == 400
    assert response.json_body["code"] == "VALIDATION_FAILED"
