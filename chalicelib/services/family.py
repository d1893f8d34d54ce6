"""Family members (家庭成员): relatives a member adds so they can buy cover for them.

A relative is a real person: the ID number must be valid and the 医保 platform must know them under the given name.
The answer tells, per plan open today, whether the relative can be covered and how the member could pay for them.
Each (account, person) pair is stored once: the member id is derived from it, so the conditional put of the member
item is the uniqueness check (no separate marker, no read-then-write).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from chalicelib.adapters.clock import CHINA_TZ, iso
from chalicelib.adapters.repositories.family import FamilyStore
from chalicelib.domain.account import Account
from chalicelib.domain.enrolment_rules import (
    RELATIONSHIP_ZH,
    benefit_start,
    check_eligible,
    check_plan_open,
    payment_methods_for,
)
from chalicelib.domain.errors import (
    Conflict,
    NotFound,
    RuleViolation,
)
from chalicelib.domain.family import FamilyMember
from chalicelib.domain.identity import normalise_name
from chalicelib.domain.messages import message_for
from chalicelib.domain.plan import Plan
from chalicelib.domain.platform import PlatformPerson
from chalicelib.domain.resident_id import mask, parse_resident_id
from chalicelib.services.people import (  # noqa: F401 (ID_NUMBER_CONTEXT, find_platform_person re-exported)
    ID_NUMBER_CONTEXT,
    find_platform_person,
    verified_platform_person,
)

MAX_FAMILY_MEMBERS = 20  # abuse guard: far above any real household, far below a scraping run
# Each check asks the 医保 platform about a named person: a daily quota per account (deleting members does not give
# checks back), so the endpoint cannot be used to probe who is insured where.
MEMBER_CHECKS_PER_DAY = 30
RELATIONSHIPS = tuple(RELATIONSHIP_ZH)


@dataclass(frozen=True)
class PlanOption:
    """Whether a person can be covered by one open plan, and how the member could pay."""

    plan_id: str
    plan_name: str
    can_enrol: bool
    already_covered: bool
    payment_methods: list[str] = field(default_factory=list)
    reason_code: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class FamilyMemberView:
    """A member as GET /v1/family-members shows them: ID masked, what the platform says today, the plans."""

    member_id: str
    name: str
    id_number_masked: str
    relationship: str
    birth_date: date
    sex: str
    created_at: str
    basic_insurance: dict[str, str]
    plans: list[PlanOption]


# ---- shared by the member-facing services ----------------------------------------------------------------------
def open_plans(today: date) -> list[Plan]:
    from chalicelib.plans import all_plans

    return [plan for plan in all_plans().values() if plan.status_on(today) == "open"]


def member_id_for(cipher, account_id: str, id_hash: str) -> str:
    """Stable per (account, person); reveals neither. Adding the same relative twice lands on the same item."""
    return "M" + cipher.lookup_hash(f"{account_id}:{id_hash}", purpose="family_member")[:20].upper()


class CoverReader(Protocol):
    def covers(self, people: list[tuple[str, str]]) -> dict[tuple[str, str], Any]: ...


@dataclass(frozen=True)
class FamilyPorts:
    """What the family-member use cases need (chalicelib/deps.py family_ports builds it)."""

    family: FamilyStore
    covers: CoverReader  # the cover markers (the orders repository)
    cipher: Any  # adapters.crypto.FieldCipher
    platform: Any  # the 医保 platform port


def load_member(family: FamilyStore, account_id: str, member_id: str) -> FamilyMember:
    """One of the caller's family members, or 404 MEMBER_NOT_FOUND (also for another account's member id)."""
    member = family.get(account_id, member_id)
    if member is None:
        raise NotFound("MEMBER_NOT_FOUND", member_id=member_id)
    return member


# ---- use cases -------------------------------------------------------------------------------------------------
def add_member(ports: FamilyPorts, account: Account, name_raw: str, id_raw: str, relationship: str,
               now: datetime) -> FamilyMemberView:
    """POST /v1/family-members."""
    family, cipher, platform = ports.family, ports.cipher, ports.platform
    my_hash = account.bound_person()
    today = now.astimezone(CHINA_TZ).date()
    name = normalise_name(name_raw)
    resident = parse_resident_id(id_raw, today)
    id_hash = cipher.lookup_hash(resident.number)
    if id_hash == my_hash:
        raise RuleViolation("MEMBER_IS_SELF", field="id_number")
    _take_member_check(family, account.account_id, now)
    relative = verified_platform_person(platform, resident.number, name, field="id_number")
    account_id = account.account_id
    if len(family.members(account_id)) >= MAX_FAMILY_MEMBERS:
        raise RuleViolation("FAMILY_MEMBER_LIMIT", limit=MAX_FAMILY_MEMBERS)
    member_id = member_id_for(cipher, account_id, id_hash)
    member = FamilyMember(member_id=member_id, account_id=account_id, id_hash=id_hash,
                          id_enc=cipher.encrypt(resident.number, ID_NUMBER_CONTEXT, record=id_hash),
                          name=relative.name, relationship=relationship, birth_date=resident.birth_date.isoformat(),
                          sex=resident.sex, created_at=iso(now))
    if not family.add(member):
        raise Conflict("MEMBER_ALREADY_ADDED", field="id_number", member_id=member_id)
    payer = find_platform_person(platform, cipher.decrypt(account.id_enc, ID_NUMBER_CONTEXT,
                                                          record=account.person_hash))
    options = enrolment_options(ports.covers, open_plans(today), payer, [(member, relative)], today)
    return _present(member, resident.number, relative, options[member_id])


def _take_member_check(family: FamilyStore, account_id: str, now: datetime) -> None:
    from chalicelib.domain.errors import TooManyRequests

    day = now.astimezone(CHINA_TZ).date()
    if not family.take_check(account_id, day.isoformat(), MEMBER_CHECKS_PER_DAY, now):
        raise TooManyRequests("FAMILY_MEMBER_CHECKS_PER_DAY", limit=MEMBER_CHECKS_PER_DAY,
                              retry_after=_seconds_to_midnight(now))


def _seconds_to_midnight(now: datetime) -> int:
    from datetime import time, timedelta

    local = now.astimezone(CHINA_TZ)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=CHINA_TZ)
    return max(1, int((midnight - local).total_seconds()))


def list_members(ports: FamilyPorts, account: Account, now: datetime) -> list[FamilyMemberView]:
    """GET /v1/family-members: the caller's relatives with what the platform says about them today."""
    members = ports.family.members(account.account_id)
    if not members:
        return []
    return _with_options(ports, account, members, now)


def get_member(ports: FamilyPorts, account: Account, member_id: str, now: datetime) -> FamilyMemberView:
    member = load_member(ports.family, account.account_id, member_id)
    return _with_options(ports, account, [member], now)[0]


def remove_member(ports: FamilyPorts, account_id: str, member_id: str) -> None:
    """DELETE /v1/family-members/{id}. Policies already bought for the relative stay as they are."""
    if not ports.family.remove(account_id, member_id):
        raise NotFound("MEMBER_NOT_FOUND", member_id=member_id)


def enrolment_options(covers: CoverReader, plans: list[Plan], payer: PlatformPerson | None,
                      people: Iterable[tuple[FamilyMember, PlatformPerson | None]],
                      today: date) -> dict[str, list[PlanOption]]:
    """Per member id: for each plan, can they be covered (DOMAIN §2, §4.7), are they already, how to pay (§3).
    One BatchGetItem reads every cover marker."""
    people = list(people)
    covered = covers.covers([(plan.plan_id, member.id_hash) for member, _ in people for plan in plans])
    return {member.member_id: [_option(plan, payer, person, member, (plan.plan_id, member.id_hash) in covered, today)
                               for plan in plans]
            for member, person in people}


# ---- helpers ---------------------------------------------------------------------------------------------------
def _option(plan: Plan, payer: PlatformPerson | None, person: PlatformPerson | None, member: FamilyMember,
            already_covered: bool, today: date) -> PlanOption:
    base = {"plan_id": plan.plan_id, "plan_name": plan.name, "already_covered": already_covered}
    who = member.name
    if already_covered:
        return PlanOption(**base, can_enrol=False, reason_code="ALREADY_COVERED",
                          reason=message_for("ALREADY_COVERED", who=who, plan_name=plan.name))
    if person is None:  # the platform no longer knows them (e.g. moved away and deregistered)
        return PlanOption(**base, can_enrol=False, reason_code="PERSON_NOT_FOUND_IN_PLATFORM",
                          reason=message_for("PERSON_NOT_FOUND_IN_PLATFORM"))
    try:
        check_plan_open(plan, today)
        check_eligible(plan, person, who=who)
        benefit_start(plan, person, today, renewal_without_gap=False, who=who)
    except RuleViolation as refusal:
        return PlanOption(**base, can_enrol=False, reason_code=refusal.code, reason=refusal.message)
    return PlanOption(**base, can_enrol=True,
                      payment_methods=payment_methods_for(plan, payer, person, member.relationship))


def _with_options(ports: FamilyPorts, account: Account, members: list[FamilyMember],
                  now: datetime) -> list[FamilyMemberView]:
    cipher, platform = ports.cipher, ports.platform
    today = now.astimezone(CHINA_TZ).date()
    numbers = {m.member_id: cipher.decrypt(m.id_enc, ID_NUMBER_CONTEXT, record=m.id_hash) for m in members}
    people = {member_id: find_platform_person(platform, number) for member_id, number in numbers.items()}
    payer = (find_platform_person(platform, cipher.decrypt(account.id_enc, ID_NUMBER_CONTEXT,
                                                           record=account.person_hash))
             if account.id_enc else None)
    options = enrolment_options(ports.covers, open_plans(today), payer, [(m, people[m.member_id]) for m in members], today)
    return [_present(m, numbers[m.member_id], people[m.member_id], options[m.member_id])
            for m in sorted(members, key=lambda m: m.created_at)]


def _present(member: FamilyMember, id_number: str, person: PlatformPerson | None,
             plans: list[PlanOption]) -> FamilyMemberView:
    basic = ({"type": person.basic_type, "city": person.city, "status": person.status} if person
             else {"type": "unknown", "city": "", "status": "unknown"})
    return FamilyMemberView(member_id=member.member_id, name=member.name, id_number_masked=mask(id_number),
                            relationship=member.relationship, birth_date=date.fromisoformat(member.birth_date),
                            sex=member.sex, created_at=member.created_at, basic_insurance=basic, plans=plans)
