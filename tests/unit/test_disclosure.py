"""Disclosure arithmetic (DOMAIN §8) and the counter ops that the money transactions carry."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.claim_models import ClaimPolicy, YearToDateFigures
from chalicelib.domain.disclosure import Counts, counted_county, disclosure_figures, enrolled_rate, loss_ratio, merge
from chalicelib.domain.order import Order, OrderInsured
from chalicelib.domain.plan import Disclosure
from chalicelib.domain.policy import Policy
from chalicelib.plans import get_plan
from chalicelib.services import disclosure

LISHUI = get_plan("lishui-2021")
COUNTIES = list(LISHUI.disclosure.counties)
# The report as it reads before the bureau gives population figures (the shipped plan carries illustrative ones).
NO_POPULATION = LISHUI.model_copy(update={"disclosure": LISHUI.disclosure.model_copy(
    update={"insured_population": {}, "insured_population_illustrative": False})})


# ---- loss ratio and enrolled rate ---------------------------------------------------------------------------------
def test_loss_ratio_is_paid_over_premium_net_of_the_operating_fee():
    # 9,500 paid on 10,000 of premium with a 5% operating fee: exactly the net premium → 100%
    assert loss_ratio(9500, 10000, Decimal("0.05")) == Decimal("1.0000")
    assert loss_ratio(4_650_000, 10000, Decimal("0.05")) == Decimal("489.4737")


def test_loss_ratio_rounds_half_up_to_four_places_once():
    assert loss_ratio(1, 20000, Decimal("0")) == Decimal("0.0001")  # 0.00005 → up
    assert loss_ratio(2, 3, Decimal("0")) == Decimal("0.6667")
    assert loss_ratio(1, 3, Decimal("0")) == Decimal("0.3333")


def test_loss_ratio_is_unknown_without_premium():
    assert loss_ratio(0, 0, Decimal("0.05")) is None
    assert loss_ratio(500, 0, Decimal("0")) is None


def test_enrolled_rate_needs_the_bureaus_population_figure():
    assert enrolled_rate(1, 3) == Decimal("0.3333")
    assert enrolled_rate(50, None) is None


def test_an_insured_without_a_recorded_county_counts_in_the_plan_city():
    assert counted_county(LISHUI, None) == "331100"
    assert counted_county(LISHUI, "331121") == "331121"


# ---- counter ops ---------------------------------------------------------------------------------------------------
def family_order(counties: list[str | None], method: str = "personal_account") -> Order:
    order_id = "ORD20201215100000ABCDEF123456"
    insured = [OrderInsured(ref=f"M{n}", id_hash=f"h{n}", id_enc=f"e{n}", name="王建国", who=f"第{n}位被保险人",
                            benefit_start="2021-01-01", waiting_rule="none", platform={"county": c})
               for n, c in enumerate(counties, start=1)]
    return Order(order_id=order_id, plan_id=LISHUI.plan_id, payer_account_id="acct-1", payment_method=method,
                 premium_fen=10000, amount_fen=10000 * len(counties), insured=insured,
                 policy_ids=[f"POL{order_id[3:]}{n:02d}" for n in range(1, len(counties) + 1)], status="paid",
                 created_at="2020-12-15T10:00:00+08:00", updated_at="2020-12-15T10:00:00+08:00",
                 idempotency={"scope": "acct-1#orders", "key": "k1", "request_hash": "rh"})


def a_policy(**changes) -> Policy:
    fields = {"policy_id": "POL1", "plan_id": LISHUI.plan_id, "order_id": "ORD1", "insured_hash": "h1",
              "insured_name": "王建国", "insured_id_enc": "e1", "payer_account_id": "acct-1",
              "payment_method": "wechat_pay", "premium_fen": 10000, "paid_at": "2020-12-15T10:00:00+08:00",
              "benefit_start": "2021-01-01", "coverage_end": "2021-12-31", "waiting_rule": "none",
              "created_at": "2020-12-15T10:00:00+08:00", "county": "331121"}
    return Policy(**{**fields, **changes})


def claimed_on(county: str | None = None, payment_method: str | None = None) -> ClaimPolicy:
    """What a claim reads of its policy: where it was counted."""
    return ClaimPolicy(policy_id="POL1", plan_id=LISHUI.plan_id, insured_hash="h1", benefit_start=date(2021, 1, 1),
                       coverage_end=date(2021, 12, 31), county=county, payment_method=payment_method,
                       year_to_date=YearToDateFigures(deductible_used_fen=0, eligible_fen=0, paid_fen=0))


def test_a_family_order_touches_one_counter_per_county_with_merged_increments():
    ops = disclosure.issuance_ops(LISHUI, family_order(["331102", "331121", "331102"]))
    by_county = {op.values[":county"]: op.values for op in ops}
    assert set(by_county) == {"331102", "331121"}
    assert (by_county["331102"][":enrolled"], by_county["331102"][":premium_fen"]) == (2, 20000)
    assert (by_county["331121"][":enrolled"], by_county["331121"][":premium_fen"]) == (1, 10000)
    assert all(op.kind == "Update" and op.condition is None and " ADD " in op.update for op in ops)


@given(st.lists(st.sampled_from([*COUNTIES, None]), min_size=1, max_size=10))
def test_counter_ops_never_update_one_item_twice_and_count_everyone(counties):
    ops = disclosure.issuance_ops(LISHUI, family_order(counties))
    item_keys = [(op.key["PK"], op.key["SK"]) for op in ops]
    assert len(item_keys) == len(set(item_keys))
    assert sum(op.values[":enrolled"] for op in ops) == len(counties)
    assert sum(op.values[":premium_fen"] for op in ops) == 10000 * len(counties)


def test_a_family_order_lands_on_one_shard():
    ops = disclosure.issuance_ops(LISHUI, family_order(COUNTIES))
    assert len({op.key["PK"] for op in ops}) == 1 and len(ops) == len(COUNTIES)


def test_shards_spread_orders_over_sixteen_partition_keys():
    from chalicelib.adapters import keys

    partitions = {keys.disclosure_counter("lishui-2021", "331102", "wechat_pay", f"ORD{n:06d}")["PK"]
                  for n in range(400)}
    assert partitions == set(keys.disclosure_counter_partitions("lishui-2021"))


def test_cancellation_takes_the_policy_and_its_premium_out():
    op = disclosure.cancellation_op(LISHUI, a_policy(premium_fen=10000, county="331121",
                                                     payment_method="wechat_pay"))
    assert {k: op.values[k] for k in (":enrolled", ":premium_fen", ":cancelled", ":county", ":channel")} == {
        ":enrolled": -1, ":premium_fen": -10000, ":cancelled": 1, ":county": "331121", ":channel": "wechat_pay"}


def test_a_zero_payout_still_counts_the_claim_paid():
    op = disclosure.claim_paid_op(LISHUI, claimed_on(payment_method="wechat_pay"), "CLM1", 0)
    assert op.values[":claims_paid"] == 1 and ":paid_fen" not in op.values
    assert op.values[":county"] == "331100"


def test_merge_sums_cells_read_from_several_shards():
    cells = merge([("331102", "wechat_pay", Counts(enrolled=2, premium_fen=20000)),
                   ("331102", "wechat_pay", Counts(enrolled=1, premium_fen=10000, claims_paid=1, paid_fen=500)),
                   ("331121", "wechat_pay", Counts(enrolled=1, premium_fen=10000))])
    assert cells[("331102", "wechat_pay")] == Counts(enrolled=3, premium_fen=30000, claims_paid=1, paid_fen=500)
    assert len(cells) == 2


# ---- the report ---------------------------------------------------------------------------------------------------
def test_every_county_and_channel_appears_even_with_nobody_enrolled():
    report = disclosure_figures(NO_POPULATION, {}, "2021-01-01T00:00:00+08:00")
    assert [c["county"] for c in report["by_county"]] == COUNTIES
    assert [c["channel"] for c in report["by_channel"]] == LISHUI.payment_methods
    assert report["by_county_channel"] == []
    assert report["totals"] == {"enrolled": 0, "premium_fen": 0, "cancelled": 0, "claims_paid": 0, "paid_fen": 0,
                                "claims_paid_auto": 0, "auto_claim_share": None, "loss_ratio": None, "rate": None}
    assert (report["loss_ratio_target"], report["participation_target"], report["operating_fee_ratio"]) == (
        "0.95", "0.5", "0.05")


def test_without_population_figures_the_rate_is_null_and_a_note_says_why():
    report = disclosure_figures(NO_POPULATION, {("331102", "wechat_pay"): Counts(enrolled=5, premium_fen=50000)},
                                "t")
    assert all(c["rate"] is None for c in report["by_county"]) and report["totals"]["rate"] is None
    assert any("参保率暂不计算" in note for note in report["notes"])
    assert any("50%" in note for note in report["notes"]) and any("95%" in note for note in report["notes"])


def test_with_population_figures_rates_are_computed_per_county_and_in_total():
    population = dict.fromkeys(COUNTIES, 1000)
    plan = LISHUI.model_copy(update={"disclosure": LISHUI.disclosure.model_copy(
        update={"insured_population": population})})
    report = disclosure_figures(plan, {("331102", "personal_account"): Counts(enrolled=600, premium_fen=6_000_000),
                                       ("331121", "wechat_pay"): Counts(enrolled=300, premium_fen=3_000_000)}, "t")
    rates = {c["county"]: c["rate"] for c in report["by_county"]}
    assert (rates["331102"], rates["331121"], rates["331122"]) == ("0.6000", "0.3000", "0.0000")
    assert report["totals"]["rate"] == "0.1000"  # 900 of 9,000
    assert not any("参保率暂不计算" in note for note in report["notes"])


def test_the_plan_city_stands_for_an_unrecorded_county_with_a_note():
    report = disclosure_figures(LISHUI, {("331100", "wechat_pay"): Counts(enrolled=1, premium_fen=10000)}, "t")
    row = report["by_county"][-1]
    assert (row["county"], row["county_name"], row["enrolled"]) == ("331100", "丽水市(医保平台未登记区县)", 1)
    assert any("未登记区县" in note for note in report["notes"])


def test_a_population_figure_for_an_unlisted_county_is_refused_at_load():
    with pytest.raises(ValueError, match="not listed"):
        Disclosure(counties={"331102": "莲都区"}, insured_population={"999999": 10})


def test_a_claim_on_a_policy_without_a_recorded_channel_is_still_counted():
    op = disclosure.claim_paid_op(LISHUI, claimed_on(county="331102"), "CLM2", 700)
    assert (op.values[":channel"], op.values[":paid_fen"]) == ("unrecorded", 700)
    report = disclosure_figures(LISHUI, {("331102", "unrecorded"): Counts(claims_paid=1, paid_fen=700)}, "t")
    assert report["by_channel"][-1]["channel_name"] == "未记录渠道"


# ---- participation targets and 免申即享 (DOMAIN §10.5, §11.4) --------------------------------------------------------
def test_each_county_is_measured_against_its_participation_target():
    population = dict.fromkeys(COUNTIES, 1000)
    plan = LISHUI.model_copy(update={"disclosure": LISHUI.disclosure.model_copy(
        update={"insured_population": population, "county_participation_targets": {"331121": Decimal("0.7")}})})
    report = disclosure_figures(plan, {("331102", "subsidy"): Counts(enrolled=600, premium_fen=6_000_000),
                                       ("331121", "collective"): Counts(enrolled=600, premium_fen=6_000_000)}, "t")
    rows = {c["county"]: c for c in report["by_county"]}
    assert (rows["331102"]["participation_target"], rows["331102"]["target_met"]) == ("0.5", True)  # 省定 50%
    assert (rows["331121"]["participation_target"], rows["331121"]["target_met"]) == ("0.7", False)
    assert rows["331122"]["target_met"] is False and rows["331122"]["insured_population"] == 1000


def test_subsidy_and_collective_are_counted_as_their_own_channels():
    report = disclosure_figures(LISHUI, {("331102", "subsidy"): Counts(enrolled=3, premium_fen=30000),
                                         ("331102", "collective"): Counts(enrolled=2, premium_fen=20000)}, "t")
    by_channel = {c["channel"]: c for c in report["by_channel"]}
    assert (by_channel["subsidy"]["enrolled"], by_channel["collective"]["enrolled"]) == (3, 2)
    assert by_channel["subsidy"]["channel_name"] != by_channel["collective"]["channel_name"]


def test_illustrative_population_figures_are_said_to_be_so():
    report = disclosure_figures(LISHUI, {}, "t")
    assert report["insured_population_illustrative"] is True
    assert any("示意数据" in note for note in report["notes"])


def test_the_share_of_claims_paid_without_an_application():
    cells = {("331102", "personal_account"): Counts(claims_paid=4, paid_fen=400, claims_paid_auto=3)}
    report = disclosure_figures(LISHUI, cells, "t")
    assert (report["totals"]["claims_paid_auto"], report["totals"]["auto_claim_share"]) == (3, "0.7500")
    op = disclosure.claim_paid_op(LISHUI, claimed_on("331102", "personal_account"), "CLM3", 900,
                                  without_application=True)
    assert (op.values[":claims_paid"], op.values[":claims_paid_auto"]) == (1, 1)
    op = disclosure.claim_paid_op(LISHUI, claimed_on("331102", "personal_account"), "CLM4", 900)
    assert ":claims_paid_auto" not in op.values


def test_a_population_without_a_source_is_refused_at_load():
    with pytest.raises(ValueError, match="source"):
        Disclosure(counties={"331102": "莲都区"}, insured_population={"331102": 10})


def test_the_report_reads_the_counters_it_is_given():
    from datetime import datetime

    from chalicelib.adapters.clock import CHINA_TZ
    from chalicelib.adapters.repositories.disclosure import InMemoryDisclosureCounters

    counters = InMemoryDisclosureCounters()
    counters.add(LISHUI.plan_id, "331121", "personal_account", "ORD1", Counts(enrolled=2, premium_fen=20000))

    figures = disclosure.report(counters, LISHUI.plan_id, datetime(2021, 4, 15, 10, 0, tzinfo=CHINA_TZ))

    assert figures["plan_id"] == LISHUI.plan_id
    assert (figures["totals"]["enrolled"], figures["totals"]["premium_fen"]) == (2, 20000)


def test_a_bulk_rows_policy_counts_once_in_its_county_and_channel():
    op = disclosure.policy_issued_op(LISHUI, a_policy(payment_method="subsidy", county="331102", premium_fen=9900))
    assert {k: op.values[k] for k in (":enrolled", ":premium_fen", ":county", ":channel")} == {
        ":enrolled": 1, ":premium_fen": 9900, ":county": "331102", ":channel": "subsidy"}
