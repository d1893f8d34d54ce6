"""DOMAIN §9 (auto-renewal) as pure rules: the lifecycle table, when a mandate may be debited, the notice."""
import json
from datetime import date
from pathlib import Path

import pytest

from chalicelib.domain import renewal
from chalicelib.domain.errors import RuleViolation
from chalicelib.domain.messages import MESSAGES
from chalicelib.domain.plan import PlanError
from chalicelib.domain.renewal import RenewalSchedule, deduction_failure, next_status, notice_for
from chalicelib.plans import check_succession, load_plans, parse_plan

PLAN_DIR = Path(__file__).resolve().parents[2] / "chalicelib" / "plans"
SCHEDULE = RenewalSchedule(from_plan_id="lishui-2021", notice_on=date(2021, 11, 1), deduction_on=date(2021, 12, 17),
                           min_notice_days=7)


def _plan(name: str) -> dict:
    return json.loads((PLAN_DIR / f"{name}.json").read_text(encoding="utf-8"))


# ---- the lifecycle ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "event", "target"), [
    ("off", "consent", "consented"),
    ("consented", "notice", "noticed"),
    ("noticed", "renew", "renewed"),
    ("noticed", "stop", "stopped"),
    ("consented", "stop", "stopped"),
    ("stopped", "consent", "consented"),
    ("noticed", "fail", "failed"),
    ("consented", "fail", "failed"),
])
def test_allowed_moves(status, event, target):
    assert next_status(status, event) == target


def test_stopping_after_the_deduction_is_refused_with_the_cancel_hint():
    with pytest.raises(RuleViolation) as err:
        next_status("renewed", "stop")
    assert err.value.code == "RENEWAL_ALREADY_DEDUCTED"
    assert "退保" in err.value.message


@pytest.mark.parametrize(("status", "event"), [
    ("consented", "renew"),  # never debited without a notice
    ("stopped", "renew"),
    ("stopped", "notice"),
    ("failed", "renew"),  # a failure is never retried into a deduction
    ("failed", "consent"),
    ("renewed", "renew"),  # one deduction, whatever re-runs
    ("off", "notice"),
])
def test_moves_the_table_lacks_are_refused(status, event):
    with pytest.raises(RuleViolation) as err:
        next_status(status, event)
    assert err.value.code in ("RENEWAL_STATE_CONFLICT", "RENEWAL_ALREADY_DEDUCTED")


def test_every_status_and_event_has_a_chinese_name_and_every_failure_a_message():
    for status in renewal.STATUSES:
        assert MESSAGES[f"RENEWAL_STATUS_{status.upper()}"]
    for event in renewal.EVENTS:
        assert MESSAGES[f"RENEWAL_EVENT_{event.upper()}"]
    for code in renewal.FAILURE_CODES:
        assert "未扣" in renewal.failure_message(code) or "未重复扣费" in renewal.failure_message(code)


def test_terminal_statuses_have_no_way_out():
    for (status, _event) in renewal.TRANSITIONS:
        assert status not in renewal.TERMINAL


# ---- may this mandate be debited? -------------------------------------------------------------------------------
def _failure(**overrides):
    facts = dict(noticed_on=date(2021, 11, 1), schedule=SCHEDULE, basic_status="active", same_city=True,
                 covered_by_anyone=False, balance_fen=50_000, premium_fen=10_700)
    return deduction_failure(**(facts | overrides))


def test_a_noticed_active_mandate_with_balance_is_debited():
    assert _failure() is None


def test_balance_exactly_the_premium_is_enough():
    assert _failure(balance_fen=10_700) is None
    assert _failure(balance_fen=10_699) == "INSUFFICIENT_BALANCE"


def test_no_deduction_without_a_notice_seven_days_before():
    assert _failure(noticed_on=None) == "RENEWAL_NOTICE_TOO_LATE"
    assert _failure(noticed_on=date(2021, 12, 10)) is None  # exactly 7 days before
    assert _failure(noticed_on=date(2021, 12, 11)) == "RENEWAL_NOTICE_TOO_LATE"


def test_terminated_or_moved_away_is_never_debited():
    assert _failure(basic_status="terminated") == "BASIC_INSURANCE_ENDED"
    assert _failure(same_city=False) == "BASIC_INSURANCE_ENDED"
    assert _failure(basic_status=None) == "BASIC_INSURANCE_ENDED"  # the platform no longer knows the person


def test_suspended_basic_insurance_fails_the_renewal():
    assert _failure(basic_status="suspended") == "BASIC_INSURANCE_SUSPENDED"


def test_cover_bought_meanwhile_by_anyone_wins():
    assert _failure(covered_by_anyone=True) == "ALREADY_COVERED"


def test_the_notice_failure_is_reported_before_the_balance():
    assert _failure(noticed_on=None, balance_fen=0) == "RENEWAL_NOTICE_TOO_LATE"


def test_the_deduction_key_is_stable_per_policy_and_next_plan():
    assert renewal.deduction_key("PL1", "lishui-2022") == renewal.deduction_key("PL1", "lishui-2022")
    assert renewal.deduction_key("PL1", "lishui-2022") != renewal.deduction_key("PL2", "lishui-2022")


def test_schedule_windows():
    assert not SCHEDULE.notices_due(date(2021, 10, 31))
    assert SCHEDULE.notices_due(date(2021, 11, 1))
    assert SCHEDULE.notices_due(date(2021, 12, 10))
    assert not SCHEDULE.notices_due(date(2021, 12, 11))  # a notice now could not count
    assert SCHEDULE.may_stop(date(2021, 12, 16))
    assert not SCHEDULE.may_stop(date(2021, 12, 17))
    assert SCHEDULE.deductions_due(date(2021, 12, 17)) and not SCHEDULE.deductions_due(date(2021, 12, 16))


# ---- the notice -------------------------------------------------------------------------------------------------
def test_the_notice_names_who_what_how_much_from_where_when_and_how_to_stop():
    notice = notice_for(insured_name="张小三", next_plan_name="浙丽保 2022", amount_fen=10_700,
                        account_source="prior_years", schedule=SCHEDULE, to_insured=False)
    text = notice.text()
    assert "张*三" in text and "张小三" not in text
    assert "浙丽保 2022" in text
    assert "107.00 元" in text
    assert "历年结余" in text
    assert "2021年12月17日" in text  # deduction day
    assert "2021年12月16日前" in text and "关闭自动续保" in text


# ---- plan settings ----------------------------------------------------------------------------------------------
def test_lishui_2022_renews_lishui_2021_with_a_week_of_notice_at_least():
    plan = load_plans()["lishui-2022"]
    schedule = plan.renewal_schedule()
    assert schedule.from_plan_id == "lishui-2021"
    assert plan.window_start <= schedule.notice_on < schedule.deduction_on <= plan.window_end
    assert (schedule.deduction_on - schedule.notice_on).days >= schedule.min_notice_days == 7
    assert load_plans()["lishui-2021"].renewal_schedule() is None


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("notice_on", "2021-10-31", "window_start"),  # before the window
    ("deduction_on", "2022-01-05", "window_end"),  # after the window
    ("deduction_on", "2021-11-01", "notice_on < deduction_on"),  # not after the notice
    ("deduction_on", "2021-11-05", "at least 7 days"),  # too little notice
])
def test_renewal_dates_are_checked_at_load(field, value, reason):
    data = _plan("lishui-2022")
    data["renewal"][field] = value
    with pytest.raises(PlanError, match=reason):
        parse_plan(data)


def test_a_plan_that_renews_must_name_what_it_renews_and_take_the_personal_account():
    data = _plan("lishui-2022")
    data["previous_plan_id"] = None
    with pytest.raises(PlanError, match="previous_plan_id"):
        parse_plan(data)
    data = _plan("lishui-2022")
    data["payment_methods"] = ["wechat_pay"]
    data.pop("personal_account")
    with pytest.raises(PlanError, match="personal account"):
        parse_plan(data)


def test_succession_must_continue_the_same_scheme_and_city_after_the_previous_plan():
    plans = load_plans()
    check_succession(plans)  # the shipped plans pass
    broken = dict(plans)
    broken["lishui-2022"] = parse_plan(_plan("lishui-2022") | {"previous_plan_id": "dengfeng-2018"})
    with pytest.raises(PlanError, match="scheme and city"):
        check_succession(broken)
    broken["lishui-2022"] = parse_plan(_plan("lishui-2022") | {"previous_plan_id": "lishui-2030"})
    with pytest.raises(PlanError, match="unknown previous plan"):
        check_succession(broken)


# ---- the status a policy shows, from what it stores -----------------------------------------------------------
@pytest.mark.parametrize(("auto_renew", "stored", "withdrawn", "shown"), [
    (False, None, False, "off"),
    (True, None, False, "consented"),
    (False, None, True, "stopped"),
    (True, "noticed", False, "noticed"),
    (False, "noticed", True, "stopped"),  # stopped after the notice: the run's record stays for the history
    (False, "noticed", False, "stopped"),
    (True, "renewed", False, "renewed"),
    (False, "renewed", True, "renewed"),  # nothing a switch says undoes a deduction
    (False, "failed", True, "failed"),
])
def test_the_status_shown_follows_the_run_then_the_switch(auto_renew, stored, withdrawn, shown):
    assert renewal.current_status(auto_renew=auto_renew, stored_status=stored, withdrawn=withdrawn) == shown


def test_a_history_entry_is_validated_and_stored_without_empty_fields():
    from datetime import datetime, timedelta, timezone

    at = datetime(2021, 11, 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    assert renewal.history_entry(at, "fail", "system", "system", failure_code="INSUFFICIENT_BALANCE") == {
        "at": "2021-11-01T09:00:00+08:00", "event": "fail", "channel": "system", "by": "system",
        "failure_code": "INSUFFICIENT_BALANCE"}
    with pytest.raises(ValueError):
        renewal.history_entry(at, "refund", "system", "system")
    with pytest.raises(ValueError):
        renewal.history_entry(at, "fail", "system", "system", failure_code="NOT_A_CODE")


def test_a_policy_taken_over_or_not_paid_from_the_personal_account_no_longer_renews_from_it():
    from chalicelib.domain.renewal import END_REASONS, consent_ended, ended_message

    assert consent_ended(payment_method="personal_account", taken_over=False) is None
    assert consent_ended(payment_method="subsidy", taken_over=True) == "PREMIUM_TAKEN_OVER"
    assert consent_ended(payment_method="wechat_pay", taken_over=False) == "NOT_PAID_FROM_PERSONAL_ACCOUNT"
    assert all(ended_message(reason) for reason in END_REASONS)
