"""POST /v1/estimates with raw hospital bills (DOMAIN §12, API.md v1.1): the layers, their sums, the parameters and
their provenance, what-if layer state, the policy variant, and 400s naming the field.

Figures use the shipped 丽水 parameters (illustrative): 城乡居民, level 1 inpatient: 300 yuan per admission, 85%;
大病 deductible 16 750 yuan, 60/65/70% bands of 50 000 yuan.
"""
from __future__ import annotations

import pytest

from tests.api.test_estimates_api import people, post  # noqa: F401 (the fixture)

SMALL = {"service_date": "2021-05-01", "setting": "inpatient", "hospital_level": 1, "basic_type": "resident",
         "raw": {"total_fen": 200_000, "self_pay_fen": 10_000}}


def big(total: int, day: str = "2021-05-01", level: int = 3, **parts) -> dict:
    return {"service_date": day, "setting": "inpatient", "hospital_level": level, "basic_type": "resident",
            "raw": {"total_fen": total, **parts}}


def layer_figures(bill: dict) -> tuple[int, ...]:
    layers = bill["layers"]
    return (layers["basic"]["deductible_fen"], layers["basic"]["paid_fen"], layers["catastrophic"]["deductible_fen"],
            layers["catastrophic"]["paid_fen"], layers["huiminbao"]["payout_fen"], layers["member_pays_fen"])


def assert_adds_up(bill: dict) -> None:
    layers = bill["layers"]
    assert layers["total_fen"] == (layers["basic"]["paid_fen"] + layers["catastrophic"]["paid_fen"]
                                   + layers["huiminbao"]["payout_fen"] + layers["member_pays_fen"])
    assert layers["huiminbao"]["payout_fen"] == bill["payout_fen"]


def test_a_raw_bill_is_estimated_through_every_layer_and_says_it_is_simulated(client):
    status, body = post(client, {"plan_id": "lishui-2021", "bills": [SMALL]})
    assert status == 200, body
    bill = body["bills"][0]
    assert bill["simulated"] is True and body["simulated"] is True
    assert layer_figures(bill) == (30_000, 136_000, 54_000, 0, 0, 64_000)
    assert_adds_up(bill)
    assert bill["layers"]["slip"]["in_policy_below_catastrophic_fen"] == 54_000
    params = bill["parameters"]
    assert (params["city"], params["basic"]["deductible_per"], params["basic"]["ratio"]) == ("331100", "admission",
                                                                                             "0.85")
    assert params["basic"]["illustrative"] is True and params["basic"]["source"] is None and params["basic"]["basis"]
    assert params["catastrophic"]["bands"][-1] == {"up_to_fen": None, "ratio": "0.70"}
    assert "基本医保支付 1,360.00 元" in bill["explanation"]
    assert "示意参数" in bill["explanation"][-1] and "结算单为准" in bill["explanation"][-1]
    assert any("示意参数" in note for note in body["notes"])
    assert body["layers_year_to_date_after"] == {"basic_deductible_used_fen": 0, "basic_paid_fen": 136_000,
                                                 "catastrophic_base_fen": 54_000, "catastrophic_paid_fen": 0}


def test_slip_only_requests_answer_as_before(client):
    status, body = post(client, {"plan_id": "lishui-2021", "bills": [
        {"service_date": "2021-05-01", "setting": "inpatient", "self_pay_fen": 5_000_000}]})
    assert status == 200
    assert (body["simulated"], body["layers"], body["layers_year_to_date_after"]) == (False, None, None)
    assert (body["bills"][0]["simulated"], body["bills"][0]["layers"], body["bills"][0]["parameters"]) == \
        (False, None, None)


def test_two_raw_bills_and_a_slip_carry_the_year_and_sum_at_the_top(client):
    bills = [big(20_000_000, "2021-06-01"), SMALL,
             {"service_date": "2021-05-15", "setting": "inpatient", "self_pay_fen": 1_000_000}]
    status, body = post(client, {"plan_id": "lishui-2021", "bills": bills})
    assert status == 200, body
    raw_bills = [b for b in body["bills"] if b["layers"]]
    assert [b["index"] for b in raw_bills] == [0, 1]
    for b in raw_bills:
        assert_adds_up(b)
    top = body["layers"]
    for path in (("basic", "paid_fen"), ("basic", "deductible_fen"), ("catastrophic", "paid_fen"),
                 ("catastrophic", "deductible_fen"), ("huiminbao", "payout_fen")):
        assert top[path[0]][path[1]] == sum(b["layers"][path[0]][path[1]] for b in raw_bills)
    assert top["total_fen"] == 20_200_000
    assert top["member_pays_fen"] == sum(b["layers"]["member_pays_fen"] for b in raw_bills)
    # the May bill's 540 yuan of self-pay counted towards 大病 before the June bill: its deductible part is less
    assert raw_bills[0]["layers"]["catastrophic"]["deductible_fen"] == 1_675_000 - 54_000
    assert body["layers_year_to_date_after"]["catastrophic_base_fen"] == 54_000 + raw_bills[0]["layers"]["total_fen"] \
        - raw_bills[0]["layers"]["basic"]["paid_fen"]
    # one 惠民保 year: the raw bill of 1 May used 100 of its deductible, the slip of 15 May 10 000, June none
    assert [b["deductible_applied_fen"] for b in body["bills"]] == [0, 10_000, 1_000_000]
    assert body["year_to_date_after"]["deductible_used_fen"] == 1_010_000


def test_a_what_if_layer_state_moves_the_bill_past_the_catastrophic_deductible(client):
    status, body = post(client, {"plan_id": "lishui-2021", "layers_year_to_date": {"catastrophic_base_fen": 1_000_000},
                                 "bills": [big(20_000_000)]})
    assert status == 200, body
    assert layer_figures(body["bills"][0]) == (100_000, 12_935_000, 675_000, 3_903_500, 1_864_875, 1_296_625)
    assert [(b["from_fen"], b["to_fen"], b["amount_fen"], b["ratio"], b["payout_fen"])
            for b in body["bills"][0]["layers"]["catastrophic_bands"]] == [
        (0, 5_000_000, 5_000_000, "0.60", 3_000_000), (5_000_000, 10_000_000, 1_390_000, "0.65", 903_500)]
    assert body["layers_year_to_date_before"]["catastrophic_base_fen"] == 1_000_000
    assert any("您填写的数值" in note and "大病" in note for note in body["notes"])


def test_negative_list_and_transfer_out(client):
    status, body = post(client, {"plan_id": "lishui-2021", "bills": [
        big(3_000_000, level=2, self_pay_fen=2_500_000, negative_list_fen=500_000, admission_list_fen=300_000),
        big(10_000_000, day="2022-01-01", transfer_out_fen=4_000_001)]})
    assert status == 200, body
    negative, transfer = body["bills"]
    assert layer_figures(negative) == (60_000, 330_000, 170_000, 0, 150_000, 2_520_000)
    assert {"category": "negative_list", "amount_fen": 500_000, "reason": "negative_list"} in negative["excluded"]
    # outside lishui-2021's coverage: basic and 大病 still pay; 惠民保 does not, and says why
    assert transfer["not_covered_reason"] == "after_benefit_end"
    assert transfer["layers"]["basic"]["paid_fen"] == 3_834_999
    assert_adds_up(transfer)


def test_raw_bill_on_a_policy_uses_the_policys_huiminbao_year(client, people):  # noqa: F811
    status, body = post(client, {"policy_id": "pol-1", "bills": [big(20_000_000, "2021-08-01")]}, people["insured"])
    assert status == 200, body
    bill = body["bills"][0]
    assert body["year_to_date_before"]["eligible_fen"] == 19_000_000
    # the policy's year already counts 190 000 eligible: this bill's 24 865 after 大病 crosses the 200 000 tier bound
    assert [t["ratio"] for t in bill["tiers"]] == ["0.75", "0.85"]
    assert_adds_up(bill)


# ---- bad input: 400 naming the field, never a 500 --------------------------------------------------------------------
@pytest.mark.parametrize(("change", "code", "field"), [
    (lambda b: b["raw"].update(total_fen=-1), "VALIDATION_FAILED", "bills.0.raw.total_fen"),
    (lambda b: b["raw"].update(self_pay_fen=-5), "VALIDATION_FAILED", "bills.0.raw.self_pay_fen"),
    (lambda b: b["raw"].update(self_pay_fen=150_000, restricted_fen=30_000, class_b_prepay_fen=20_000,
                               transfer_out_fen=1), "ESTIMATE_RAW_PARTS_EXCEED_TOTAL", "bills.0.raw.total_fen"),
    (lambda b: b["raw"].update(negative_list_fen=6_000, admission_list_fen=5_000),
     "ESTIMATE_RAW_LISTS_EXCEED_SELF_PAY", "bills.0.raw.self_pay_fen"),
    (lambda b: b.update(hospital_level=4), "VALIDATION_FAILED", "bills.0.hospital_level"),
    (lambda b: b.update(hospital_level="2"), "VALIDATION_FAILED", "bills.0.hospital_level"),
    (lambda b: b.update(basic_type="farmer"), "VALIDATION_FAILED", "bills.0.basic_type"),
    (lambda b: b.pop("hospital_level"), "ESTIMATE_RAW_FIELD_REQUIRED", "bills.0.hospital_level"),
    (lambda b: b.pop("basic_type"), "ESTIMATE_RAW_FIELD_REQUIRED", "bills.0.basic_type"),
    (lambda b: b.update(self_pay_fen=100), "ESTIMATE_RAW_WITH_SLIP_AMOUNTS", "bills.0.self_pay_fen"),
    (lambda b: b.pop("raw"), "ESTIMATE_RAW_FIELD_WITHOUT_RAW", "bills.0.hospital_level"),
    (lambda b: b["raw"].pop("total_fen"), "MISSING_FIELD", "bills.0.raw.total_fen"),
    (lambda b: b["raw"].update(surcharge_fen=1), "UNKNOWN_FIELD", "bills.0.raw.surcharge_fen"),
])
def test_bad_raw_bills_are_400_naming_the_field(client, change, code, field):
    bill = {**SMALL, "raw": dict(SMALL["raw"])}
    change(bill)
    status, body = post(client, {"plan_id": "lishui-2021", "bills": [SMALL, bill]
                                 if field.startswith("bills.1") else [bill]})
    assert (status, body["code"], body["details"]["field"]) == (400, code, field)
    assert body["message"]


def test_parts_larger_than_the_total_say_so_in_chinese(client):
    bill = {**SMALL, "raw": {"total_fen": 100_000, "self_pay_fen": 90_000, "class_b_prepay_fen": 20_000}}
    status, body = post(client, {"plan_id": "lishui-2021", "bills": [SMALL, bill]})
    assert (status, body["details"]["field"]) == (400, "bills.1.raw.total_fen")
    assert body["message"] == ("第2张账单:全自费、超限价、乙类先行自付和转外自理合计 1,100.00 元,"
                               "超过了医疗费总额(total_fen)1,000.00 元,请核对。")


def test_the_validation_message_names_the_field_in_chinese(client):
    status, body = post(client, {"plan_id": "lishui-2021", "bills": [{**SMALL, "hospital_level": 5}]})
    assert status == 400
    assert "医院等级" in body["message"]


def test_a_basic_type_the_city_has_no_parameters_for_is_a_422_rule(client):
    bill = dict(SMALL, service_date="2019-01-05", basic_type="employee")
    status, body = post(client, {"plan_id": "dengfeng-2018", "bills": [bill]})
    assert (status, body["code"], body["details"]["field"]) == (422, "ESTIMATE_RAW_BASIC_TYPE_UNKNOWN",
                                                                 "bills.0.basic_type")
    assert "城乡居民医保" in body["message"]


def test_a_negative_layer_state_is_400(client):
    status, body = post(client, {"plan_id": "lishui-2021", "layers_year_to_date": {"basic_paid_fen": -1},
                                 "bills": [SMALL]})
    assert (status, body["details"]["field"]) == (400, "layers_year_to_date.basic_paid_fen")


def test_the_openapi_document_describes_raw_bills_and_layers(client):
    import json

    doc = json.loads(client.http.get("/v1/openapi.json").body)
    schemas = doc["components"]["schemas"]
    assert {"total_fen", "self_pay_fen", "negative_list_fen"} <= set(schemas["RawBillIn"]["properties"])
    assert {"raw", "hospital_level", "basic_type"} <= set(schemas["EstimateRequestBill"]["properties"])
    assert {"layers", "simulated", "parameters"} <= set(schemas["BillEstimate"]["properties"])
    assert {"layers", "layers_year_to_date_after"} <= set(schemas["EstimateResponse"]["properties"])


def test_a_plan_whose_city_has_no_parameters_refuses_raw_bills_but_not_slips(client, monkeypatch):
    import chalicelib.plans.cities as cities

    monkeypatch.setattr(cities, "city_insurance", lambda city: None)
    status, body = post(client, {"plan_id": "lishui-2021", "bills": [SMALL]})
    assert (status, body["code"], body["details"]["field"]) == (422, "ESTIMATE_RAW_CITY_UNSUPPORTED", "bills.0.raw")
    assert "丽水市" in body["message"]
    status, _ = post(client, {"plan_id": "lishui-2021", "bills": [
        {"service_date": "2021-05-01", "setting": "inpatient", "self_pay_fen": 100}]})
    assert status == 200
