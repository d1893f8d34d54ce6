"""Auto-renewal's storage, each contract run against the DynamoDB repository (moto table) and its in-memory twin: the
policy repository's consent writes (consent, withdrawal, a stop on the member's behalf), recovery's payer transfer
and the renewal's writes (notice, failure, renewed); the renewal run's batched reads (MandateReads) and its
notice-reply cursor."""
from __future__ import annotations

import pytest

from chalicelib.adapters.repositories.policies import InMemoryPolicyRepository, PolicyRepository
from chalicelib.domain.renewal import RenewalRecord
from tests.contract.test_repositories import a_policy

AT = "2021-11-01T10:00:00+08:00"
CONSENT = {"at": AT, "channel": "app", "payer_account_id": "acct-1", "payment_method": "personal_account",
           "account_source": "current"}
ENTRY = {"at": AT, "event": "consent", "channel": "app", "by": "acct-1"}


class PolicyConsentContract:
    def test_consent_puts_the_policy_in_the_renewal_index_and_withdrawal_takes_it_out(self, repo):
        repo.save(a_policy("POL1"))
        consented = repo.switch_auto_renew(repo.get("POL1"), consent=CONSENT, withdrawal=None, entries=[ENTRY])
        assert (consented.auto_renew, consented.auto_renew_consent, consented.version) == (True, CONSENT, 2)
        assert consented.renewal_history == [ENTRY] and repo.get("POL1") == consented
        assert list(repo.renewal_mandates("lishui-2021")) == ["POL1"]
        stop = {"at": AT, "event": "stop", "channel": "app", "by": "acct-1"}
        withdrawn = repo.switch_auto_renew(consented, consent=None, withdrawal={"at": AT, "channel": "app",
                                                                                "account_id": "acct-1"},
                                           entries=[stop])
        assert (withdrawn.auto_renew, withdrawn.auto_renew_consent, withdrawn.version) == (False, None, 3)
        assert withdrawn.renewal_history == [ENTRY, stop]
        assert list(repo.renewal_mandates("lishui-2021")) == []

    def test_a_switch_on_a_policy_that_changed_since_it_was_read_is_refused(self, repo):
        repo.save(a_policy("POL1"))
        read = repo.get("POL1")
        repo.save(read.model_copy(update={"version": 2}))  # a claim paid meanwhile
        assert repo.switch_auto_renew(read, consent=CONSENT, withdrawal=None, entries=[ENTRY]) is None
        assert repo.get("POL1").auto_renew is False

    def test_consent_needs_an_active_policy(self, repo):
        repo.save(a_policy("POL1", status="cancelled"))
        assert repo.switch_auto_renew(repo.get("POL1"), consent=CONSENT, withdrawal=None, entries=[ENTRY]) is None

    def test_a_stop_on_the_members_behalf_is_refused_once_the_deduction_started(self, repo):
        repo.save(a_policy("POL1", auto_renew=True, auto_renew_consent=CONSENT))
        repo.save(a_policy("POL2", auto_renew=True, auto_renew_consent=CONSENT,
                           renewal=RenewalRecord(next_plan_id="lishui-2022", status="noticed",
                                                 deduction_started_at=AT, order_id="ORD9")))
        withdrawal = {"at": AT, "channel": "counter", "account_id": "staff-1"}
        entry = {"at": AT, "event": "stop", "channel": "counter", "by": "staff-1"}
        assert repo.withdraw_consent("POL1", withdrawal, entry)
        assert not repo.withdraw_consent("POL1", withdrawal, entry)  # off already
        assert not repo.withdraw_consent("POL2", withdrawal, entry)
        stopped = repo.get("POL1")
        assert (stopped.auto_renew, stopped.auto_renew_consent, stopped.auto_renew_withdrawal) == (
            False, None, withdrawal)
        assert stopped.renewal_history == [entry] and repo.get("POL2").auto_renew

    def test_the_payer_moves_only_from_the_payer_as_read(self, repo):
        repo.save(a_policy("POL1", payer="acct-impostor", auto_renew=True, auto_renew_consent=CONSENT))
        read = repo.get("POL1")
        assert repo.transfer_payer(read, "acct-owner", AT)
        assert not repo.transfer_payer(read, "acct-other", AT)  # no longer the impostor's
        moved = repo.get("POL1")
        assert (moved.payer_account_id, moved.auto_renew) == ("acct-owner", False)
        assert [p.policy_id for p in repo.for_payer("acct-owner")] == ["POL1"]
        assert repo.for_payer("acct-impostor") == []


class TestDynamoPolicyConsent(PolicyConsentContract):
    @pytest.fixture()
    def repo(self, aws):
        from chalicelib import deps

        return PolicyRepository(deps.table())


class TestInMemoryPolicyConsent(PolicyConsentContract):
    @pytest.fixture()
    def repo(self):
        return InMemoryPolicyRepository()


# ---- the renewal run's reads ----------------------------------------------------------------------------------------
class MandateReadsContract:
    """Subclasses provide `reads`: given the policy POL1 (insured h-spouse, consent by acct-1), the account acct-1,
    h-spouse bound to acct-spouse and covered by lishui-2022 — and nothing else."""

    def test_what_a_deduction_needs_is_read_ahead(self, reads):
        reads = reads.read([("POL1", "lishui-2022"), ("POL-NOPE", "lishui-2022")], "deductions")
        assert reads.policy("POL1").policy_id == "POL1" and reads.policy("POL-NOPE") is None
        assert reads.account("acct-1").account_id == "acct-1" and reads.account("acct-nope") is None
        assert reads.covered("lishui-2022", "h-spouse") and not reads.covered("lishui-2023", "h-spouse")

    def test_what_a_notice_needs_is_read_ahead(self, reads):
        reads = reads.read([("POL1", "lishui-2022")], "notices")
        assert reads.bound_account("h-spouse") == "acct-spouse" and reads.bound_account("h-nobody") is None
        assert reads.fresh_policy("POL1").policy_id == "POL1"


class TestDynamoMandateReads(MandateReadsContract):
    @pytest.fixture()
    def reads(self, aws):
        from chalicelib import deps
        from chalicelib.adapters.repositories.accounts import AccountRepository
        from chalicelib.adapters.repositories.orders import OrderRepository
        from chalicelib.adapters.repositories.renewals import MandateReads
        from chalicelib.domain.account import Account, BoundPerson
        from chalicelib.domain.order import CoverMarker

        table = deps.table()
        PolicyRepository(table).save(a_policy("POL1", auto_renew=True, auto_renew_consent=CONSENT))
        accounts = AccountRepository(table)
        accounts.create(Account(account_id="acct-1", created_at=AT), "phone", "13800138001")
        accounts.create(Account(account_id="acct-spouse", created_at=AT), "phone", "13800138002")
        accounts.bind("acct-spouse", BoundPerson(id_hash="h-spouse", id_enc="e2", name="李秀英",
                                                 birth_date="1982-01-01", sex="female", region_code="331102"), AT)
        OrderRepository(table).save_cover(CoverMarker(plan_id="lishui-2022", policy_id="POL9", created_at=AT),
                                          "h-spouse")
        return MandateReads(table)


class TestInMemoryMandateReads(MandateReadsContract):
    @pytest.fixture()
    def reads(self):
        from chalicelib.adapters.repositories.renewals import InMemoryMandateReads
        from chalicelib.domain.account import Account

        return InMemoryMandateReads(
            policies={"POL1": a_policy("POL1", auto_renew=True, auto_renew_consent=CONSENT)},
            accounts={"acct-1": Account(account_id="acct-1", created_at=AT)},
            bindings={"h-spouse": "acct-spouse"}, covers={("lishui-2022", "h-spouse")})


# ---- the renewal's writes on the policy it renews --------------------------------------------------------------------
NOTICED = RenewalRecord(next_plan_id="lishui-2022", status="noticed", noticed_on="2021-11-01", account_source="current")


class RenewalWritesContract:
    def test_a_notice_is_recorded_once_and_only_while_consent_is_on(self, repo):
        repo.save(a_policy("POL1", auto_renew=True, auto_renew_consent=CONSENT))
        repo.save(a_policy("POL2"))
        entry = {"at": AT, "event": "notice", "channel": "platform", "by": "system"}
        assert repo.record_notice("POL1", NOTICED, [entry])
        assert not repo.record_notice("POL1", NOTICED, [entry])  # another delivery recorded it first
        assert not repo.record_notice("POL2", NOTICED, [entry])  # no consent
        noticed = repo.get("POL1")
        assert (noticed.renewal, noticed.renewal_history, noticed.version) == (NOTICED, [entry], 2)

    def test_a_failure_before_a_claim_needs_consent_on_and_nothing_claimed(self, repo):
        repo.save(a_policy("POL1", auto_renew=True, auto_renew_consent=CONSENT, renewal=NOTICED))
        repo.save(a_policy("POL2", auto_renew=True, auto_renew_consent=CONSENT,
                           renewal=NOTICED.model_copy(update={"deduction_started_at": AT, "order_id": "ORD9"})))
        failed = NOTICED.model_copy(update={"status": "failed", "failure_code": "INSUFFICIENT_BALANCE"})
        entry = {"at": AT, "event": "fail", "channel": "system", "by": "system"}
        assert repo.record_failure("POL1", failed, entry, after_claim=False)
        assert not repo.record_failure("POL2", failed, entry, after_claim=False)  # claimed: the order decides
        assert repo.record_failure("POL2", failed, entry, after_claim=True)
        assert repo.get("POL1").renewal.failure_code == "INSUFFICIENT_BALANCE"
        assert list(repo.renewal_mandates("lishui-2021")) == []  # both ended: out of the renewal index

    def test_a_renewal_is_marked_once(self, repo):
        repo.save(a_policy("POL1", auto_renew=True, auto_renew_consent=CONSENT, renewal=NOTICED))
        repo.save(a_policy("POL2"))
        entry = {"at": AT, "event": "renew", "channel": "system", "by": "system"}
        assert repo.mark_renewed("POL1", "POL-NEW", entry)
        assert not repo.mark_renewed("POL1", "POL-NEW", entry)
        assert not repo.mark_renewed("POL2", "POL-NEW", entry)  # no renewal record
        renewed = repo.get("POL1").renewal
        assert (renewed.status, renewed.renewed_policy_id) == ("renewed", "POL-NEW")
        assert list(repo.renewal_mandates("lishui-2021")) == []


class TestDynamoRenewalWrites(RenewalWritesContract):
    @pytest.fixture()
    def repo(self, aws):
        from chalicelib import deps

        return PolicyRepository(deps.table())


class TestInMemoryRenewalWrites(RenewalWritesContract):
    @pytest.fixture()
    def repo(self):
        return InMemoryPolicyRepository()


# ---- the renewal run's notice-reply cursor ----------------------------------------------------------------------------
class NoticeReplyCursorContract:
    def test_the_cursor_starts_at_zero_and_keeps_where_it_was_moved(self, cursor):
        assert cursor.position() == 0
        cursor.move_to(7, AT)
        cursor.move_to(12, AT)
        assert cursor.position() == 12


class TestDynamoNoticeReplyCursor(NoticeReplyCursorContract):
    @pytest.fixture()
    def cursor(self, aws):
        from chalicelib import deps
        from chalicelib.adapters.repositories.renewals import NoticeReplyCursor

        return NoticeReplyCursor(deps.table())


class TestInMemoryNoticeReplyCursor(NoticeReplyCursorContract):
    @pytest.fixture()
    def cursor(self):
        from chalicelib.adapters.repositories.renewals import InMemoryNoticeReplyCursor

        return InMemoryNoticeReplyCursor()
