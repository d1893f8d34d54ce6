"""services/family.py on the in-memory twins (family members, cover markers) with the simulated 医保 platform: rules
that the HTTP tests do not show. The one round-trip count runs on moto."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from chalicelib.adapters.clock import CHINA_TZ, SandboxClock
from chalicelib.domain.errors import RuleViolation
from tests.helpers import new_id, new_member, write_policy

NOW = datetime(2021, 4, 15, 10, 0, tzinfo=CHINA_TZ)


@pytest.fixture()
def ports():
    """The family ports over the twins: no table."""
    from chalicelib.adapters.crypto import FieldCipher
    from chalicelib.adapters.medical_platform import SimulatedPlatform
    from chalicelib.adapters.repositories.family import InMemoryFamilyRepository
    from chalicelib.adapters.repositories.orders import InMemoryOrderRepository
    from chalicelib.services.family import FamilyPorts

    return FamilyPorts(family=InMemoryFamilyRepository(), covers=InMemoryOrderRepository(),
                       cipher=FieldCipher(b"d" * 32, b"h" * 32), platform=SimulatedPlatform(SandboxClock(NOW)))


def register_person(ports, name, id_number, prior_years_fen=0):
    from chalicelib.domain.platform import PlatformPerson

    ports.platform.register(PlatformPerson(id_number=id_number, name=name, city="331100", basic_type="employee",
                                           status="active"), prior_years_fen=prior_years_fen)


@pytest.fixture()
def account(ports):
    """A bound member (张三) with personal-account money, as identity binding leaves the account."""
    from chalicelib.domain.account import Account
    from chalicelib.services.people import ID_NUMBER_CONTEXT

    id_number = new_id()
    register_person(ports, "张三", id_number, prior_years_fen=100000)
    id_hash = ports.cipher.lookup_hash(id_number)
    return Account(account_id="acc-zhang", login_channel="phone", phone="13600000001", person_hash=id_hash,
                   person_name="张三", id_enc=ports.cipher.encrypt(id_number, ID_NUMBER_CONTEXT, record=id_hash),
                   birth_date="1980-01-01", sex="male")


def add(ports, account, name, id_number, relationship="child"):
    from chalicelib.services import family

    return family.add_member(ports, account, name, id_number, relationship, NOW)


def test_the_stored_name_is_the_platforms_spelling(ports, account):
    child_id = new_id(born=date(2010, 6, 1))
    register_person(ports, "Alice·Zhang", child_id)

    member = add(ports, account, "alice•zhang", child_id)  # typed with a bullet and lower case

    assert member.name == "Alice·Zhang"


def test_the_member_id_is_stable_for_a_person_and_private_to_the_account(ports, account):
    from chalicelib.services.family import member_id_for

    cipher = ports.cipher
    person = cipher.lookup_hash(new_id())
    other_account_id = "acc-qian"

    assert member_id_for(cipher, account.account_id, person) == member_id_for(cipher, account.account_id, person)
    assert member_id_for(cipher, account.account_id, person) != member_id_for(cipher, other_account_id, person)
    assert person not in member_id_for(cipher, account.account_id, person)


def test_identity_is_required_before_anything_else(ports):
    from chalicelib.domain.account import Account

    with pytest.raises(RuleViolation) as refused:
        Account(account_id="a1").bound_person()
    assert refused.value.code == "IDENTITY_REQUIRED"
    assert Account(account_id="a1", person_hash="h").bound_person() == "h"


def test_every_cover_marker_is_read_in_one_round_trip(client, clock):
    """On the table (moto): the round trips are DynamoDB's."""
    from chalicelib import deps
    from chalicelib.services import family
    from tests.helpers import register_person as register_on_platform

    clock.set(NOW)
    ports = deps.family_ports()
    account = deps.accounts().get(new_member(client, "13600000001", "张三", prior_years_fen=100000).account_id)
    table = ports.covers.table
    clock.set(datetime(2021, 12, 1, 9, 0, tzinfo=CHINA_TZ))  # two plans on sale
    ids = [new_id(born=date(2000 + n, 1, 1)) for n in range(3)]
    for n, id_number in enumerate(ids):
        register_on_platform(f"张{'一二三'[n]}", id_number)
        add(ports, account, f"张{'一二三'[n]}", id_number)
    write_policy(ids[1], "张二", "someone", plan_id="lishui-2022", benefit_start="2022-01-01",
                 coverage_end="2022-12-31", waiting_rule="in_window")
    calls = []
    real = table.batch_get
    table.batch_get = lambda key_list: calls.append(len(key_list)) or real(key_list)

    members = family.list_members(ports, account, clock.now())

    assert calls == [6]  # 3 relatives × 2 open plans, one BatchGetItem
    covered = {(m.name, p.plan_id) for m in members for p in m.plans if p.already_covered}
    assert covered == {("张二", "lishui-2022")}


def test_a_relative_the_platform_no_longer_knows_is_listed_as_not_enrollable(ports, account):
    from chalicelib.services import family

    child_id = new_id(born=date(2010, 6, 1))
    register_person(ports, "张小", child_id)
    add(ports, account, "张小", child_id)
    del ports.platform.people[child_id]  # e.g. the household moved away and the city deregistered them

    [member] = family.list_members(ports, account, NOW)

    assert member.basic_insurance == {"type": "unknown", "city": "", "status": "unknown"}
    assert [(p.can_enrol, p.reason_code) for p in member.plans] == [(False, "PERSON_NOT_FOUND_IN_PLATFORM")]


def test_a_household_is_limited_to_keep_the_endpoint_from_being_a_lookup_service(ports, account, monkeypatch):
    from chalicelib.services import family

    monkeypatch.setattr(family, "MAX_FAMILY_MEMBERS", 2)
    for n in range(2):
        id_number = new_id(born=date(2001 + n, 1, 1))
        register_person(ports, "张二", id_number)
        add(ports, account, "张二", id_number)
    third = new_id(born=date(2005, 1, 1))
    register_person(ports, "张三三", third)

    with pytest.raises(RuleViolation) as refused:
        add(ports, account, "张三三", third)
    assert refused.value.code == "FAMILY_MEMBER_LIMIT"


def test_removing_a_member_leaves_their_policy_and_cover_marker(client, clock):
    """On the table (moto): the member, the policy and the cover marker are items of one table."""
    from chalicelib import deps
    from chalicelib.adapters import keys
    from chalicelib.services import family
    from tests.helpers import register_person as register_on_platform

    clock.set(NOW)
    ports = deps.family_ports()
    account = deps.accounts().get(new_member(client, "13600000001", "张三", prior_years_fen=100000).account_id)
    table = ports.covers.table
    child_id = new_id(born=date(2010, 6, 1))
    register_on_platform("张小", child_id)
    member = add(ports, account, "张小", child_id)
    policy_id = write_policy(child_id, "张小", account.account_id, insured_member_id=member.member_id)

    family.remove_member(ports, account.account_id, member.member_id)

    assert table.get(keys.policy(policy_id))["status"] == "active"
    assert table.get(keys.cover_marker("lishui-2021", ports.cipher.lookup_hash(child_id))) is not None
