"""The accounts, SMS codes and family repositories' contracts, each run against the DynamoDB repository (moto table)
and its in-memory twin (the chalice todo-app tests/test_db.py pattern)."""
from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib.adapters.clock import CHINA_TZ
from chalicelib.adapters.repositories.accounts import (
    AccountRepository,
    AlreadyBoundToAnother,
    BindingMoved,
    InMemoryAccountRepository,
    PersonBoundElsewhere,
)
from chalicelib.adapters.repositories.family import FamilyRepository, InMemoryFamilyRepository
from chalicelib.adapters.repositories.sms_codes import InMemorySmsCodeRepository, SmsCodeRepository
from chalicelib.domain.account import Account, BoundPerson, SmsCode
from chalicelib.domain.family import FamilyMember

AT = "2021-04-15T10:00:00+08:00"
NOW = datetime(2021, 4, 15, 10, 0, tzinfo=CHINA_TZ)


def an_account(account_id: str = "acc-1", phone: str = "13800138000") -> Account:
    return Account(account_id=account_id, created_at=AT, login_channel="phone", phone=phone)


def a_person(id_hash: str = "h-wang") -> BoundPerson:
    return BoundPerson(id_hash=id_hash, id_enc="enc", name="王建国", birth_date="1980-01-01", sex="male",
                       region_code="331102")


class AccountRepositoryContract:
    def test_an_account_reads_back_and_its_login_finds_it(self, accounts):
        assert accounts.create(an_account(), "phone", "13800138000")
        assert accounts.get("acc-1") == an_account()
        assert accounts.by_login("phone", "13800138000") == "acc-1"
        assert (accounts.get("acc-nope"), accounts.by_login("phone", "13900139000")) == (None, None)

    def test_a_login_makes_one_account(self, accounts):
        assert accounts.create(an_account("acc-1"), "phone", "13800138000")
        assert not accounts.create(an_account("acc-2"), "phone", "13800138000")
        assert accounts.by_login("phone", "13800138000") == "acc-1"
        assert accounts.get("acc-2") is None

    def test_many_reads_the_accounts_that_exist(self, accounts):
        accounts.create(an_account("acc-1"), "phone", "13800138001")
        accounts.create(an_account("acc-2", phone="13800138002"), "phone", "13800138002")
        assert set(accounts.many({"acc-1", "acc-2", "acc-nope"})) == {"acc-1", "acc-2"}
        assert accounts.many(set()) == {}

    def test_binding_is_idempotent_for_the_same_person_and_refused_for_another(self, accounts):
        accounts.create(an_account(), "phone", "13800138000")
        accounts.bind("acc-1", a_person(), AT)
        accounts.bind("acc-1", a_person(), "2021-04-16T10:00:00+08:00")
        bound = accounts.get("acc-1")
        assert (bound.person_hash, bound.person_name, bound.identity_bound_at) == ("h-wang", "王建国", AT)
        assert accounts.bound_account("h-wang") == "acc-1"
        with pytest.raises(AlreadyBoundToAnother):
            accounts.bind("acc-1", a_person("h-li"), AT)
        assert accounts.bound_account("h-li") is None

    def test_a_person_bound_elsewhere_is_refused_then_recovered_with_proof(self, accounts):
        accounts.create(an_account("acc-1"), "phone", "13800138001")
        accounts.create(an_account("acc-2", phone="13800138002"), "phone", "13800138002")
        accounts.bind("acc-1", a_person(), AT)
        with pytest.raises(PersonBoundElsewhere):
            accounts.bind("acc-2", a_person(), AT)
        accounts.recover("acc-2", "acc-1", a_person(), "2021-04-16T10:00:00+08:00")
        assert accounts.bound_account("h-wang") == "acc-2"
        assert accounts.get("acc-2").person_hash == "h-wang"
        lost = accounts.get("acc-1")
        assert (lost.person_hash, lost.id_enc, lost.identity_lost_at) == (None, None, "2021-04-16T10:00:00+08:00")
        with pytest.raises(BindingMoved):  # it is no longer acc-1's to take
            accounts.recover("acc-2", "acc-1", a_person(), AT)


class TestDynamoAccountRepository(AccountRepositoryContract):
    @pytest.fixture()
    def accounts(self, aws):
        from chalicelib import deps

        return AccountRepository(deps.table())


class TestInMemoryAccountRepository(AccountRepositoryContract):
    @pytest.fixture()
    def accounts(self):
        return InMemoryAccountRepository()


def a_code(code_hash: str = "c1", sent: int = 1_000_000, attempts: int = 0) -> SmsCode:
    return SmsCode(phone="13800138000", code_hash=code_hash, sent_at=AT, sent_epoch=sent, valid_until=sent + 300,
                   attempts=attempts)


class SmsCodeRepositoryContract:
    def test_a_code_is_issued_once_a_minute(self, codes):
        assert codes.issue(a_code("c1", sent=1_000_000), resend_before=1_000_000 - 60)
        assert not codes.issue(a_code("c2", sent=1_000_030), resend_before=1_000_030 - 60)
        assert codes.get("13800138000") == a_code("c1")
        assert codes.issue(a_code("c3", sent=1_000_061), resend_before=1_000_061 - 60)
        assert codes.get("13800138000").code_hash == "c3"
        assert codes.get("13900139000") is None

    def test_a_code_sent_in_the_future_does_not_block(self, codes):
        codes.issue(a_code("c1", sent=2_000_000), resend_before=0)
        assert codes.issue(a_code("c2", sent=1_000_000), resend_before=1_000_000 - 60)

    def test_a_code_is_used_once(self, codes):
        codes.issue(a_code("c1"), resend_before=0)
        assert not codes.consume("13800138000", "other", 5)
        assert codes.consume("13800138000", "c1", 5)
        assert not codes.consume("13800138000", "c1", 5)
        assert codes.get("13800138000") is None

    def test_wrong_tries_count_up_to_the_limit(self, codes):
        codes.issue(a_code("c1"), resend_before=0)
        assert [codes.count_wrong("13800138000", "c1", 2) for _ in range(3)] == [1, 2, None]
        assert not codes.consume("13800138000", "c1", 2)  # voided
        assert codes.get("13800138000").attempts == 2

    def test_withdrawing_forgets_only_our_own_code(self, codes):
        codes.issue(a_code("c1"), resend_before=0)
        codes.withdraw("13800138000", "other")
        assert codes.get("13800138000") is not None
        codes.withdraw("13800138000", "c1")
        assert codes.get("13800138000") is None


class TestDynamoSmsCodeRepository(SmsCodeRepositoryContract):
    @pytest.fixture()
    def codes(self, aws):
        from chalicelib import deps

        return SmsCodeRepository(deps.table())


class TestInMemorySmsCodeRepository(SmsCodeRepositoryContract):
    @pytest.fixture()
    def codes(self):
        return InMemorySmsCodeRepository()


def a_member(member_id: str = "M1", account_id: str = "acc-1", id_hash: str = "h-child") -> FamilyMember:
    return FamilyMember(member_id=member_id, account_id=account_id, id_hash=id_hash, id_enc="enc", name="王小明",
                        relationship="child", birth_date="2010-06-01", sex="male", created_at=AT)


class FamilyRepositoryContract:
    def test_a_member_reads_back_and_is_added_once(self, family):
        assert family.add(a_member())
        assert not family.add(a_member().model_copy(update={"name": "别人"}))
        assert family.get("acc-1", "M1") == a_member()
        assert family.get("acc-2", "M1") is None

    def test_an_account_lists_its_own_members_only(self, family):
        family.add(a_member("M2", id_hash="h-2"))
        family.add(a_member("M1", id_hash="h-1"))
        family.add(a_member("M3", account_id="acc-2"))
        assert [m.member_id for m in family.members("acc-1")] == ["M1", "M2"]
        assert family.members("acc-3") == []

    def test_the_member_by_which_an_account_added_a_person(self, family):
        family.add(a_member("M1", id_hash="h-child"))
        family.add(a_member("M9", account_id="acc-2", id_hash="h-child"))
        assert family.member_for("acc-1", "h-child").member_id == "M1"
        assert family.member_for("acc-1", "h-stranger") is None

    def test_removing_a_member_twice_finds_it_once(self, family):
        family.add(a_member())
        assert family.remove("acc-1", "M1")
        assert not family.remove("acc-1", "M1")
        assert family.get("acc-1", "M1") is None

    def test_the_daily_check_quota_runs_out_per_account_and_day(self, family):
        assert [family.take_check("acc-1", "2021-04-15", 2, NOW) for _ in range(3)] == [True, True, False]
        assert family.take_check("acc-1", "2021-04-16", 2, NOW)
        assert family.take_check("acc-2", "2021-04-15", 2, NOW)


class TestDynamoFamilyRepository(FamilyRepositoryContract):
    @pytest.fixture()
    def family(self, aws):
        from chalicelib import deps

        return FamilyRepository(deps.table())


class TestInMemoryFamilyRepository(FamilyRepositoryContract):
    @pytest.fixture()
    def family(self):
        return InMemoryFamilyRepository()
