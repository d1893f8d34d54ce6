"""services/identity.py on the in-memory twins (accounts, SMS codes, family, grants, policies, claims) with the
simulated 医保 platform and SMS gateway: login, binding and recovery rules. No table."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from chalicelib.adapters.clock import CHINA_TZ, SandboxClock
from chalicelib.domain.errors import Conflict, TooManyRequests, Unauthorized
from chalicelib.services import identity
from tests.contract.test_repositories import a_policy
from tests.helpers import new_id

NOW = datetime(2021, 4, 15, 10, 0, tzinfo=CHINA_TZ)
PHONE = "13800138000"


@pytest.fixture()
def world():
    from types import SimpleNamespace

    from chalicelib.adapters.crypto import FieldCipher
    from chalicelib.adapters.medical_platform import SimulatedPlatform
    from chalicelib.adapters.notifications import RecordingNotifier
    from chalicelib.adapters.rate_limits import MemoryRateLimiter
    from chalicelib.adapters.repositories.accounts import InMemoryAccountRepository
    from chalicelib.adapters.repositories.claims import InMemoryClaimRepository
    from chalicelib.adapters.repositories.family import InMemoryFamilyRepository
    from chalicelib.adapters.repositories.grants import InMemoryGrantRepository
    from chalicelib.adapters.repositories.policies import InMemoryPolicyRepository
    from chalicelib.adapters.repositories.sms_codes import InMemorySmsCodeRepository
    from chalicelib.adapters.sms import SimulatedSms

    clock = SandboxClock(NOW)
    ports = identity.IdentityPorts(accounts=InMemoryAccountRepository(), sms_codes=InMemorySmsCodeRepository(),
                                   family=InMemoryFamilyRepository(), grants=InMemoryGrantRepository(),
                                   policies=InMemoryPolicyRepository(), claims=InMemoryClaimRepository(),
                                   cipher=FieldCipher(b"d" * 32, b"h" * 32))
    return SimpleNamespace(ports=ports, platform=SimulatedPlatform(clock), sms=SimulatedSms(clock),
                           limiter=MemoryRateLimiter(), notifier=RecordingNotifier(clock))


def login(world, phone: str = PHONE, at: datetime = NOW) -> str:
    identity.send_login_code(world.ports, world.sms, phone, at)
    return identity.verify_login_code(world.ports, phone, world.sms.last(phone).code, at)


def person(world, name: str = "王建国", phone: str | None = "13700137000") -> str:
    from chalicelib.domain.platform import PlatformPerson

    id_number = new_id()
    world.platform.register(PlatformPerson(id_number=id_number, name=name, city="331100", basic_type="employee",
                                           status="active"))
    if phone:
        world.platform.set_phone(id_number, phone)
    return id_number


def bind(world, account_id: str, name: str, id_number: str, proof_code: str | None = None):
    return identity.bind_identity(world.ports, world.platform, world.limiter, account_id, name, id_number, NOW,
                                  proof_code=proof_code, notifier=world.notifier)


def test_a_code_logs_in_once_and_the_same_phone_is_the_same_account(world):
    first = login(world)
    code = world.sms.last(PHONE).code

    with pytest.raises(Unauthorized) as used:
        identity.verify_login_code(world.ports, PHONE, code, NOW)
    assert used.value.code == "SMS_CODE_EXPIRED"
    assert login(world, at=NOW + timedelta(minutes=2)) == first


def test_a_second_code_within_the_minute_is_refused(world):
    identity.send_login_code(world.ports, world.sms, PHONE, NOW)

    with pytest.raises(TooManyRequests) as refused:
        identity.send_login_code(world.ports, world.sms, PHONE, NOW + timedelta(seconds=20))
    assert (refused.value.code, refused.value.details["retry_after"]) == ("SMS_TOO_FREQUENT", 40)


def test_the_fifth_wrong_code_voids_it(world):
    identity.send_login_code(world.ports, world.sms, PHONE, NOW)
    right = world.sms.last(PHONE).code
    wrong = "000000" if right != "000000" else "111111"
    for attempts_left in (4, 3, 2, 1):
        with pytest.raises(Unauthorized) as refused:
            identity.verify_login_code(world.ports, PHONE, wrong, NOW)
        assert refused.value.details["attempts_left"] == attempts_left

    with pytest.raises(TooManyRequests):
        identity.verify_login_code(world.ports, PHONE, wrong, NOW)
    with pytest.raises(TooManyRequests):
        identity.verify_login_code(world.ports, PHONE, right, NOW)


def test_binding_is_idempotent_and_a_person_bound_elsewhere_needs_a_proof(world):
    mine, other = login(world), login(world, "13900139000")
    id_number = person(world)

    bound = bind(world, mine, "王建国", id_number)
    assert bind(world, mine, "王建国", id_number) == bound
    with pytest.raises(Conflict) as refused:
        bind(world, other, "王建国", id_number)
    assert (refused.value.code, refused.value.details["proof_available"]) == ("IDENTITY_ALREADY_BOUND", True)


def test_a_proof_takes_the_person_back_with_the_policies_bought_with_their_money(world):
    impostor, owner = login(world, "13900139000"), login(world)
    id_number = person(world)
    bind(world, impostor, "王建国", id_number)
    id_hash = world.ports.cipher.lookup_hash(id_number)
    world.ports.policies.save(a_policy("POL1", payer=impostor, insured_hash=id_hash).model_copy(
        update={"payer_hash": id_hash}))
    world.platform.send_identity_proof(id_number)
    code = world.platform.proofs[id_number]["code"]

    bind(world, owner, "王建国", id_number, proof_code=code)

    assert world.ports.accounts.bound_account(id_hash) == owner
    assert world.ports.accounts.get(impostor).person_hash is None
    assert world.ports.policies.get("POL1").payer_account_id == owner
    assert [n.template for n in world.notifier.sent(impostor)] == ["identity_unbound"]
    assert identity.overview(world.ports, owner)["identity"]["person_id"] == identity.person_id_for(id_hash)
