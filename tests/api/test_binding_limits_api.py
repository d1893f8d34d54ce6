"""Binding that proves the person (issue #10 item 1): guesses are limited per account and per ID number; a proof
from the 医保 platform binds even while guessing is throttled and recovers an ID another account bound."""
import json
import logging
from datetime import datetime

import pytest

from chalicelib import deps
from chalicelib.adapters import keys
from chalicelib.adapters.clock import CHINA_TZ
from chalicelib.domain import limits
from tests.helpers import account_id_of, id_hash, login, new_id, register_person

NOW = datetime(2021, 4, 15, 10, 0, tzinfo=CHINA_TZ)
WRONG_NAMES = ["李一", "李二", "李三", "李四", "李五", "李六", "李七", "李八", "李九", "李十", "李甲", "李乙"]


@pytest.fixture(autouse=True)
def _fixed_time(clock):
    clock.set(NOW)


def _bind(client, headers, name, id_number, **extra):
    return client.http.put("/v1/me/identity", headers=headers,
                           body=json.dumps({"name": name, "id_number": id_number, **extra}))


def _proof(client, headers, id_number):
    return client.http.post("/v1/me/identity/proof", headers=headers, body=json.dumps({"id_number": id_number}))


def _code(id_number):
    return deps.platform().last_proof(id_number)["code"]


def _register(name, id_number, phone="13800138000"):
    register_person(name, id_number)
    deps.platform().set_phone(id_number, phone)


def test_one_account_guessing_names_for_one_id_is_throttled_with_retry_after(client):
    victim = new_id()
    _register("张三", victim)
    headers = login(client, "13900000001")

    answers = [_bind(client, headers, name, victim) for name in WRONG_NAMES]

    statuses = [a.status_code for a in answers]
    per_account = limits.BIND_GUESSES_PER_ACCOUNT.limit
    assert statuses == [422] * per_account + [429] * (len(WRONG_NAMES) - per_account)
    throttled = answers[-1]
    body = json.loads(throttled.body)
    assert body["code"] == "RATE_LIMITED"
    assert body["details"]["retry_after"] == int(throttled.headers["Retry-After"]) > 0
    # Throttled for guessing: even the right name now waits (the proof is the way through)
    assert _bind(client, headers, "张三", victim).status_code == 429


def test_guesses_spread_over_many_accounts_are_throttled_per_id_number(client):
    victim = new_id()
    _register("张三", victim)
    statuses = []
    for i, name in enumerate(WRONG_NAMES * 2):
        headers = login(client, f"139000001{i:02d}")
        statuses.append(_bind(client, headers, name, victim).status_code)

    per_id = limits.BIND_GUESSES_PER_ID.limit
    assert statuses == [422] * per_id + [429] * (len(statuses) - per_id)


def test_a_throttled_guess_logs_a_security_event_without_personal_data(client, caplog):
    victim = new_id()
    _register("张三", victim)
    headers = login(client, "13900000001")
    caplog.set_level(logging.INFO)
    for name in WRONG_NAMES[:limits.BIND_GUESSES_PER_ACCOUNT.limit + 1]:
        _bind(client, headers, name, victim)

    events = [r for r in caplog.records if getattr(r, "security_event", None) == "identity_bind_throttled"]
    assert len(events) == 1
    logged = caplog.text
    for secret in (victim, "张三", "13900000001", id_hash(victim), account_id_of(headers)):
        assert secret not in logged


def test_the_proof_is_sent_to_the_phone_the_platform_holds(client):
    person = new_id()
    _register("张三", person, phone="13800138000")
    headers = login(client, "13900000001")

    sent = _proof(client, headers, person)

    assert sent.status_code == 202, sent.body
    assert json.loads(sent.body) == {"sent_to": "138****8000"}


def test_a_person_without_a_phone_on_record_cannot_get_a_proof(client):
    person = new_id()
    register_person("张三", person)
    resp = _proof(client, login(client, "13900000001"), person)
    assert (resp.status_code, json.loads(resp.body)["code"]) == (422, "IDENTITY_PROOF_NO_PHONE")


def test_a_valid_proof_binds_even_while_guessing_is_throttled_for_that_id(client):
    person = new_id()
    _register("张三", person)
    for i, name in enumerate(WRONG_NAMES):  # strangers exhaust the guesses for this ID
        _bind(client, login(client, f"139000002{i:02d}"), name, person)
    owner = login(client, "13800138000")
    assert _bind(client, owner, "张三", person).status_code == 429

    assert _proof(client, owner, person).status_code == 202
    resp = _bind(client, owner, "张三", person, proof_code=_code(person))

    assert resp.status_code == 200, resp.body
    assert json.loads(resp.body)["name"] == "张三"


def test_a_wrong_proof_code_is_refused_before_the_name_is_checked(client):
    person = new_id()
    _register("张三", person)
    headers = login(client, "13900000001")
    _proof(client, headers, person)
    wrong = "000000" if _code(person) != "000000" else "111111"

    resp = _bind(client, headers, "王五", person, proof_code=wrong)

    assert (resp.status_code, json.loads(resp.body)["code"]) == (422, "IDENTITY_PROOF_INVALID")


def test_a_proof_recovers_an_id_bound_by_another_account(client):
    person = new_id()
    _register("张三", person)
    impostor = login(client, "13900000001")
    assert _bind(client, impostor, "张三", person).status_code == 200
    grant = client.http.post("/v1/authorizations", headers=impostor,
                             body=json.dumps({"grantee_phone": "13700000001", "scopes": ["view", "claims"]}))
    assert grant.status_code == 201, grant.body
    owner = login(client, "13800138000")
    refused = _bind(client, owner, "张三", person)
    assert (refused.status_code, json.loads(refused.body)["code"]) == (409, "IDENTITY_ALREADY_BOUND")

    _proof(client, owner, person)
    resp = _bind(client, owner, "张三", person, proof_code=_code(person))

    assert resp.status_code == 200, resp.body
    table = deps.table()
    assert table.get(keys.identity_binding(id_hash(person)))["account_id"] == account_id_of(owner)
    impostor_account = table.get(keys.account(account_id_of(impostor)))
    assert "person_hash" not in impostor_account and "id_enc" not in impostor_account
    assert json.loads(client.http.get("/v1/me", headers=impostor).body)["identity"] is None
    grant_item = table.get(keys.authorization(json.loads(grant.body)["authorization_id"]))
    assert grant_item["status"] == "revoked"
    told = deps.notifications().sent(account_id_of(impostor))
    assert [n.template for n in told] == ["identity_unbound"]


def test_proof_sends_are_limited_so_nobody_floods_a_persons_phone(client):
    person = new_id()
    _register("张三", person)
    headers = login(client, "13900000001")
    statuses = [_proof(client, headers, person).status_code for _ in range(limits.PROOF_SENDS_PER_ACCOUNT.limit + 1)]
    assert statuses[-1] == 429 and statuses[:-1] == [202] * limits.PROOF_SENDS_PER_ACCOUNT.limit


def test_rebinding_the_same_person_is_not_counted_as_a_guess(client):
    person = new_id()
    _register("张三", person)
    headers = login(client, "13900000001")
    statuses = [_bind(client, headers, "张三", person).status_code for _ in range(8)]
    assert statuses == [200] * 8


def test_a_token_for_an_account_that_does_not_exist_is_refused_on_every_route(client):
    from chalicelib.api.auth import issue_member_token

    headers = {"Authorization": f"Bearer {issue_member_token('no-such-account')[0]}"}
    for path in ("/v1/orders", "/v1/me", "/v1/policies", "/v1/claims"):
        resp = client.http.get(path, headers=headers)
        assert (resp.status_code, json.loads(resp.body)["code"]) == (401, "TOKEN_INVALID"), path


def test_policies_bought_with_the_persons_own_account_money_pass_to_the_person(client):
    from tests.helpers import write_policy

    person = new_id()
    _register("张三", person)
    impostor = login(client, "13900000001")
    assert _bind(client, impostor, "张三", person).status_code == 200
    own_money = write_policy(person, "张三", account_id_of(impostor), payer_id=person,
                             payment_method="personal_account", auto_renew=True, GSI4PK="RENEWAL#lishui-2022",
                             GSI4SK=f"{account_id_of(impostor)}#x")
    wallet = write_policy(person, "张三", account_id_of(impostor), plan_id="lishui-2022", payer_id=person,
                          payment_method="wechat_pay")
    owner = login(client, "13800138000")
    _proof(client, owner, person)

    assert _bind(client, owner, "张三", person, proof_code=_code(person)).status_code == 200

    table = deps.table()
    moved = table.get(keys.policy(own_money))
    assert (moved["payer_account_id"], moved["GSI2PK"], moved["auto_renew"]) == (
        account_id_of(owner), f"ACCOUNT#{account_id_of(owner)}", False)
    assert "GSI4PK" not in moved
    assert table.get(keys.policy(wallet))["payer_account_id"] == account_id_of(impostor)


def test_claims_the_other_account_filed_for_the_person_go_to_staff_review(client, clock):
    from chalicelib.domain.messages import MESSAGES
    from tests import claim_helpers as ch
    from tests.helpers import write_policy

    clock.set(ch.NOW)
    person = new_id()
    _register("张三", person)
    impostor = login(client, "13900000001")
    assert _bind(client, impostor, "张三", person).status_code == 200
    policy = write_policy(person, "张三", account_id_of(impostor), benefit_start="2021-07-16",
                          coverage_end="2021-12-31")
    claim_ids = []
    for day in ("2021-10-18", "2021-10-19", "2021-10-20"):
        status, body = ch.submit(client, impostor, policy, bills=[{**ch.BILL, "service_date": day}])
        assert status == 201, body
        claim_ids.append(body["claim_id"])
    waiting, asked, decided = claim_ids
    assert ch.review(client, asked, "need_more_info", reason="请补充发票")[0] == 200
    assert ch.review(client, decided, "reject", reason="不在保障范围")[0] == 200

    owner = login(client, "13800138000")
    _proof(client, owner, person)
    assert _bind(client, owner, "张三", person, proof_code=_code(person)).status_code == 200

    assert [ch.stored_claim(c)["status"] for c in claim_ids] == ["under_review", "under_review", "rejected"]
    status, file = ch.call(client, "GET", f"/v1/admin/claims/{waiting}", ch.staff())
    assert status == 200, file
    assert file["timeline"][-1]["note"] == MESSAGES["CLAIM_NOTE_IDENTITY_RECOVERED"]
