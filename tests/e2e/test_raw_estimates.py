"""e2e: raw-bill estimates (DOMAIN §12) over HTTP on `make run`, the Must-show list of issue #14: small,
deductible-crossing, band-crossing and large bills, two bills in one request, the negative list inside self-pay,
transfer-out; the layers add up to each bill; bad input → 400 naming the field.

Figures from the shipped 丽水 parameters (illustrative) and 浙丽保 2021's rules."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def raw_bill(total: int, level: int = 2, day: str = "2021-05-01", basic_type: str = "resident", **parts) -> dict:
    return {"service_date": day, "setting": "inpatient", "hospital_level": level, "basic_type": basic_type,
            "raw": {"total_fen": total, **parts}}


def estimate(api, *bills, **extra):
    reply = api.post("/v1/estimates", {"plan_id": "lishui-2021", "bills": list(bills), **extra})
    assert reply.status == 200, reply.body
    return reply.body


def figures(bill: dict) -> tuple[int, ...]:
    layers = bill["layers"]
    assert layers["total_fen"] == (layers["basic"]["paid_fen"] + layers["catastrophic"]["paid_fen"]
                                   + layers["huiminbao"]["payout_fen"] + layers["member_pays_fen"]), "layers add up"
    return (layers["basic"]["deductible_fen"], layers["basic"]["paid_fen"], layers["catastrophic"]["deductible_fen"],
            layers["catastrophic"]["paid_fen"], layers["huiminbao"]["payout_fen"], layers["member_pays_fen"])


def test_small_bill(api):
    body = estimate(api, raw_bill(200_000, level=1, self_pay_fen=10_000))
    assert figures(body["bills"][0]) == (30_000, 136_000, 54_000, 0, 0, 64_000)
    assert body["simulated"] is True
    assert body["bills"][0]["parameters"]["basic"]["illustrative"] is True
    assert "结算单为准" in body["bills"][0]["explanation"][-1]


def test_bill_crossing_the_basic_deductible(api):
    # 1 000 in-policy at level 2: 600 deductible (per admission), 400 × 75% = 300
    body = estimate(api, raw_bill(100_000))
    assert figures(body["bills"][0]) == (60_000, 30_000, 70_000, 0, 0, 70_000)
    assert "其中 600.00 元算作起付线,由您自付" in body["bills"][0]["explanation"]


def test_bill_crossing_the_catastrophic_deductible_and_a_band(api):
    body = estimate(api, raw_bill(20_000_000, level=3), layers_year_to_date={"catastrophic_base_fen": 1_000_000})
    bill = body["bills"][0]
    assert figures(bill) == (100_000, 12_935_000, 675_000, 3_903_500, 1_864_875, 1_296_625)
    assert [b["ratio"] for b in bill["layers"]["catastrophic_bands"]] == ["0.60", "0.65"]


def test_large_bill(api):
    body = estimate(api, raw_bill(50_000_000, level=3), layers_year_to_date={"basic_paid_fen": 20_000_000})
    assert figures(body["bills"][0]) == (100_000, 5_000_000, 1_675_000, 29_577_500, 10_310_625, 5_111_875)


def test_two_bills_in_one_request_carry_the_year(api):
    june = raw_bill(10_000_000, day="2021-06-01", basic_type="employee")
    march = raw_bill(1_000_000, day="2021-03-01", basic_type="employee")
    body = estimate(api, june, march)
    assert figures(body["bills"][1]) == (80_000, 782_000, 218_000, 0, 0, 218_000)
    assert figures(body["bills"][0]) == (0, 8_500_000, 1_457_000, 25_800, 12_900, 1_461_300)
    assert body["layers_year_to_date_after"] == {"basic_deductible_used_fen": 80_000, "basic_paid_fen": 9_282_000,
                                                 "catastrophic_base_fen": 1_718_000, "catastrophic_paid_fen": 25_800}
    assert body["layers"]["total_fen"] == 11_000_000
    assert body["layers"]["member_pays_fen"] == 218_000 + 1_461_300


def test_negative_list_inside_self_pay(api):
    body = estimate(api, raw_bill(3_000_000, self_pay_fen=2_500_000, negative_list_fen=500_000,
                                  admission_list_fen=300_000))
    bill = body["bills"][0]
    assert figures(bill) == (60_000, 330_000, 170_000, 0, 150_000, 2_520_000)
    assert bill["layers"]["slip"]["negative_list_fen"] == 500_000
    assert "负面清单内费用 5,000.00 元不予报销" in bill["explanation"]


def test_transfer_out(api):
    body = estimate(api, raw_bill(10_000_000, level=3, transfer_out_fen=4_000_001))
    bill = body["bills"][0]
    assert figures(bill) == (100_000, 3_834_999, 1_675_000, 294_000, 297_001, 5_574_000)
    assert "转外自理费用 40,000.01 元按 50% 计入,为 20,000.01 元,先扣除起付线" in bill["explanation"]


@pytest.mark.parametrize(("raw", "code", "field"), [
    ({"total_fen": -100}, "VALIDATION_FAILED", "bills.0.raw.total_fen"),
    ({"total_fen": 100_000, "restricted_fen": -1}, "VALIDATION_FAILED", "bills.0.raw.restricted_fen"),
    ({"total_fen": 100_000, "self_pay_fen": 80_000, "transfer_out_fen": 30_000}, "ESTIMATE_RAW_PARTS_EXCEED_TOTAL",
     "bills.0.raw.total_fen"),
    ({"total_fen": 100_000, "self_pay_fen": 10_000, "negative_list_fen": 10_001}, "ESTIMATE_RAW_LISTS_EXCEED_SELF_PAY",
     "bills.0.raw.self_pay_fen"),
])
def test_bad_input_is_400_naming_the_field(api, raw, code, field):
    reply = api.post("/v1/estimates", {"plan_id": "lishui-2021", "bills": [
        {"service_date": "2021-05-01", "setting": "inpatient", "hospital_level": 2, "basic_type": "resident",
         "raw": raw}]})
    assert (reply.status, reply.body["code"], reply.body["details"]["field"]) == (400, code, field)
    assert reply.body["message"]
