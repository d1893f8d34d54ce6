"""免申即享 on the in-memory twins (DOMAIN §11): settlement records into automatic claims, approved and paid by the
system through the payout port; the feed's cursor; payees; failed and unanswered transfers; the same record twice."""
from __future__ import annotations

import os
from datetime import date, datetime
from decimal import Decimal

import pytest

from chalicelib.adapters.clock import CHINA_TZ
from chalicelib.adapters.crypto import FieldCipher
from chalicelib.adapters.medical_platform import SimulatedPlatform
from chalicelib.adapters.notifications import RecordingNotifier
from chalicelib.adapters.payout import SimulatedPayouts
from chalicelib.adapters.repositories.calendar import InMemoryCalendarRepository
from chalicelib.adapters.repositories.claims import InMemoryClaimRepository
from chalicelib.adapters.repositories.feed_cursor import InMemoryFeedCursor
from chalicelib.adapters.repositories.payees import InMemoryPayees
from chalicelib.domain.claim_models import ClaimPolicy, YearToDateFigures
from chalicelib.domain.errors import Conflict
from chalicelib.domain.platform import PlatformPerson, Settlement, SscAccount
from chalicelib.domain.principal import Principal
from chalicelib.domain.settlement import NationalSettlement
from chalicelib.services import claims
from chalicelib.services.claims import automatic, payees
from chalicelib.services.claims.ports import InMemoryClaimants
from chalicelib.services.settlement_feed import CURSOR_ITEM, FeedPorts, handle, payout_work, records, sweep_claim

NOW = datetime(2021, 11, 1, 10, 0, tzinfo=CHINA_TZ)
ID = "331102198001010011"
OTHER_ID = "331102198502020027"
SSC = SscAccount(bank_name="丽水农商银行", account_number="6230910000012345")
W1 = {"in_policy_after_catastrophic_fen": 3_000_000, "self_pay_fen": 5_000_000}  # 46 500.00 yuan
W2 = {"in_policy_after_catastrophic_fen": 15_000_000, "class_b_prepay_fen": 10_000_000,
      "self_pay_fen": 30_000_000}  # 433 800.00 yuan: above the automatic limit of 50 000 yuan
ADMIN = Principal("staff", "admin-1", "insurer_admin")
MEMBER = Principal("member", "acc-insured")


class Clock:
    def now(self):
        return NOW


@pytest.fixture()
def world():
    clock = Clock()
    cipher = FieldCipher(os.urandom(32), os.urandom(32))
    platform = SimulatedPlatform(clock)
    repo = InMemoryClaimRepository()
    claimants = InMemoryClaimants(policies=repo.policies)
    ports = claims.ClaimPorts(claims=repo, claimants=claimants, calendar=InMemoryCalendarRepository(),
                              documents=None, notifier=RecordingNotifier(clock), cipher=cipher, platform=platform,
                              payouts=SimulatedPayouts(clock), payees=InMemoryPayees())
    feed = FeedPorts(claims=ports, cursor=InMemoryFeedCursor(), page_limit=3)

    def person(id_number=ID, ssc=SSC, policy=True, account="acc-insured"):
        platform.register(PlatformPerson(id_number=id_number, name="王小明", city="331100", county="331102",
                                         basic_type="employee", status="active", ssc_account=ssc))
        if policy:
            p = ClaimPolicy(policy_id=f"pol-{id_number[-4:]}", plan_id="lishui-2021",
                            insured_hash=cipher.lookup_hash(id_number), insured_name="王小明",
                            insured_id_enc=cipher.encrypt(id_number, "id_number"), status="active",
                            benefit_start=date(2021, 7, 16), coverage_end=date(2021, 12, 31), county="331102",
                            payment_method="personal_account",
                            year_to_date=YearToDateFigures(deductible_used_fen=0, eligible_fen=0, paid_fen=0),
                            version=1)
            if account:
                claimants.insured(account, p)
            else:
                repo.add_policy(p)
            return p
        return None

    def publish(amounts=None, national=None, id_number=ID, day=date(2021, 10, 20), settlement_id=None):
        record = Settlement(settlement_id=settlement_id or f"S{len(platform._settlements) + 1:05d}",
                            id_number=id_number, service_date=day, setting="inpatient" if national is None else
                            "inpatient", amounts_fen=amounts or {}, national=national,
                            settled_at=datetime(day.year, day.month, day.day, 12, tzinfo=CHINA_TZ))
        return platform.add_settlement(record)

    def run():
        counts: dict[str, int] = {}
        for item_id, payload in list(records(feed)):
            for k, v in handle(feed, item_id, payload, NOW).items():
                counts[k] = counts.get(k, 0) + v
        return counts

    class W:
        pass

    w = W()
    w.ports, w.repo, w.platform, w.feed, w.person, w.publish, w.run, w.cipher = \
        ports, repo, platform, feed, person, publish, run, cipher
    return w


def _only_claim(world):
    assert len(world.repo.claims) == 1
    return next(iter(world.repo.claims.values()))


def test_a_record_becomes_a_paid_automatic_claim_with_domain_5s_amount_to_the_ssc_account(world):
    policy = world.person()
    world.publish(W1)
    assert world.run() == {"read": 1, "created": 1, "paid": 1}
    claim = _only_claim(world)
    assert (claim.claimant_kind, claim.channel, claim.status, claim.paid_fen) == ("system", "auto", "paid", 4_650_000)
    assert claim.requires_documents is False and claim.approved_by == "system"
    assert claim.payee.account_number_masked == "6230********2345"
    transfers = list(world.ports.payouts.transfers.values())
    assert [(t.amount_fen, t.status) for t in transfers] == [(4_650_000, "succeeded")]
    ytd = world.repo.policies[policy.policy_id].year_to_date
    assert (ytd.deductible_used_fen, ytd.eligible_fen, ytd.paid_fen) == (1_800_000, 6_200_000, 4_650_000)
    # the member (the insured's account) was told: created without an application, then paid
    told = [(n.data["status"], n.data["note"]) for n in world.ports.notifier.sent("acc-insured")]
    assert [status for status, _ in told] == ["paid"] and "无需您提交申请" in told[0][1]  # one notice, no amount
    assert "4650000" not in str(told) and "46500" not in str(told)


def test_the_same_record_again_and_a_second_run_do_nothing_twice(world):
    world.person()
    world.publish(W1)
    world.run()
    items = [(i, p) for i, p in records(world.feed)]
    assert items == []  # the cursor moved past it
    # delivered twice by the queue: the handler sees it again
    record = world.platform.settlements_after(0, 10)[0]
    from chalicelib.services.settlement_feed import _payload

    assert handle(world.feed, record.settlement_id, _payload(world.ports, record), NOW) == {"read": 1, "skipped": 1}
    assert len(world.repo.claims) == 1 and len(world.ports.payouts.transfers) == 1


def test_a_late_record_with_an_earlier_service_date_is_read_by_the_next_run(world):
    world.person()
    world.publish({"self_pay_fen": 2_000_000}, day=date(2021, 10, 20))
    world.run()
    world.publish({"self_pay_fen": 1_000_000}, day=date(2021, 9, 1))  # published later, settled earlier
    assert world.run()["created"] == 1
    assert len(world.repo.claims) == 2
    assert world.feed.cursor.position() == 2


def test_pages_and_the_cursor_item_come_last(world):
    world.person()
    for _ in range(7):
        world.publish({"self_pay_fen": 100_000})
    items = list(records(world.feed))
    assert [i for i, _ in items][-1] == CURSOR_ITEM and items[-1][1] == {"seq": 7}
    assert len(items) == 8
    assert all("id_number" not in p and "id_enc" in p for i, p in items[:-1])  # no ID number in the clear


def test_the_national_shape_is_mapped_and_paid(world):
    world.person()
    national = NationalSettlement(
        setl_id="NAT-1", setl_time=datetime(2021, 10, 20, 15, tzinfo=CHINA_TZ), med_type="21",
        medfee_sumamt=Decimal("100000.00"), fulamt_ownpay_amt=Decimal("50000.00"), inscp_scp_amt=Decimal("50000.00"),
        hifp_pay=Decimal("15000.00"), hifmi_pay=Decimal("5000.00"), psn_part_amt=Decimal("80000.00"),
        psn_cash_pay=Decimal("80000.00"))
    world.publish(national=national, settlement_id="NAT-1")
    assert world.run()["paid"] == 1
    claim = _only_claim(world)
    bill = claim.bills[0]
    assert bill["self_pay_fen"] == 5_000_000 and bill["in_policy_after_catastrophic_fen"] == 3_000_000
    assert claim.paid_fen == 4_650_000  # W1's figures, from the national record
    assert set(claim.unplaced) == {"negative_list", "admission_list", "transfer_out"}


def test_a_record_that_does_not_add_up_pays_nothing_and_waits_for_staff(world):
    world.person()
    national = NationalSettlement(
        setl_id="BAD-1", setl_time=datetime(2021, 10, 20, 15, tzinfo=CHINA_TZ), med_type="21",
        medfee_sumamt=Decimal("100000.00"), fulamt_ownpay_amt=Decimal("50000.00"), inscp_scp_amt=Decimal("50000.00"),
        hifp_pay=Decimal("15000.00"), psn_part_amt=Decimal("80000.00"), psn_cash_pay=Decimal("80000.00"))
    world.publish(national=national, settlement_id="BAD-1")
    assert world.run() == {"read": 1, "review": 1}
    assert world.repo.claims == {} and world.ports.payouts.transfers == {}
    [review] = automatic.reviews(world.ports, ADMIN)
    assert review["reasons"] == ["SETTLEMENT_SUMS_MISMATCH"] and review["id_number_masked"].startswith("331102")
    assert "暂不赔付" in review["reasons_zh"][0]


def test_a_person_without_a_policy_and_a_day_outside_the_benefit_period_are_skipped(world):
    world.person(OTHER_ID, policy=False)
    world.person()
    world.publish(W1, id_number=OTHER_ID)
    world.publish(W1, day=date(2021, 7, 1))  # before benefits start
    assert world.run() == {"read": 2, "skipped": 2}
    assert world.repo.claims == {}


def test_above_the_automatic_limit_the_claim_waits_for_staff_who_approve_and_another_pays(world):
    world.person()
    world.publish(W2)
    assert world.run() == {"read": 1, "created": 1, "review": 1}
    claim = _only_claim(world)
    assert claim.status == "submitted" and claim.complete and claim.estimate_fen == 43_380_000
    reviewer = Principal("staff", "rev-1", "claims_reviewer")
    claims.review(world.ports, reviewer, claim.claim_id, "approve", None, None, NOW)
    status, view = claims.pay(world.ports, ADMIN, claim.claim_id, "k1", NOW)
    assert (status, view["status"], view["paid_fen"]) == (200, "paid", 43_380_000)


def test_without_a_payee_it_waits_and_the_member_is_told_then_paid_when_they_give_one(world):
    world.person(ssc=None)
    world.publish(W1)
    assert world.run() == {"read": 1, "created": 1}
    claim = _only_claim(world)
    assert claim.status == "approved" and claim.payout.status == "awaiting_payee"
    assert "收款账户" in claim.member_note
    assert world.ports.payouts.transfers == {}
    view = payees.put(world.ports, MEMBER, "王小明", "中国工商银行", "6222021234561234", NOW)
    assert view["claims_resumed"] == 1 and view["account_number_masked"] == "6222********1234"
    claim = _only_claim(world)
    assert (claim.status, claim.paid_fen) == ("paid", 4_650_000)


def test_a_failed_transfer_is_payout_failed_then_paid_once_to_the_corrected_account(world):
    policy = world.person()
    world.ports.payouts.refuse_account(SSC.account_number, "ACCOUNT_FROZEN")
    world.publish(W1)
    world.run()
    claim = _only_claim(world)
    assert claim.status == "payout_failed" and claim.payout.failure_code == "ACCOUNT_FROZEN"
    assert "冻结" in claim.member_note
    payees.put(world.ports, MEMBER, "王小明", "中国工商银行", "6222021234561234", NOW)
    claim = _only_claim(world)
    assert (claim.status, claim.paid_fen, claim.payout.attempt) == ("paid", 4_650_000, 2)
    assert world.repo.policies[policy.policy_id].year_to_date.paid_fen == 4_650_000  # advanced once
    assert sorted(t.status for t in world.ports.payouts.transfers.values()) == ["failed", "succeeded"]


def test_an_unanswered_transfer_is_looked_up_by_its_key_and_never_sent_twice(world):
    world.person()
    world.ports.payouts.fail_next("transfer", "after")  # the bank did it, we never heard
    world.publish(W1)
    world.run()
    claim = _only_claim(world)
    assert claim.status == "approved" and claim.payout.status == "requested"
    work = list(payout_work(world.ports))
    assert work == [(claim.claim_id, {})]
    assert sweep_claim(world.ports, claim.claim_id, NOW) == {"paid": 1}
    assert len(world.ports.payouts.transfers) == 1 and _only_claim(world).status == "paid"
    assert list(payout_work(world.ports)) == []


def test_a_record_redelivered_after_a_crash_before_the_transfer_finishes_the_payment(world):
    world.person()
    world.ports.payouts.fail_next("transfer", "before")  # the worker "died" before the transfer was sent
    record = world.publish(W1)
    world.run()
    assert _only_claim(world).payout.status == "requested" and world.ports.payouts.transfers == {}
    from chalicelib.services.settlement_feed import _payload

    assert handle(world.feed, record.settlement_id, _payload(world.ports, record), NOW) == \
        {"read": 1, "skipped": 1, "paid": 1}
    assert len(world.ports.payouts.transfers) == 1


def test_the_same_bill_by_hand_is_refused_at_submission_but_what_the_slip_could_not_place_may_be_added(world):
    policy = world.person()
    record = world.publish(W1)
    world.run()
    bill = {"service_date": "2021-10-20", "setting": "inpatient", **W1}
    payee = {"account_name": "王小明", "bank_name": "工行", "account_number": "6222021234561234"}
    with pytest.raises(Conflict) as refused:
        claims.submit(world.ports, MEMBER, policy.policy_id, [bill], payee, "h1", "h1", NOW)
    assert refused.value.code == "CLAIM_BILL_ALREADY_PAID"
    with pytest.raises(Conflict):  # naming the record and repeating a placed category
        claims.submit(world.ports, MEMBER, policy.policy_id,
                      [{"service_date": "2021-10-20", "setting": "inpatient", "settlement_id": record.settlement_id,
                        "self_pay_fen": 5_000_000, "admission_list_fen": 300_000}], payee, "h2", "h2", NOW)
    status, view = claims.submit(world.ports, MEMBER, policy.policy_id,
                                 [{"service_date": "2021-10-20", "setting": "inpatient",
                                   "settlement_id": record.settlement_id, "admission_list_fen": 300_000}],
                                 payee, "h3", "h3", NOW)
    assert status == 201


def test_a_bill_paid_by_hand_first_makes_the_record_a_skip(world):
    world.person()
    policy_id = "pol-0011"
    bill = {"service_date": "2021-10-20", "setting": "inpatient", "settlement_id": "S00001", **W1}
    payee = {"account_name": "王小明", "bank_name": "工行", "account_number": "6222021234561234"}
    _, view = claims.submit(world.ports, MEMBER, policy_id, [bill], payee, "h1", "h1", NOW)
    claim_id = view["claim_id"]
    world.repo.claims[claim_id] = world.repo.claims[claim_id].model_copy(
        update={"completed_at": "2021-11-01T10:00:00+08:00"})
    claims.review(world.ports, Principal("staff", "rev-1", "claims_reviewer"), claim_id, "approve", None, None, NOW)
    claims.pay(world.ports, ADMIN, claim_id, "p1", NOW)
    world.publish(W1)
    assert world.run() == {"read": 1, "skipped": 1}
    assert len(world.repo.claims) == 1


# ---- payout_reconciliation (the daily 对账 of the gateway's statement against our claims) --------------------------
def test_reconciliation_applies_a_transfer_we_never_heard_back_about_and_only_once(world):
    from chalicelib.services.settlement_feed import reconcile_day

    world.person()
    world.ports.payouts.fail_next("transfer", "after")  # the bank paid; the answer was lost
    world.publish(W1)
    world.run()
    assert _only_claim(world).payout.status == "requested"
    counts = reconcile_day(world.ports, NOW.date(), NOW)
    assert counts == {"transfers": 1, "matched": 0, "applied": 1, "differences": 0}
    claim = _only_claim(world)
    assert (claim.status, claim.paid_fen) == ("paid", 4_650_000)
    assert reconcile_day(world.ports, NOW.date(), NOW) == {"transfers": 1, "matched": 1, "applied": 0,
                                                           "differences": 0}
    assert len(world.ports.payouts.transfers) == 1 and _only_claim(world).status == "paid"


def test_reconciliation_reports_a_transfer_for_no_claim_and_an_amount_that_differs(world, caplog):
    from chalicelib.domain.payout import Payee as TransferPayee
    from chalicelib.services.settlement_feed import reconcile_day

    world.person()
    world.publish(W1)
    world.run()
    claim = _only_claim(world)
    assert claim.status == "paid"
    # a transfer nobody of ours asked for, and our record of the claim's amount disagreeing with the bank's
    stranger = TransferPayee(account_name="李四", bank_name="中国银行", account_number="6216610000000009")
    world.ports.payouts.transfer(stranger, 12_300, "manual-1", "not-a-claim")
    world.repo.claims[claim.claim_id] = claim.model_copy(update={"payout": claim.payout.model_copy(
        update={"amount_fen": 4_650_001})})
    with caplog.at_level("WARNING"):
        counts = reconcile_day(world.ports, NOW.date(), NOW)
    assert counts == {"transfers": 2, "matched": 0, "applied": 0, "differences": 2}
    logged = " ".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert "payout reconciliation" in logged
    assert sum(1 for r in caplog.records if getattr(r, "reconciliation_difference", None) == "payout") >= 2
    assert "6216610000000009" not in logged and ID not in logged and "王小明" not in logged
