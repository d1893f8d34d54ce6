"""Policies ⇄ items (docs/access-patterns.md). The stored attribute names are the Policy model's field names — the
claims code reads and writes `ytd_*` and `version` on the same item.

    POLICY#{id} / POLICY    GSI1 PERSON#{insured_hash} / POLICY#{plan_id}              (the insured's policies)
                            GSI2 ACCOUNT#{payer} / POLICY#{plan_id}#{policy_id}        (what a payer bought)
                            GSI4 RENEWAL#{plan_id}#{shard} / {payer}#{policy_id}       (while auto-renewal is on
                                 and its renewal not ended; 16 shards, keys.gsi_renewal)
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chalicelib.adapters import keys, schema
from chalicelib.adapters.dynamodb import ConditionFailed, Table, TxOp
from chalicelib.adapters.repositories.memory import MemoryStore, Write, with_twin
from chalicelib.domain.policy import Policy
from chalicelib.domain.renewal import RenewalRecord

_KEY_ATTRIBUTES = frozenset({"PK", "SK", *(name for pair in schema.GSIS.values() for name in pair)})


def policy_item(policy: Policy) -> dict[str, Any]:
    item = {**policy.model_dump(exclude_none=True), **keys.policy(policy.policy_id),
            **keys.gsi_person(policy.insured_hash, f"POLICY#{policy.plan_id}"),
            **keys.gsi_account(policy.payer_account_id, f"POLICY#{policy.plan_id}#{policy.policy_id}")}
    ended = policy.renewal is not None and policy.renewal.ended
    if policy.auto_renew and policy.status == "active" and not ended:
        item.update(keys.gsi_renewal(policy.plan_id, f"{policy.payer_account_id}#{policy.policy_id}"))
    return item


def policy_of(item: dict[str, Any]) -> Policy:
    return Policy.model_validate({k: v for k, v in item.items() if k not in _KEY_ATTRIBUTES})


def _changed(store: MemoryStore, policy_id: str, holds: Any, change: Any) -> Write | None:
    """The twin of a conditional update of a stored policy: refused when it is absent or `holds(policy)` is false;
    else the write storing `change(policy)` (a dict of fields; the version moves up by one)."""
    current = store.policies.get(policy_id)
    if current is None or not holds(current):
        return None
    changed = Policy.model_validate({**current.model_dump(), **change(current), "version": current.version + 1})

    def write() -> None:
        store.policies[policy_id] = changed
    return write


def _renewal_with(policy: Policy, **fields: Any) -> dict[str, Any]:
    return {**(policy.renewal.model_dump() if policy.renewal is not None else {}), **fields}


class PolicyRepository:
    """Over the DynamoDB table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    @staticmethod
    def issue_op(policy: Policy) -> TxOp:
        """The transaction item that issues a new policy (refused if its id exists)."""
        stored = policy.model_copy(deep=True)

        def issue(store: MemoryStore) -> Write | None:
            if policy.policy_id in store.policies:
                return None

            def write() -> None:
                store.policies[policy.policy_id] = stored
            return write
        return with_twin(TxOp.put(policy_item(policy)), issue)

    @staticmethod
    def take_over_op(policy: Policy, payment_method: str, taken_over: dict[str, Any]) -> TxOp:
        """The transaction item by which a payer (a county government) takes over a self-paid policy's premium
        (DOMAIN §10.4): the policy stays, its channel becomes the payer's; refused if the policy changed since it
        was read, was cancelled, or was taken over already."""
        op = TxOp.update_item(
            keys.policy(policy.policy_id),
            "SET payment_method = :method, taken_over = :taken, version = version + :one",
            condition="#status = :active AND version = :v AND attribute_not_exists(taken_over)",
            names={"#status": "status"},
            values={":method": payment_method, ":taken": taken_over, ":one": 1, ":active": "active",
                    ":v": policy.version})
        return with_twin(op, lambda store: _changed(
            store, policy.policy_id,
            lambda p: p.status == "active" and p.version == policy.version and p.taken_over is None,
            lambda p: {"payment_method": payment_method, "taken_over": taken_over}))

    @staticmethod
    def cancel_op(policy: Policy, now: str) -> TxOp:
        """The transaction item that cancels an active policy as read (its version): auto-renewal off and out of
        the renewal index."""
        renewal_pk, renewal_sk = schema.GSIS[schema.GSI_BY_GRANTEE]
        op = TxOp.update_item(keys.policy(policy.policy_id),
                              "SET #status = :cancelled, cancelled_at = :now, version = version + :one, "
                              f"auto_renew = :off REMOVE {renewal_pk}, {renewal_sk}",
                              condition="#status = :active AND version = :v", names={"#status": "status"},
                              values={":cancelled": "cancelled", ":now": now, ":one": 1, ":off": False,
                                      ":active": "active", ":v": policy.version})
        return with_twin(op, lambda store: _changed(
            store, policy.policy_id, lambda p: p.status == "active" and p.version == policy.version,
            lambda p: {"status": "cancelled", "cancelled_at": now, "auto_renew": False}))

    # ---- the renewal's writes on the policy it renews (services/renewals.py) --------------------------------------
    @staticmethod
    def renewal_claim_op(policy_id: str, order_id: str, payer_account_id: str, at: str) -> TxOp:
        """The transaction item (in the renewal order's reservation) by which `order_id` claims the policy's renewal:
        refused if consent was withdrawn meanwhile or another attempt claimed it first. From here a stop is refused."""
        op = TxOp.update_item(
            keys.policy(policy_id),
            "SET renewal.deduction_started_at = :t, renewal.order_id = :o, renewal.payer_account_id = :p, "
            "version = if_not_exists(version, :zero) + :one",
            condition="auto_renew = :on AND attribute_exists(renewal) "
                      "AND attribute_not_exists(renewal.deduction_started_at)",
            values={":t": at, ":o": order_id, ":p": payer_account_id, ":on": True, ":zero": 0, ":one": 1})
        return with_twin(op, lambda store: _changed(
            store, policy_id,
            lambda p: p.auto_renew is True and p.renewal is not None and p.renewal.deduction_started_at is None,
            lambda p: {"renewal": _renewal_with(p, deduction_started_at=at, order_id=order_id,
                                                payer_account_id=payer_account_id)}))

    @staticmethod
    def _renewed(policy_id: str, renewed_policy_id: str, entry: dict[str, Any]) -> dict[str, Any]:
        pk_name, sk_name = schema.GSIS[schema.GSI_BY_GRANTEE]
        return {"key": keys.policy(policy_id),
                "update": "SET renewal.#status = :s, renewal.renewed_policy_id = :p, "
                          "renewal_history = list_append(if_not_exists(renewal_history, :empty), :h), "
                          f"version = if_not_exists(version, :zero) + :one REMOVE {pk_name}, {sk_name}",
                "names": {"#status": "status"},
                "values": {":s": "renewed", ":p": renewed_policy_id, ":h": [entry], ":empty": [], ":zero": 0,
                           ":one": 1}}

    @classmethod
    def renewal_renewed_op(cls, policy_id: str, renewed_policy_id: str, order_id: str,
                           entry: dict[str, Any]) -> TxOp:
        """The transaction item (in the renewal order's issuing transaction) recording the renewal on the old policy
        — status, the new policy, the history entry — and taking it out of the renewal index; only while the
        renewal is `order_id`'s claim."""
        parts = cls._renewed(policy_id, renewed_policy_id, entry)
        op = TxOp.update_item(parts["key"], parts["update"],
                              condition="renewal.order_id = :o AND renewal.#status <> :s",
                              names=parts["names"], values={**parts["values"], ":o": order_id})
        return with_twin(op, lambda store: _changed(
            store, policy_id,
            lambda p: p.renewal is not None and p.renewal.order_id == order_id and p.renewal.status != "renewed",
            lambda p: {"renewal": _renewal_with(p, status="renewed", renewed_policy_id=renewed_policy_id),
                       "renewal_history": [*(p.renewal_history or []), entry]}))

    def mark_renewed(self, policy_id: str, renewed_policy_id: str, entry: dict[str, Any]) -> bool:
        """The same, on its own (someone else issued the order): True if recorded now, False if it was already."""
        parts = self._renewed(policy_id, renewed_policy_id, entry)
        try:
            self.table.update(parts["key"], parts["update"],
                              condition="attribute_exists(renewal) AND renewal.#status <> :s",
                              names=parts["names"], values=parts["values"])
        except ConditionFailed:
            return False
        return True

    def record_notice(self, policy_id: str, record: RenewalRecord, entries: list[dict[str, Any]]) -> bool:
        """The notice recorded on a consenting policy whose renewal has no record yet: False if consent was
        withdrawn meanwhile or another delivery recorded it first."""
        try:
            self.table.update(keys.policy(policy_id),
                              "SET renewal = :r, renewal_history = list_append(if_not_exists(renewal_history, :empty), "
                              ":h), version = if_not_exists(version, :zero) + :one",
                              condition="attribute_not_exists(renewal) AND auto_renew = :on",
                              values={":r": record.model_dump(exclude_none=True), ":h": entries, ":empty": [],
                                      ":on": True, ":zero": 0, ":one": 1})
        except ConditionFailed:
            return False
        return True

    def record_failure(self, policy_id: str, failed: RenewalRecord, entry: dict[str, Any], *,
                       after_claim: bool) -> bool:
        """The renewal ended `failed` (the record as given, the history entry) and out of the renewal index. Before
        a claim: only while consent is on and nothing claimed it; after one: only while the claim stands."""
        pk_name, sk_name = schema.GSIS[schema.GSI_BY_GRANTEE]
        condition = ("attribute_exists(renewal.deduction_started_at)" if after_claim
                     else "auto_renew = :on AND attribute_not_exists(renewal.deduction_started_at)")
        values = {":r": failed.model_dump(exclude_none=True), ":h": [entry], ":empty": [], ":zero": 0, ":one": 1,
                  **({} if after_claim else {":on": True})}
        try:
            self.table.update(keys.policy(policy_id),
                              "SET renewal = :r, renewal_history = list_append(if_not_exists(renewal_history, :empty), "
                              f":h), version = if_not_exists(version, :zero) + :one REMOVE {pk_name}, {sk_name}",
                              condition=condition, values=values)
        except ConditionFailed:
            return False
        return True

    # ---- auto-renewal consent (services/policies.py, services/renewals.py) -----------------------------------------
    def switch_auto_renew(self, policy: Policy, *, consent: dict[str, Any] | None, withdrawal: dict[str, Any] | None,
                          entries: list[dict[str, Any]]) -> Policy | None:
        """Consent given (`consent`: the policy joins the renewal index under its payer) or withdrawn (`withdrawal`:
        it leaves it), with the history entries, on the policy as read (its version; consent only while active).
        The policy as stored after, or None if it changed meanwhile (a claim paid, another switch)."""
        renewal_pk, renewal_sk = schema.GSIS[schema.GSI_BY_GRANTEE]
        history = "renewal_history = list_append(if_not_exists(renewal_history, :empty), :h)"
        values: dict[str, Any] = {":h": entries, ":empty": [], ":v": policy.version, ":next": policy.version + 1}
        condition = "(attribute_not_exists(version) OR version = :v)"
        names = None
        if consent is not None:
            index = keys.gsi_renewal(policy.plan_id, f"{consent['payer_account_id']}#{policy.policy_id}")
            update = (f"SET auto_renew = :on, auto_renew_consent = :consent, {renewal_pk} = :rpk, {renewal_sk} = :rsk, "
                      f"{history}, version = :next REMOVE auto_renew_withdrawal")
            values |= {":on": True, ":consent": consent, ":rpk": index[renewal_pk], ":rsk": index[renewal_sk],
                       ":active": "active"}
            condition += " AND #status = :active"
            names = {"#status": "status"}
        else:
            update = (f"SET auto_renew = :off, auto_renew_withdrawal = :w, {history}, version = :next "
                      f"REMOVE auto_renew_consent, {renewal_pk}, {renewal_sk}")
            values |= {":off": False, ":w": withdrawal}
        try:
            return policy_of(self.table.update(keys.policy(policy.policy_id), update, condition=condition,
                                               names=names, values=values))
        except ConditionFailed:
            return None

    def withdraw_consent(self, policy_id: str, withdrawal: dict[str, Any], entry: dict[str, Any]) -> bool:
        """Consent withdrawn on the member's behalf (platform channel, counter, the system): False if it was off
        already or its renewal's deduction is under way."""
        pk_name, sk_name = schema.GSIS[schema.GSI_BY_GRANTEE]
        try:
            self.table.update(keys.policy(policy_id),
                              "SET auto_renew = :off, auto_renew_withdrawal = :w, "
                              "renewal_history = list_append(if_not_exists(renewal_history, :empty), :h), "
                              "version = if_not_exists(version, :zero) + :one "
                              f"REMOVE auto_renew_consent, {pk_name}, {sk_name}",
                              condition="auto_renew = :on AND attribute_not_exists(renewal.deduction_started_at)",
                              values={":off": False, ":on": True, ":w": withdrawal, ":h": [entry], ":empty": [],
                                      ":zero": 0, ":one": 1})
        except ConditionFailed:
            return False
        return True

    def transfer_payer(self, policy: Policy, to_account_id: str, at: str) -> bool:
        """The policy's payer becomes `to_account_id` (identity recovery: a policy bought with the person's own
        money), auto-renewal off and out of the renewal index; False unless it is still the payer's as read."""
        renewal_pk, renewal_sk = schema.GSIS[schema.GSI_BY_GRANTEE]
        payer_keys = keys.gsi_account(to_account_id, f"POLICY#{policy.plan_id}#{policy.policy_id}")
        try:
            self.table.update(keys.policy(policy.policy_id),
                              "SET payer_account_id = :me, GSI2PK = :g2pk, GSI2SK = :g2sk, auto_renew = :off, "
                              f"transferred_from = :other, transferred_at = :at REMOVE {renewal_pk}, {renewal_sk}",
                              condition="payer_account_id = :other",
                              values={":me": to_account_id, ":g2pk": payer_keys["GSI2PK"],
                                      ":g2sk": payer_keys["GSI2SK"], ":off": False,
                                      ":other": policy.payer_account_id, ":at": at})
        except ConditionFailed:
            return False
        return True

    def get(self, policy_id: str) -> Policy | None:
        item = self.table.get(keys.policy(policy_id))
        return policy_of(item) if item else None

    def save(self, policy: Policy) -> None:
        self.table.put(policy_item(policy))

    def renewal_mandates(self, plan_id: str) -> Iterator[str]:
        """The ids of `plan_id`'s policies in the renewal index (consenting, their renewal not ended), paged shard
        by shard — the unsharded partition of older entries last. Eventually consistent: the run re-reads each."""
        pk_name, _ = schema.GSIS[schema.GSI_BY_GRANTEE]
        for partition in keys.renewal_partitions(plan_id):
            for item in self.table.query_all(pk_name, partition, index=schema.GSI_BY_GRANTEE):
                yield item["policy_id"]

    def for_insured(self, insured_hash: str) -> list[Policy]:
        pk_name, sk_name = schema.GSIS[schema.GSI_BY_PERSON]
        index = keys.gsi_person(insured_hash, "POLICY#")
        return [policy_of(i) for i in self.table.query_all(pk_name, index[pk_name], index=schema.GSI_BY_PERSON,
                                                           sk_name=sk_name, sk_prefix=index[sk_name])]

    def for_payer(self, account_id: str, plan_id: str | None = None) -> list[Policy]:
        pk_name, sk_name = schema.GSIS[schema.GSI_BY_ACCOUNT]
        index = keys.gsi_account(account_id, f"POLICY#{plan_id}#" if plan_id else "POLICY#")
        return [policy_of(i) for i in self.table.query_all(pk_name, index[pk_name], index=schema.GSI_BY_ACCOUNT,
                                                           sk_name=sk_name, sk_prefix=index[sk_name])]


class InMemoryPolicyRepository:
    """The twin (tests/contract/test_repositories.py); its named operations run in MemoryStore.transact."""

    issue_op = staticmethod(PolicyRepository.issue_op)
    take_over_op = staticmethod(PolicyRepository.take_over_op)
    cancel_op = staticmethod(PolicyRepository.cancel_op)
    renewal_claim_op = staticmethod(PolicyRepository.renewal_claim_op)
    renewal_renewed_op = PolicyRepository.renewal_renewed_op

    def __init__(self, store: MemoryStore | None = None) -> None:
        self.store = store or MemoryStore()
        self._lock = self.store.lock
        self._policies: dict[str, Policy] = self.store.policies

    def get(self, policy_id: str) -> Policy | None:
        with self._lock:
            policy = self._policies.get(policy_id)
            return policy.model_copy(deep=True) if policy else None

    def save(self, policy: Policy) -> None:
        with self._lock:
            self._policies[policy.policy_id] = policy.model_copy(deep=True)

    def switch_auto_renew(self, policy: Policy, *, consent: dict[str, Any] | None, withdrawal: dict[str, Any] | None,
                          entries: list[dict[str, Any]]) -> Policy | None:
        with self._lock:
            stored = self._policies.get(policy.policy_id)
            if stored is None or stored.version != policy.version or (consent is not None
                                                                      and stored.status != "active"):
                return None
            changes: dict[str, Any] = {"renewal_history": [*(stored.renewal_history or []), *entries],
                                       "version": stored.version + 1}
            if consent is not None:
                changes |= {"auto_renew": True, "auto_renew_consent": consent, "auto_renew_withdrawal": None}
            else:
                changes |= {"auto_renew": False, "auto_renew_withdrawal": withdrawal, "auto_renew_consent": None}
            updated = stored.model_copy(update=changes)
            self._policies[policy.policy_id] = updated
            return updated.model_copy(deep=True)

    def withdraw_consent(self, policy_id: str, withdrawal: dict[str, Any], entry: dict[str, Any]) -> bool:
        with self._lock:
            stored = self._policies.get(policy_id)
            if stored is None or not stored.auto_renew or (stored.renewal is not None
                                                            and stored.renewal.deduction_started_at):
                return False
            self._policies[policy_id] = stored.model_copy(update={
                "auto_renew": False, "auto_renew_withdrawal": withdrawal, "auto_renew_consent": None,
                "renewal_history": [*(stored.renewal_history or []), entry], "version": stored.version + 1})
            return True

    def transfer_payer(self, policy: Policy, to_account_id: str, at: str) -> bool:
        with self._lock:
            stored = self._policies.get(policy.policy_id)
            if stored is None or stored.payer_account_id != policy.payer_account_id:
                return False
            self._policies[policy.policy_id] = stored.model_copy(update={
                "payer_account_id": to_account_id, "auto_renew": False, "transferred_from": policy.payer_account_id,
                "transferred_at": at})
            return True

    # ---- the renewal's writes on the policy it renews ----------------------------------------------------------
    def _renew_entry(self, stored: Policy, entries: list[dict[str, Any]], **changes: Any) -> Policy:
        return stored.model_copy(update={"renewal_history": [*(stored.renewal_history or []), *entries],
                                         "version": stored.version + 1, **changes})

    def record_notice(self, policy_id: str, record: RenewalRecord, entries: list[dict[str, Any]]) -> bool:
        with self._lock:
            stored = self._policies.get(policy_id)
            if stored is None or stored.renewal is not None or not stored.auto_renew:
                return False
            self._policies[policy_id] = self._renew_entry(stored, entries, renewal=record)
            return True

    def record_failure(self, policy_id: str, failed: RenewalRecord, entry: dict[str, Any], *,
                       after_claim: bool) -> bool:
        with self._lock:
            stored = self._policies.get(policy_id)
            if stored is None:
                return False
            started = stored.renewal is not None and bool(stored.renewal.deduction_started_at)
            if not (started if after_claim else stored.auto_renew and not started):
                return False
            self._policies[policy_id] = self._renew_entry(stored, [entry], renewal=failed)
            return True

    def mark_renewed(self, policy_id: str, renewed_policy_id: str, entry: dict[str, Any]) -> bool:
        with self._lock:
            stored = self._policies.get(policy_id)
            if stored is None or stored.renewal is None or stored.renewal.status == "renewed":
                return False
            renewal = stored.renewal.model_copy(update={"status": "renewed", "renewed_policy_id": renewed_policy_id})
            self._policies[policy_id] = self._renew_entry(stored, [entry], renewal=renewal)
            return True

    def renewal_mandates(self, plan_id: str) -> Iterator[str]:
        with self._lock:
            found = sorted(p.policy_id for p in self._policies.values()
                           if p.plan_id == plan_id and p.auto_renew and p.status == "active"
                           and not (p.renewal is not None and p.renewal.ended))
        yield from found

    def for_insured(self, insured_hash: str) -> list[Policy]:
        with self._lock:
            found = [p for p in self._policies.values() if p.insured_hash == insured_hash]
        return [p.model_copy(deep=True) for p in sorted(found, key=lambda p: p.plan_id)]

    def for_payer(self, account_id: str, plan_id: str | None = None) -> list[Policy]:
        with self._lock:
            found = [p for p in self._policies.values()
                     if p.payer_account_id == account_id and (plan_id is None or p.plan_id == plan_id)]
        return [p.model_copy(deep=True) for p in sorted(found, key=lambda p: (p.plan_id, p.policy_id))]
