"""Shared test helpers: people on the simulated 医保 platform, member logins, identity binding, test IDs.

They drive the real routes when those exist (the SMS login, PUT /v1/me/identity) and otherwise write the items exactly
as docs/access-patterns.md describes, so tests of one feature do not wait for another.
"""
from __future__ import annotations

import itertools
import json
import uuid
from datetime import date
from typing import Any

from chalicelib.domain.resident_id import make_test_id

_sequence = itertools.count(11)


def new_id(region: str = "331102", born: date = date(1980, 1, 1), seq: int | None = None,
           female: bool = False) -> str:
    """A valid resident ID for tests; without `seq`, each call gives another number (unique within a test)."""
    if seq is None:
        seq = (next(_sequence) * 2) % 1000  # step 2 so the sex-parity adjustment never maps two calls to one number
    return make_test_id(region, born, seq, female)


def register_person(name: str, id_number: str, city: str = "331100", basic_type: str = "employee",
                    status: str = "active", *, current_fen: int = 0, prior_years_fen: int = 0,
                    **platform_fields: Any):
    """Register a person with `deps.platform()` (the simulator) and return the PlatformPerson.

    `platform_fields` are further PlatformPerson fields: county, basic_start, restored_on, suspensions,
    special_groups, life_events.
    """
    from chalicelib import deps
    from chalicelib.domain.platform import PlatformPerson

    person = PlatformPerson(id_number=id_number, name=name, city=city, basic_type=basic_type, status=status,
                            **platform_fields)
    deps.platform().register(person, current_fen=current_fen, prior_years_fen=prior_years_fen)
    return person


def _has_route(client, path: str, method: str) -> bool:
    route = client._app.routes.get(path)  # chalice.test.Client keeps the app it serves
    return route is not None and method in route


def login(client, phone: str) -> dict[str, str]:
    """Log in as the member who uses `phone` (creating the account) and return the request headers.

    The first login of a phone goes through the real SMS flow when it exists; a later login of the same phone gets
    a token for the existing account directly (a second code within a minute would be refused, 429)."""
    if _has_route(client, "/v1/auth/sms/verify", "POST") and not _phone_has_account(phone):
        from chalicelib import deps

        sent = client.http.post("/v1/auth/sms", headers={"Content-Type": "application/json"},
                                body=json.dumps({"phone": phone}))
        assert sent.status_code == 202, sent.body
        code = deps.sms().last(phone).code
        resp = client.http.post("/v1/auth/sms/verify", headers={"Content-Type": "application/json"},
                                body=json.dumps({"phone": phone, "code": code}))
        assert resp.status_code == 200, resp.body
        token = json.loads(resp.body)["token"]
    else:
        token = _token_for_phone_account(phone)
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def _phone_has_account(phone: str) -> bool:
    from chalicelib import deps
    from chalicelib.adapters import keys

    return deps.table().get(keys.login_marker("phone", phone)) is not None


def _token_for_phone_account(phone: str) -> str:
    """The Account item and its login marker per docs/access-patterns.md, written in one transaction."""
    from chalicelib import deps
    from chalicelib.adapters import keys
    from chalicelib.adapters.clock import iso
    from chalicelib.adapters.dynamodb import TxOp
    from chalicelib.api.auth import issue_member_token

    table = deps.table()
    marker = table.get(keys.login_marker("phone", phone))
    if marker is None:
        account_id = uuid.uuid4().hex
        now = iso(deps.clock().now())
        table.transact([
            TxOp.put({**keys.login_marker("phone", phone), "account_id": account_id, "created_at": now}),
            TxOp.put({**keys.account(account_id), "account_id": account_id, "created_at": now, "phone": phone,
                      "login_channel": "phone"}),
        ])
    else:
        account_id = marker["account_id"]
    return issue_member_token(account_id)[0]


def account_id_of(headers: dict[str, str]) -> str:
    """The account id inside a member's token (for assertions on stored items)."""
    import jwt

    token = headers["Authorization"].split(" ", 1)[1]
    return jwt.decode(token, options={"verify_signature": False})["sub"]


def bind_identity(client, headers: dict[str, str], name: str, id_number: str) -> dict[str, Any]:
    """Bind the caller's account to a real person (实名). The person must already be on the platform
    (`register_person`). Returns the identity response body."""
    if _has_route(client, "/v1/me/identity", "PUT"):
        resp = client.http.put("/v1/me/identity", headers=headers,
                               body=json.dumps({"name": name, "id_number": id_number}))
        assert resp.status_code == 200, resp.body
        return json.loads(resp.body)
    return _bind_directly(account_id_of(headers), name, id_number)


def _bind_directly(account_id: str, name: str, id_number: str) -> dict[str, Any]:
    from chalicelib import deps
    from chalicelib.adapters import keys
    from chalicelib.adapters.clock import iso
    from chalicelib.adapters.dynamodb import TxOp
    from chalicelib.domain.resident_id import mask, parse_resident_id

    clock, cipher, table = deps.clock(), deps.cipher(), deps.table()
    rid = parse_resident_id(id_number, clock.today())
    person = deps.platform().find_person(rid.number)
    assert person is not None and person.name == name, "register_person() the person first"
    id_hash, id_enc = cipher.lookup_hash(rid.number), cipher.encrypt(rid.number, "id_number")
    now = iso(clock.now())
    table.transact([
        TxOp.put({**keys.identity_binding(id_hash), "account_id": account_id, "created_at": now}),
        TxOp.put({**keys.person(id_hash), "id_hash": id_hash, "id_enc": id_enc, "name": name,
                  "birth_date": rid.birth_date.isoformat(), "sex": rid.sex, "region_code": rid.region_code},
                 condition=None),
        TxOp.update_item(keys.account(account_id),
                         "SET person_hash = :h, person_name = :n, id_enc = :e, birth_date = :b, sex = :s",
                         condition="attribute_exists(PK) AND attribute_not_exists(person_hash)",
                         values={":h": id_hash, ":n": name, ":e": id_enc, ":b": rid.birth_date.isoformat(),
                                 ":s": rid.sex}),
    ])
    return {"person_id": id_hash, "name": name, "id_number_masked": mask(rid.number),
            "birth_date": rid.birth_date.isoformat(), "sex": rid.sex,
            "basic_insurance": {"type": person.basic_type, "city": person.city, "status": person.status}}


# ---- composite set-ups -------------------------------------------------------------------------------------------
class Member:
    """A logged-in member whose identity is bound: `headers`, `id_number`, `name`, `phone`, `account_id`."""

    def __init__(self, client, phone: str, name: str, id_number: str) -> None:
        self.phone, self.name, self.id_number = phone, name, id_number
        self.headers = login(client, phone)
        self.account_id = account_id_of(self.headers)


def new_member(client, phone: str, name: str, id_number: str | None = None, bind: bool = True,
               **platform_fields: Any) -> Member:
    """Register `name` on the platform (see register_person for fields), log in with `phone`, bind identity."""
    id_number = id_number or new_id()
    register_person(name, id_number, **platform_fields)
    member = Member(client, phone, name, id_number)
    if bind:
        bind_identity(client, member.headers, name, id_number)
    return member


def id_hash(id_number: str) -> str:
    from chalicelib import deps

    return deps.cipher().lookup_hash(id_number)


def write_policy(insured_id: str, insured_name: str, payer_account_id: str, *, plan_id: str = "lishui-2021",
                 payer_id: str | None = None, insured_member_id: str | None = None, status: str = "active",
                 paid_at: str = "2021-04-15T10:00:00+08:00", benefit_start: str = "2021-10-15",
                 coverage_end: str = "2021-12-31", waiting_rule: str = "late_six_months",
                 payment_method: str = "wechat_pay", premium_fen: int = 15900, auto_renew: bool = False,
                 version: int = 1, **fields: Any) -> str:
    """Put a Policy item (and its cover marker) exactly as docs/access-patterns.md shapes it (every field the Policy
    model requires), for tests of features that read policies. Returns the policy id."""
    from chalicelib import deps
    from chalicelib.adapters import keys
    from chalicelib.adapters.dynamodb import TxOp

    cipher, table = deps.cipher(), deps.table()
    policy_id = _reference("P")
    insured_hash = cipher.lookup_hash(insured_id)
    item = {**keys.policy(policy_id), **keys.gsi_person(insured_hash, f"POLICY#{plan_id}"),
            **keys.gsi_account(payer_account_id, f"POLICY#{plan_id}#{policy_id}"),
            "policy_id": policy_id, "plan_id": plan_id, "order_id": _reference("O"),
            "insured_hash": insured_hash, "insured_name": insured_name,
            "insured_id_enc": cipher.encrypt(insured_id, "id_number"), "insured_member_id": insured_member_id,
            "payer_account_id": payer_account_id, "payer_hash": cipher.lookup_hash(payer_id) if payer_id else None,
            "payment_method": payment_method, "premium_fen": premium_fen, "status": status, "paid_at": paid_at,
            "benefit_start": benefit_start, "coverage_end": coverage_end, "waiting_rule": waiting_rule,
            "auto_renew": auto_renew, "ytd_deductible_used_fen": 0, "ytd_eligible_fen": 0, "ytd_paid_fen": 0,
            "version": version, "created_at": paid_at, "county": "331102", **fields}
    ops = [TxOp.put(item)]
    if status == "active":
        ops.append(TxOp.put({**keys.cover_marker(plan_id, insured_hash), "plan_id": plan_id, "state": "issued",
                             "policy_id": policy_id}))
    table.transact(ops)
    return policy_id


def _reference(prefix: str) -> str:
    """A random id that can never look like an ID number (no run of 17+ digits) to the leak checks."""
    h = uuid.uuid4().hex.upper()
    return f"{prefix}{h[:10]}X{h[10:20]}"


# ---- the order use cases on the repositories' in-memory twins (tests/services/conftest.py `twins`) ---------------
class TwinWorld:
    """The repositories' in-memory twins sharing one MemoryStore (so one transaction spans orders, policies,
    idempotency records and disclosure counters), with the local stage's simulators from `deps` (医保 platform,
    WeChat Pay, cipher, sandbox clock). No table: `order_ports()` is what `deps.order_ports()` answers while it runs."""

    def __init__(self) -> None:
        from chalicelib.adapters.repositories.accounts import InMemoryAccountRepository
        from chalicelib.adapters.repositories.disclosure import InMemoryDisclosureCounters
        from chalicelib.adapters.repositories.family import InMemoryFamilyRepository
        from chalicelib.adapters.repositories.idempotency import InMemoryIdempotencyRepository
        from chalicelib.adapters.repositories.memory import MemoryStore
        from chalicelib.adapters.repositories.orders import InMemoryOrderRepository
        from chalicelib.adapters.repositories.policies import InMemoryPolicyRepository

        self.store = MemoryStore()
        self.orders, self.policies = InMemoryOrderRepository(self.store), InMemoryPolicyRepository(self.store)
        self.accounts, self.family = InMemoryAccountRepository(self.store), InMemoryFamilyRepository(self.store)
        self.idempotency = InMemoryIdempotencyRepository(self.store)
        self.counters = InMemoryDisclosureCounters(self.store)

    def order_ports(self):
        from chalicelib import deps
        from chalicelib.services.orders.ports import OrderPorts

        return OrderPorts(table=None, platform=deps.platform(), wechat=deps.wechat_pay(), cipher=deps.cipher(),
                          orders=self.orders, policies=self.policies)

    def family_ports(self):
        from chalicelib import deps
        from chalicelib.services.family import FamilyPorts

        return FamilyPorts(family=self.family, covers=self.orders, cipher=deps.cipher(), platform=deps.platform())

    # What the moto tests read with deps.table().get(...): the item the DynamoDB repository stores for the model
    # (its keys and index entries included), or None.
    def order_item(self, order_id: str) -> dict[str, Any] | None:
        from chalicelib.adapters.repositories.orders import order_item

        order = self.orders.get(order_id)
        return order_item(order) if order is not None else None

    def cover_item(self, plan_id: str, id_hash: str) -> dict[str, Any] | None:
        from chalicelib.adapters.repositories.orders import cover_item

        found = self.orders.covers([(plan_id, id_hash)]).get((plan_id, id_hash))
        return cover_item(found, id_hash) if found is not None else None

    def policy_item(self, policy_id: str) -> dict[str, Any] | None:
        from chalicelib.adapters.repositories.policies import policy_item

        policy = self.policies.get(policy_id)
        return policy_item(policy) if policy is not None else None


class FamilyRelatives:
    """What both test families (over HTTP in tests/orders_support.py, on the twins here) share: adding a relative who
    is known to the simulated platform, remembered by label. Each family says how a member is added."""

    members: dict[str, str]  # label → member id
    ids: dict[str, str]  # label → ID number

    def add_member(self, name: str, id_number: str, relationship: str) -> str:
        raise NotImplementedError

    def relative(self, label: str, relationship: str = "spouse", basic_type: str = "employee", city: str = "331100",
                 born: date = date(1982, 5, 5), **platform_fields: Any) -> str:
        id_number = new_id("331102", born)
        name = {"spouse": "李秀英", "child": "王小明", "parent": "王德福"}.get(relationship, "王亲属") + label[-1:]
        register_person(name, id_number, city=city, basic_type=basic_type, **platform_fields)
        member_id = self.add_member(name, id_number, relationship)
        self.members[label], self.ids[label] = member_id, id_number
        return member_id


class TwinFamily(FamilyRelatives):
    """tests/orders_support.Family on the twins: the same payer (an employee in 丽水 paying from the personal
    account, identity bound) and relatives, registered on the simulated platform and written through the twins
    (the account as identity binding leaves it; members through services/family.add_member)."""

    def __init__(self, world: TwinWorld, phone: str = "13800000001", current_fen: int = 50000,
                 prior_years_fen: int = 100000, name: str = "王建国", **payer_fields: Any) -> None:
        from chalicelib import deps
        from chalicelib.domain.account import Account
        from chalicelib.domain.resident_id import parse_resident_id
        from chalicelib.services.people import ID_NUMBER_CONTEXT

        self.world = world
        self.id_number = new_id("331102", date(1980, 3, 1))
        self.person = register_person(name, self.id_number, current_fen=current_fen,
                                      prior_years_fen=prior_years_fen, **payer_fields)
        cipher, rid = deps.cipher(), parse_resident_id(self.id_number, deps.clock().today())
        id_hash = cipher.lookup_hash(self.id_number)
        self.account_id = f"acct-{phone}"
        self.account = Account(account_id=self.account_id, login_channel="phone", phone=phone, person_hash=id_hash,
                               person_name=name, id_enc=cipher.encrypt(self.id_number, ID_NUMBER_CONTEXT,
                                                                       record=id_hash),
                               birth_date=rid.birth_date.isoformat(), sex=rid.sex,
                               created_at=deps.clock().now().isoformat())
        assert world.accounts.create(self.account, "phone", phone)
        self.members: dict[str, str] = {}  # label → member id
        self.ids: dict[str, str] = {"self": self.id_number}

    def add_member(self, name: str, id_number: str, relationship: str) -> str:
        from chalicelib import deps
        from chalicelib.services import family

        return family.add_member(self.world.family_ports(), self.account, name, id_number, relationship,
                                 deps.clock().now()).member_id

    def balances(self, label: str = "self") -> dict[str, Any]:
        from chalicelib import deps

        return deps.platform().statement(self.ids[label])


def current_twins() -> TwinWorld:
    """The TwinWorld the running test's `twins` fixture installed (deps.order_ports is its order_ports)."""
    from chalicelib import deps

    world = getattr(deps.order_ports, "__self__", None)
    assert isinstance(world, TwinWorld), "the test needs the twins fixture"
    return world
