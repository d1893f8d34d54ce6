"""The renewal run's reads and its notice-reply cursor (DOMAIN §9; docs/access-patterns.md): the only code that knows
which items a batch of mandates needs and how they are keyed.

`MandateReads` reads what a message's mandates need up front in a few BatchGetItem calls (strongly consistent)
instead of a GetItem each: the policies, then the payers' accounts and the insured's cover markers for the next plan
(deductions) or the insured's identity bindings (notices). A key read and not found is known absent; a key never
asked for is read directly. What they say may be a few seconds old when a mandate runs: every write it leads to is
conditional (the claim on consent still on, the reservation on nobody holding the person).

    RENEWAL#NOTICE_REPLIES / CURSOR    how far the run has read the platform's notice replies
"""
from __future__ import annotations

import threading
from typing import Any

from chalicelib.adapters import keys
from chalicelib.adapters.dynamodb import Table
from chalicelib.adapters.repositories.accounts import account_of
from chalicelib.adapters.repositories.policies import policy_of
from chalicelib.domain.account import Account
from chalicelib.domain.policy import Policy


class MandateReads:
    """Over the DynamoDB table."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.found: dict[tuple[str, str], dict[str, Any]] = {}
        self.asked: set[tuple[str, str]] = set()

    def _get(self, key: dict[str, str]) -> dict[str, Any] | None:
        pair = (key["PK"], key["SK"])
        if pair in self.asked:
            return self.found.get(pair)
        return self.table.get(key)

    def _read(self, wanted: list[dict[str, str]]) -> None:
        pairs = {(k["PK"], k["SK"]) for k in wanted} - self.asked
        if not pairs:
            return
        for item in self.table.batch_get([{"PK": pk, "SK": sk} for pk, sk in sorted(pairs)]):
            self.found[(item["PK"], item["SK"])] = item
        self.asked |= pairs

    def read(self, mandates: list[tuple[str, str]], due: str) -> MandateReads:
        """Read ahead for (policy id, next plan id) pairs; `due` is "notices" or "deductions"."""
        self._read([keys.policy(policy_id) for policy_id, _ in mandates])
        more = []
        for policy_id, next_plan_id in mandates:
            policy = self.policy(policy_id)
            if policy is None:
                continue
            if due == "notices":
                more.append(keys.identity_binding(policy.insured_hash))
                continue
            payer = (policy.renewal and policy.renewal.payer_account_id) or \
                (policy.auto_renew_consent or {}).get("payer_account_id")
            if payer:
                more.append(keys.account(payer))
            more.append(keys.cover_marker(next_plan_id, policy.insured_hash))
        self._read(more)
        return self

    def policy(self, policy_id: str) -> Policy | None:
        item = self._get(keys.policy(policy_id))
        return policy_of(item) if item else None

    def fresh_policy(self, policy_id: str) -> Policy | None:
        """Read again, whatever was read ahead."""
        item = self.table.get(keys.policy(policy_id))
        return policy_of(item) if item else None

    def account(self, account_id: str) -> Account | None:
        item = self._get(keys.account(account_id))
        return account_of(item) if item else None

    def bound_account(self, id_hash: str) -> str | None:
        item = self._get(keys.identity_binding(id_hash))
        return item.get("account_id") if item else None

    def covered(self, plan_id: str, id_hash: str) -> bool:
        """Someone holds (reserved or issued) this person's cover of `plan_id`."""
        return self._get(keys.cover_marker(plan_id, id_hash)) is not None


class InMemoryMandateReads:
    """The twin (tests/contract/test_renewal_reads.py): the same answers from given policies, accounts, bindings and
    cover markers."""

    def __init__(self, policies: dict[str, Policy] | None = None, accounts: dict[str, Account] | None = None,
                 bindings: dict[str, str] | None = None, covers: set[tuple[str, str]] | None = None) -> None:
        self.policies, self.accounts = dict(policies or {}), dict(accounts or {})
        self.bindings, self.covers = dict(bindings or {}), set(covers or set())

    def read(self, mandates: list[tuple[str, str]], due: str) -> InMemoryMandateReads:
        return self

    def policy(self, policy_id: str) -> Policy | None:
        policy = self.policies.get(policy_id)
        return policy.model_copy(deep=True) if policy else None

    fresh_policy = policy

    def account(self, account_id: str) -> Account | None:
        return self.accounts.get(account_id)

    def bound_account(self, id_hash: str) -> str | None:
        return self.bindings.get(id_hash)

    def covered(self, plan_id: str, id_hash: str) -> bool:
        return (plan_id, id_hash) in self.covers


class NoticeReplyCursor:
    """How far the renewal run has read the platform's notice replies (its sequence number)."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def position(self) -> int:
        return int((self.table.get(keys.renewal_reply_cursor()) or {}).get("seq", 0))

    def move_to(self, seq: int, at: str) -> None:
        self.table.put({**keys.renewal_reply_cursor(), "seq": seq, "updated_at": at})


class InMemoryNoticeReplyCursor:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seq = 0

    def position(self) -> int:
        return self.seq

    def move_to(self, seq: int, at: str) -> None:
        with self._lock:
            self.seq = seq
