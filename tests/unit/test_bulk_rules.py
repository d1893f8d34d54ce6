"""DOMAIN §10 (bulk enrolment) as pure rules: the batch lifecycle, row screening, duplicates, credit codes, the
refused-rows report."""
from datetime import date

import pytest

from chalicelib.domain import bulk
from chalicelib.domain.bulk import ListRow, next_status, parse_credit_code, platform_refusal, screen_rows
from chalicelib.domain.errors import BadRequest, Conflict, Forbidden
from chalicelib.domain.platform import PlatformPerson
from chalicelib.domain.resident_id import make_test_id
from chalicelib.plans import get_plan

TODAY = date(2021, 3, 1)
A = make_test_id("331102", date(1950, 1, 2), 11)
B = make_test_id("331121", date(1962, 7, 9), 22, female=True)


def _person(id_number: str, name: str, **kw) -> PlatformPerson:
    facts = dict(id_number=id_number, name=name, city="331100", county="331102", basic_type="resident",
                 status="active", basic_start=date(2005, 1, 1))
    return PlatformPerson(**(facts | kw))


# ---- lifecycle --------------------------------------------------------------------------------------------------
def test_a_subsidy_list_is_done_once_screened_and_a_collective_one_waits_for_the_transfer():
    assert next_status("running", "screened", "subsidy") == "done"
    assert next_status("running", "screened", "collective") == "awaiting_payment"
    assert next_status("awaiting_payment", "payment_received", "collective") == "issuing"
    assert next_status("issuing", "issued", "collective") == "done"


@pytest.mark.parametrize(("status", "event", "funding"), [
    ("awaiting_payment", "payment_received", "subsidy"),  # subsidy has no transfer to confirm
    ("done", "payment_received", "collective"),  # confirmed twice
    ("running", "payment_received", "collective"),  # before the list is screened
    ("awaiting_upload", "screened", "subsidy"),
])
def test_moves_the_table_lacks_are_refused(status, event, funding):
    with pytest.raises(Conflict) as err:
        next_status(status, event, funding)
    assert err.value.code == "BULK_STATE_CONFLICT"


def test_the_creator_can_never_confirm_the_transfer():
    with pytest.raises(Forbidden) as err:
        bulk.check_confirmer("S1", "S1")
    assert err.value.code == "BULK_CONFIRMER_IS_CREATOR"
    bulk.check_confirmer("S1", "S2")


# ---- screening rows ---------------------------------------------------------------------------------------------
def test_valid_rows_pass_with_normalised_name_and_id():
    rows = screen_rows([ListRow(row=2, name=" 王小明 ", id_number=A.lower() if A.endswith("X") else f" {A} ",
                                group="低保")], TODAY)
    assert rows[0].refusal is None
    assert rows[0].name == "王小明" and rows[0].id_number == A and rows[0].group == "低保"


def test_a_person_twice_in_one_list_is_refused_on_the_later_row_naming_the_first():
    rows = screen_rows([ListRow(row=2, name="王小明", id_number=A), ListRow(row=3, name="李四", id_number=B),
                        ListRow(row=7, name="王小明", id_number=A)], TODAY)
    assert [r.refusal is None for r in rows] == [True, True, False]
    assert rows[2].refusal.code == "DUPLICATE_ROW" and "第 2 行" in rows[2].refusal.message
    assert rows[2].refusal.row == 7


def test_bad_rows_say_why_with_the_row_number_and_a_masked_id():
    bad_check = A[:17] + ("0" if A[17] != "0" else "1")
    rows = screen_rows([ListRow(row=2, name="王小明", id_number=bad_check),
                        ListRow(row=3, name="", id_number=B),
                        ListRow(row=4, name="王1明", id_number=B),
                        ListRow(row=5, name="王小明", id_number="3.31102E+17", id_was_number=True)], TODAY)
    codes = [(r.row, r.refusal.code) for r in rows]
    assert codes == [(2, "ID_NUMBER_INVALID"), (3, "ROW_INCOMPLETE"), (4, "NAME_INVALID"),
                     (5, "ID_NUMBER_AS_NUMBER")]
    assert "校验位" in rows[0].refusal.message
    assert rows[0].refusal.id_number_masked == bad_check[:6] + "********" + bad_check[-4:]
    assert all(A not in r.refusal.message for r in rows)


def test_groups_outside_the_programme_are_refused_when_the_list_names_its_groups():
    rows = screen_rows([ListRow(row=2, name="王小明", id_number=A, group="低保"),
                        ListRow(row=3, name="李四", id_number=B, group="高收入")], TODAY,
                       groups_admitted=["特困", "低保", "低边"])
    assert rows[0].refusal is None
    assert rows[1].refusal.code == "GROUP_NOT_ADMITTED" and "高收入" in rows[1].refusal.message


def test_platform_checks_are_those_of_an_order():
    plan = get_plan("lishui-2021")
    row = screen_rows([ListRow(row=9, name="王小明", id_number=A)], TODAY)[0]
    assert platform_refusal(row, plan, _person(A, "王小明")) is None
    assert platform_refusal(row, plan, None).code == "PERSON_NOT_FOUND_IN_PLATFORM"
    assert platform_refusal(row, plan, _person(A, "王大明")).code == "PERSON_NOT_FOUND_IN_PLATFORM"
    other_city = platform_refusal(row, plan, _person(A, "王小明", city="410100"))
    assert other_city.code == "NOT_IN_PLAN_CITY" and "第 9 行" in other_city.message
    assert platform_refusal(row, plan, _person(A, "王小明", status="suspended")).code == "BASIC_INSURANCE_SUSPENDED"
    dengfeng = get_plan("dengfeng-2018")
    employee = _person(A, "王小明", city="410185", basic_type="employee")
    assert platform_refusal(row, dengfeng, employee).code == "BASIC_TYPE_NOT_ADMITTED"


# ---- the organisation -------------------------------------------------------------------------------------------
def test_credit_codes_are_checked_by_their_gb_32100_check_character():
    assert parse_credit_code("91110000600037341L") == "91110000600037341L"
    assert parse_credit_code(" ９１１１００００６０００３７３４１ｌ ") == "91110000600037341L"  # full-width, lower
    with pytest.raises(BadRequest) as err:
        parse_credit_code("91110000600037341X")
    assert err.value.code == "CREDIT_CODE_INVALID" and err.value.details["field"] == "payer.credit_code"


# ---- the report -------------------------------------------------------------------------------------------------
def test_the_refused_rows_csv_opens_in_excel_with_masked_ids_in_row_order():
    refusals = [bulk.refusal(9, B, "DUPLICATE_ROW", first_row=3), bulk.refusal(4, A, "PERSON_NOT_FOUND_IN_PLATFORM")]
    data = bulk.refused_rows_csv(refusals)
    assert data.startswith("\ufeff".encode())
    text = data.decode("utf-8-sig")
    lines = text.strip().split("\r\n")
    assert lines[0] == "行号,身份证号码(已脱敏),原因代码,原因"
    assert lines[1].startswith("4,") and lines[2].startswith("9,")
    assert A not in text and B not in text and bulk.masked(A) in text


# ---- when a batch moves on --------------------------------------------------------------------------------------
def _batch(status: str, funding: str = "subsidy", rows: int = 5, confirmed_on=None) -> bulk.Batch:
    return bulk.Batch(batch_id="BLK1", plan_id="lishui-2022", funding=funding, payer=bulk.Payer(name="县政府"),
                      status=status, row_count=rows, chunks=1, created_by="s1", created_at="2021-11-15T10:00:00+08:00",
                      accepted_on=date(2021, 11, 15), confirmed_on=confirmed_on)


def test_a_batch_moves_on_only_when_every_row_has_its_outcome():
    counts = bulk.BatchCounts
    assert bulk.settled_status(_batch("running"), counts(issued=2, refused=2)) is None
    assert bulk.settled_status(_batch("running"), counts(issued=2, refused=2, already_covered=1)) == "screened"
    assert bulk.next_status("running", "screened", "subsidy") == "done"
    collective = _batch("running", "collective")
    assert bulk.settled_status(collective, counts(eligible=4, refused=1)) == "screened"
    assert bulk.next_status("running", "screened", "collective") == "awaiting_payment"
    issuing = _batch("issuing", "collective", confirmed_on=date(2022, 2, 10))
    assert bulk.settled_status(issuing, counts(issued=3, eligible=1, refused=1)) is None
    assert bulk.settled_status(issuing, counts(issued=3, already_covered=1, refused=1)) == "issued"
    assert bulk.settled_status(_batch("done"), counts(issued=5)) is None


def test_benefits_start_from_the_acceptance_or_the_confirmed_transfer():
    assert _batch("running").paid_on == date(2021, 11, 15)
    assert _batch("issuing", "collective", confirmed_on=date(2022, 2, 10)).paid_on == date(2022, 2, 10)


def test_every_refusal_including_a_duplicate_counts_as_refused():
    assert bulk.row_code_counter("DUPLICATE_ROW") == "refused"
    assert bulk.row_code_counter("NOT_IN_PLAN_CITY") == "refused"
    assert bulk.row_code_counter("ALREADY_COVERED") == "already_covered"
    assert bulk.row_code_counter("ISSUED") == "issued"


def test_a_subsidised_list_takes_over_a_self_paid_policy_when_the_plan_says_so():
    from chalicelib.domain.bulk import takes_over

    plan = get_plan("lishui-2022")
    assert plan.bulk_enrolment.take_over_self_paid  # on by default (DOMAIN §10.4 interpretation)
    assert takes_over("subsidy", plan, "personal_account", already_taken_over=False)
    assert takes_over("subsidy", plan, "wechat_pay", already_taken_over=False)
    assert not takes_over("subsidy", plan, "personal_account", already_taken_over=True)  # once
    assert not takes_over("subsidy", plan, "collective", already_taken_over=False)  # an organisation paid
    assert not takes_over("subsidy", plan, "subsidy", already_taken_over=False)  # another list
    assert not takes_over("collective", plan, "personal_account", already_taken_over=False)
    off = plan.model_copy(update={"bulk_enrolment": plan.bulk_enrolment.model_copy(
        update={"take_over_self_paid": False})})
    assert not takes_over("subsidy", off, "personal_account", already_taken_over=False)


def test_a_takeover_counts_as_issued_and_as_taken_over():
    from chalicelib.domain.bulk import row_counters

    assert row_counters("TAKEN_OVER") == ("issued", "taken_over")
    assert row_counters("ISSUED") == ("issued",)
    assert row_counters("DUPLICATE_ROW") == ("refused",)
