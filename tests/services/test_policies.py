"""services/policies.py on the in-memory twins (policies, accounts, family members, grants) with the simulated 医保
platform: who sees which policy, and auto-renewal consent under a concurrent change. No table."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from chalicelib.adapters.clock import CHINA_TZ, SandboxClock
from chalicelib.api.auth import Principal
from chalicelib.domain.account import Account
from chalicelib.domain.errors import NotFound
from chalicelib.domain.family import FamilyMember
from chalicelib.domain.grant import Grant
from chalicelib.services import policies
from chalicelib.services.people import ID_NUMBER_CONTEXT
from tests.contract.test_repositories import a_policy
from tests.helpers import new_id

NOW = datetime(2021, 11, 1, 10, 0, tzinfo=CHINA_TZ)


@pytest.fixture()
def world():
    """王建国 (acc-wang, bound, employee in 丽水) bought POL-CHILD for his son 王小明 (his family member) and holds his
    own POL-SELF; 王小明's grandmother-side phone 13900000003 holds a `view` grant from the son; acc-stranger is
    nobody's."""
    from chalicelib.adapters.crypto import FieldCipher
    from chalicelib.adapters.medical_platform import SimulatedPlatform
    from chalicelib.adapters.repositories.accounts import InMemoryAccountRepository
    from chalicelib.adapters.repositories.family import InMemoryFamilyRepository
    from chalicelib.adapters.repositories.grants import InMemoryGrantRepository
    from chalicelib.adapters.repositories.policies import InMemoryPolicyRepository
    from chalicelib.domain.platform import PlatformPerson

    cipher, platform = FieldCipher(b"d" * 32, b"h" * 32), SimulatedPlatform(SandboxClock(NOW))
    ports = policies.PolicyPorts(policies=InMemoryPolicyRepository(), accounts=InMemoryAccountRepository(),
                                 family=InMemoryFamilyRepository(), grants=InMemoryGrantRepository(),
                                 cipher=cipher, platform=platform)
    me_id, son_id = new_id(), new_id(born=date(2010, 6, 1))
    for name, number in (("王建国", me_id), ("王小明", son_id)):
        platform.register(PlatformPerson(id_number=number, name=name, city="331100", basic_type="employee",
                                         status="active"), current_fen=50000, prior_years_fen=50000)
    me_hash, son_hash = cipher.lookup_hash(me_id), cipher.lookup_hash(son_id)
    for account in (Account(account_id="acc-wang", login_channel="phone", phone="13900000001", person_hash=me_hash,
                            person_name="王建国", id_enc=cipher.encrypt(me_id, ID_NUMBER_CONTEXT, record=me_hash)),
                    Account(account_id="acc-grandma", login_channel="wechat", phone="13900000003"),
                    Account(account_id="acc-stranger", login_channel="phone", phone="13900000009")):
        ports.accounts.create(account, "phone", account.phone)
    ports.family.add(FamilyMember(member_id="M1", account_id="acc-wang", id_hash=son_hash, id_enc="-", name="王小明",
                                  relationship="child", birth_date="2010-06-01", sex="male", created_at="2021-01-01"))
    ports.grants.add(Grant(authorization_id="A1", grantor_hash=son_hash, grantor_account_id="acc-son",
                           grantee_phone="13900000003", scopes=["view"], created_at="2021-01-01T10:00:00+08:00"))
    for policy_id, insured_hash, number, name in (("POL-SELF", me_hash, me_id, "王建国"),
                                                 ("POL-CHILD", son_hash, son_id, "王小明")):
        ports.policies.save(a_policy(policy_id, payer="acc-wang", insured_hash=insured_hash).model_copy(
            update={"insured_name": name, "insured_id_enc": cipher.encrypt(number, ID_NUMBER_CONTEXT),
                    "payer_hash": me_hash, "account_source": "current"}))
    return ports


def member(account_id: str) -> Principal:
    return Principal("member", account_id)


def test_the_payer_sees_what_they_bought_and_a_view_grant_shows_the_grantors_policy_only(world):
    mine = policies.list_policies(world, member("acc-wang"))
    granted = policies.list_policies(world, member("acc-grandma"))

    assert sorted(v.policy_id for v in mine) == ["POL-CHILD", "POL-SELF"]
    assert {v.policy_id: v.payer["relationship"] for v in mine} == {"POL-SELF": "self", "POL-CHILD": "child"}
    assert [(v.policy_id, v.roles) for v in granted] == [("POL-CHILD", ["view"])]
    assert granted[0].insured["name"] != "王小明"  # masked for anyone but the insured
    assert policies.list_policies(world, member("acc-stranger")) == []


def test_a_stranger_is_answered_as_if_the_policy_did_not_exist(world):
    with pytest.raises(NotFound) as refused:
        policies.policy_detail(world, member("acc-stranger"), "POL-SELF")

    assert refused.value.code == "POLICY_NOT_FOUND"


def test_consent_on_a_policy_that_changed_meanwhile_is_re_read_and_stored(world):
    bumped = []
    real = world.policies.switch_auto_renew

    def claim_paid_first(policy, **kw):
        if not bumped:  # a claim payment moves the version between our read and our write
            bumped.append(True)
            world.policies.save(world.policies.get(policy.policy_id).model_copy(update={"version": 5}))
        return real(policy, **kw)

    world.policies.switch_auto_renew = claim_paid_first

    view = policies.set_auto_renewal(world, member("acc-wang"), "POL-SELF", True, NOW)

    assert view.auto_renew is True and view.auto_renew_consent["payer_is_me"] is True
    stored = world.policies.get("POL-SELF")
    assert (stored.version, stored.auto_renew_consent["account_source"]) == (6, "current")


def test_withdrawing_consent_records_the_stop_and_who_gave_it(world):
    policies.set_auto_renewal(world, member("acc-wang"), "POL-SELF", True, NOW)

    view = policies.set_auto_renewal(world, member("acc-wang"), "POL-SELF", False, NOW)

    assert view.auto_renew is False and view.auto_renew_consent is None
    assert [(e["event"], e["by"]) for e in view.renewal["history"]] == [("consent", "me"), ("stop", "me")]
