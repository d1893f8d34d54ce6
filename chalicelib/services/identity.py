"""Identity use cases: log in (WeChat mini-program, SMS one-time code), bind the account to a real person (实名认证)
and show who I am.

Every write that must be unique is a conditional write, so concurrent requests cannot create two accounts for one
login, send codes faster than the limit, try a code more than five times, or bind one ID number to two accounts.
Ports are passed in; time comes from the clock port as `now`.
"""
from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from chalicelib.adapters.clock import CHINA_TZ, iso
from chalicelib.adapters.repositories.accounts import (
    AccountStore,
    AlreadyBoundToAnother,
    BindingMoved,
    PersonBoundElsewhere,
)
from chalicelib.adapters.repositories.family import FamilyStore
from chalicelib.adapters.repositories.grants import GrantRepository
from chalicelib.adapters.repositories.sms_codes import SmsCodeStore
from chalicelib.domain.account import Account, BoundPerson, SmsCode
from chalicelib.domain.errors import (
    Conflict,
    RuleViolation,
    TooManyRequests,
    Unauthorized,
    UpstreamUnavailable,
)
from chalicelib.domain.identity import (
    SMS_CODE_LENGTH,
    SMS_CODE_VALIDITY,
    SMS_MAX_WRONG_ATTEMPTS,
    SMS_RESEND_INTERVAL,
    check_sms_code_shape,
    normalise_name,
    parse_phone,
)
from chalicelib.domain.resident_id import mask, parse_resident_id
from chalicelib.services.people import ID_NUMBER_CONTEXT, verified_platform_person

CHANNEL_WECHAT = "wechat"
CHANNEL_PHONE = "phone"


@dataclass(frozen=True)
class IdentityPorts:
    """What the login, binding and "who am I" use cases keep (chalicelib/deps.py identity_ports builds it). The
    outside ports — SMS gateway, WeChat login, the 医保 platform, the rate limiter, the notifier — are passed to the
    use case that talks to them, so a login never builds the platform's client nor a binding the SMS gateway's."""

    accounts: AccountStore
    sms_codes: SmsCodeStore
    family: FamilyStore
    grants: GrantRepository
    policies: Any  # adapters.repositories.policies.PolicyRepository (for_insured, transfer_payer) or its twin
    claims: Any  # adapters.repositories.claims.DynamoClaimRepository (recovery sends claims to review)
    cipher: Any  # adapters.crypto.FieldCipher


def person_id_for(id_hash: str) -> str:
    """The opaque, stable id a client sees for a real person — derived from the keyed hash, never the ID number."""
    return "P" + id_hash[:20].upper()


# ---- accounts ------------------------------------------------------------------------------------------------
def account_for_login(accounts: AccountStore, channel: str, subject: str, now: datetime) -> str:
    """The account that logs in with this openid/phone, created on first login.

    The login marker and the account are put in one transaction, both conditional on not existing: two concurrent
    first logins make one account, and the loser reads the winner's marker.
    """
    existing = accounts.by_login(channel, subject)
    if existing is not None:
        return existing
    account = Account(account_id=uuid.uuid4().hex, created_at=iso(now), login_channel=channel,
                      **{("phone" if channel == CHANNEL_PHONE else "openid"): subject})
    if accounts.create(account, channel, subject):
        return account.account_id
    winner = accounts.by_login(channel, subject)
    if winner is None:  # the account id collided, not the login: impossible with uuid4, but never guess
        raise Conflict("IDEMPOTENCY_IN_FLIGHT")
    return winner


def account_id_by_login(accounts: AccountStore, channel: str, subject: str) -> str | None:
    """The account that logs in with this openid/phone, if it ever logged in (e.g. an authorisation's grantee)."""
    return accounts.by_login(channel, subject)


def load_account(accounts: AccountStore, account_id: str) -> Account:
    account = accounts.get(account_id)
    if account is None:  # a validly signed token for an account that no longer exists
        raise Unauthorized("TOKEN_INVALID")
    return account


# ---- WeChat login --------------------------------------------------------------------------------------------
def login_with_wechat(ports: IdentityPorts, wechat, code: str, now: datetime) -> str:
    """wx.login code → account id (the route issues the session token)."""
    from chalicelib.adapters.wechat_login import WeChatCodeRejected, WeChatUnavailable

    try:
        session = wechat.code_to_session(code)
    except WeChatCodeRejected:
        raise Unauthorized("WECHAT_CODE_INVALID", field="code") from None
    except WeChatUnavailable:
        raise UpstreamUnavailable("WECHAT_LOGIN_UNAVAILABLE") from None
    return account_for_login(ports.accounts, CHANNEL_WECHAT, session.openid, now)


# ---- SMS login -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CodeSent:
    expires_in: int
    resend_after: int


def _code_hash(cipher, phone: str, code: str) -> str:
    return cipher.lookup_hash(f"{phone}:{code}", purpose="sms")


@dataclass(frozen=True)
class LoginGuard:
    """What guards SMS login against abuse: the rate-limit port, the captcha port, the caller's address (source
    IP) and captcha ticket, and the stage's ceilings (config.py)."""

    limiter: Any
    captcha: Any
    address: str
    captcha_ticket: str | None
    settings: Any


def _guard_send(guard: LoginGuard | None, cipher, phone: str, now: datetime) -> None:
    """Per address (challenge, then 429), overall (sharded), per phone per day."""
    if guard is None:
        return
    from chalicelib.domain import limits as L
    from chalicelib.services.limits import refused, security_event, take

    s, epoch = guard.settings, int(now.timestamp())
    address = cipher.lookup_hash(guard.address, purpose="addr")
    per_address = L.sms_sends_per_address(s.sms_address_limit_per_hour)
    verdict = take(guard.limiter, per_address, address, epoch, "sms_send_throttled")
    if verdict.count > s.sms_address_challenge_per_hour:
        if not guard.captcha_ticket or not guard.captcha.verify(guard.captcha_ticket, guard.address):
            security_event("sms_send_challenged", scope=per_address.scope)
            from chalicelib.domain.errors import ChallengeRequired

            raise ChallengeRequired("CHALLENGE_REQUIRED", field="captcha_ticket")
    shard = L.global_shard("sms_global", s.sms_global_per_minute)
    verdict = guard.limiter.hit(shard, f"shard{secrets.randbelow(L.GLOBAL_SHARDS)}", epoch)
    if not verdict.allowed:
        raise refused(verdict, shard, "sms_global_throttled")
    take(guard.limiter, L.SMS_SENDS_PER_PHONE_PER_DAY, cipher.lookup_hash(phone, purpose="phone"), epoch,
         "sms_send_throttled")


def _guard_verify(guard: LoginGuard | None, cipher, phone: str, now: datetime) -> None:
    if guard is None:
        return
    from chalicelib.domain import limits as L
    from chalicelib.services.limits import refused, take

    s, epoch = guard.settings, int(now.timestamp())
    take(guard.limiter, L.sms_verifies_per_address(s.sms_verify_address_limit_per_hour),
         cipher.lookup_hash(guard.address, purpose="addr"), epoch, "sms_verify_throttled")
    shard = L.global_shard("sms_verify_global", 4 * s.sms_global_per_minute)
    verdict = guard.limiter.hit(shard, f"shard{secrets.randbelow(L.GLOBAL_SHARDS)}", epoch)
    if not verdict.allowed:
        raise refused(verdict, shard, "sms_verify_global_throttled")
    take(guard.limiter, L.SMS_VERIFIES_PER_PHONE_PER_DAY, cipher.lookup_hash(phone, purpose="phone"), epoch,
         "sms_verify_throttled")


def send_login_code(ports: IdentityPorts, sms, phone_raw: str, now: datetime,
                    guard: LoginGuard | None = None) -> CodeSent:
    """Send a fresh 6-digit code: at most one a minute per phone; it replaces any earlier code. With a guard, also
    within the per-address, overall and per-phone daily limits (428 CHALLENGE_REQUIRED / 429 RATE_LIMITED)."""
    from chalicelib.adapters.sms import SmsUnavailable

    phone, cipher = parse_phone(phone_raw), ports.cipher
    _guard_send(guard, cipher, phone, now)
    code = f"{secrets.randbelow(10 ** SMS_CODE_LENGTH):0{SMS_CODE_LENGTH}d}"
    code_hash = _code_hash(cipher, phone, code)
    sent = int(now.timestamp())
    resend = int(SMS_RESEND_INTERVAL.total_seconds())
    valid_until = sent + int(SMS_CODE_VALIDITY.total_seconds())
    codes = ports.sms_codes
    if not codes.issue(SmsCode(phone=phone, code_hash=code_hash, sent_at=iso(now), sent_epoch=sent,
                               valid_until=valid_until), resend_before=sent - resend):
        current = codes.get(phone)
        wait = current.sent_epoch + resend - sent if current else 1
        raise TooManyRequests("SMS_TOO_FREQUENT", field="phone", retry_after=min(resend, max(1, wait)))
    try:
        sms.send_code(phone, code, valid_minutes=int(SMS_CODE_VALIDITY.total_seconds() // 60))
    except SmsUnavailable:
        # Undo our own record only, so the member may retry at once instead of waiting a minute for nothing.
        codes.withdraw(phone, code_hash)
        raise UpstreamUnavailable("SMS_UNAVAILABLE") from None
    return CodeSent(expires_in=valid_until - sent, resend_after=resend)


def verify_login_code(ports: IdentityPorts, phone_raw: str, code_raw: str, now: datetime,
                      guard: LoginGuard | None = None) -> str:
    """Check a code and log in (account id). Success consumes the code; the fifth wrong try voids it. With a guard,
    guesses are also limited per address, overall and per phone per day."""
    phone = parse_phone(phone_raw)
    code = check_sms_code_shape(code_raw)
    codes, cipher = ports.sms_codes, ports.cipher
    _guard_verify(guard, cipher, phone, now)
    live = codes.get(phone)
    if live is None or int(now.timestamp()) >= live.valid_until:
        raise Unauthorized("SMS_CODE_EXPIRED", field="code")
    if live.attempts >= SMS_MAX_WRONG_ATTEMPTS:
        raise TooManyRequests("SMS_CODE_LOCKED", field="code")
    # Every write below is conditional on the very code we read still being live, so concurrent tries cannot
    # exceed the limit nor use a code twice.
    if hmac.compare_digest(live.code_hash, _code_hash(cipher, phone, code)):
        if not codes.consume(phone, live.code_hash, SMS_MAX_WRONG_ATTEMPTS):  # used, replaced or voided meanwhile
            raise Unauthorized("SMS_CODE_EXPIRED", field="code")
        return account_for_login(ports.accounts, CHANNEL_PHONE, phone, now)
    attempts = codes.count_wrong(phone, live.code_hash, SMS_MAX_WRONG_ATTEMPTS)
    if attempts is None:
        raise TooManyRequests("SMS_CODE_LOCKED", field="code")
    attempts_left = SMS_MAX_WRONG_ATTEMPTS - attempts
    if attempts_left <= 0:
        raise TooManyRequests("SMS_CODE_LOCKED", field="code")
    raise Unauthorized("SMS_CODE_WRONG", field="code", attempts_left=attempts_left)


# ---- identity binding (实名) ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class BasicInsurance:
    type: str
    city: str
    status: str


@dataclass(frozen=True)
class BoundIdentity:
    person_id: str
    name: str
    id_number_masked: str
    birth_date: date
    sex: str
    basic_insurance: BasicInsurance


def bind_identity(ports: IdentityPorts, platform, limiter, account_id: str, name_raw: str, id_raw: str,
                  now: datetime, proof_code: str | None = None, notifier=None) -> BoundIdentity:
    """Bind the caller's account to the real person with this name and ID number. Idempotent for the same person.

    Without a proof each attempt is a guess, limited per account and per ID number (429 RATE_LIMITED). With a
    proof (the code the 医保 platform texted to the person's phone) the proof is checked first — before the name,
    so a made-up code cannot be used to test names past the limit — and then binds even while guessing is throttled,
    and takes the ID back from another account that bound it (`_recover`).
    """
    from chalicelib.domain import limits as L
    from chalicelib.services.limits import security_event, take

    cipher = ports.cipher
    name = normalise_name(name_raw)
    resident = parse_resident_id(id_raw, now.astimezone(CHINA_TZ).date())
    id_hash = cipher.lookup_hash(resident.number)
    account = load_account(ports.accounts, account_id)
    if account.person_hash not in (None, id_hash):
        raise Conflict("IDENTITY_ALREADY_SET")
    epoch = int(now.timestamp())
    proven = False
    if proof_code is not None:
        take(limiter, L.PROOF_CHECKS_PER_ID, id_hash, epoch, "identity_proof_throttled")
        if not _proof_valid(platform, resident.number, proof_code):
            security_event("identity_proof_rejected")
            raise RuleViolation("IDENTITY_PROOF_INVALID", field="proof_code")
        proven = True
    elif account.person_hash != id_hash:
        take(limiter, L.BIND_GUESSES_PER_ACCOUNT, account_id, epoch, "identity_bind_throttled")
        take(limiter, L.BIND_GUESSES_PER_ID, id_hash, epoch, "identity_bind_throttled")
    record = verified_platform_person(platform, resident.number, name, unavailable="IDENTITY_CHECK_UNAVAILABLE")
    name = record.name  # the platform's spelling is the person's legal name
    id_enc = cipher.encrypt(resident.number, ID_NUMBER_CONTEXT, record=id_hash)  # bound to the person
    person = BoundPerson(id_hash=id_hash, id_enc=id_enc, name=name, birth_date=resident.birth_date.isoformat(),
                         sex=resident.sex, region_code=resident.region_code)
    try:
        ports.accounts.bind(account_id, person, iso(now))
    except AlreadyBoundToAnother:
        raise Conflict("IDENTITY_ALREADY_SET") from None
    except PersonBoundElsewhere:
        if not proven:
            security_event("identity_bound_elsewhere")
            raise Conflict("IDENTITY_ALREADY_BOUND", proof_available=True) from None
        _recover(ports, notifier, account_id, person, now)
    return BoundIdentity(person_id=person_id_for(id_hash), name=name, id_number_masked=resident.masked,
                         birth_date=resident.birth_date, sex=resident.sex,
                         basic_insurance=BasicInsurance(type=record.basic_type, city=record.city,
                                                        status=record.status))


def _proof_valid(platform, id_number: str, code: str) -> bool:
    from chalicelib.adapters.medical_platform import PlatformError, PlatformUnavailable

    try:
        return platform.check_identity_proof(id_number, code.strip())
    except PlatformUnavailable:
        raise UpstreamUnavailable("IDENTITY_CHECK_UNAVAILABLE") from None
    except PlatformError:
        return False


def _recover(ports: IdentityPorts, notifier, account_id: str, person: BoundPerson, now: datetime) -> None:
    """The person proved who they are: move the binding from the account that holds it to theirs, in one
    transaction conditional on that account still holding it; then revoke the authorisations given in the
    person's name from that account, take back the policies it bought with the person's money, send the claims it
    filed for the person that await a decision to staff review, and tell that account."""
    from chalicelib.services import authorizations
    from chalicelib.services.limits import security_event

    id_hash = person.id_hash
    accounts = ports.accounts
    other = accounts.bound_account(id_hash)
    if other is None or other == account_id:  # freed or taken by us in the meantime: let the caller retry
        raise Conflict("IDEMPOTENCY_IN_FLIGHT")
    at = iso(now)
    try:
        accounts.recover(account_id, other, person, at)
    except AlreadyBoundToAnother:
        raise Conflict("IDENTITY_ALREADY_SET") from None
    except BindingMoved:
        raise Conflict("IDEMPOTENCY_IN_FLIGHT") from None
    revoked = 0
    grants = ports.grants
    grantor = Account(account_id=other, person_hash=id_hash)  # the grants were given as the person
    for grant in grants.given_by(id_hash):
        if grant.active and grant.grantor_account_id == other:
            authorizations.revoke(grants, grantor, grant.authorization_id, now)
            revoked += 1
    moved = _take_back_policies(ports.policies, other, account_id, id_hash, now)
    from chalicelib.services.claims.recovery import send_to_review

    reviewed = send_to_review(ports.claims, id_hash, other, now)
    security_event("identity_recovered", grants_revoked=revoked, policies_transferred=moved,
                   claims_sent_to_review=len(reviewed))
    if notifier is not None:
        notifier.notify(other, "identity_unbound", {"message": message_for_recovered(), "at": at})


def _take_back_policies(policies, other: str, account_id: str, id_hash: str, now: datetime) -> int:
    """Policies the other account bought for this person with the person's own medical-account money become the
    person's (payer = their account). Auto-renewal that account consented to stops: the person decides anew.
    Each move is conditional on the policy still being that account's."""
    moved = 0
    for policy in policies.for_insured(id_hash):
        if (policy.payer_account_id, policy.payer_hash, policy.payment_method) != (
                other, id_hash, "personal_account"):
            continue
        if policies.transfer_payer(policy, account_id, iso(now)):  # False: moved or changed meanwhile
            moved += 1
    return moved


def message_for_recovered() -> str:
    from chalicelib.domain.messages import message_for

    return message_for("IDENTITY_RECOVERED_ELSEWHERE")


@dataclass(frozen=True)
class ProofSent:
    sent_to: str


def send_identity_proof(ports: IdentityPorts, platform, limiter, account_id: str, id_raw: str,
                        now: datetime) -> ProofSent:
    """Ask the 医保 platform to text a one-time code to the phone it holds for this person (POST
    /v1/me/identity/proof). Limited per ID number and per account, so nobody can flood a person's phone."""
    from chalicelib.adapters.medical_platform import NO_PHONE_ON_RECORD, PlatformError, PlatformUnavailable
    from chalicelib.domain import limits as L
    from chalicelib.services.limits import take

    resident = parse_resident_id(id_raw, now.astimezone(CHINA_TZ).date())
    id_hash = ports.cipher.lookup_hash(resident.number)
    load_account(ports.accounts, account_id)
    epoch = int(now.timestamp())
    take(limiter, L.PROOF_SENDS_PER_ACCOUNT, account_id, epoch, "identity_proof_throttled")
    take(limiter, L.PROOF_SENDS_PER_ID, id_hash, epoch, "identity_proof_throttled")
    try:
        return ProofSent(sent_to=platform.send_identity_proof(resident.number))
    except PlatformUnavailable:
        raise UpstreamUnavailable("IDENTITY_PROOF_UNAVAILABLE") from None
    except PlatformError as exc:
        if exc.code == NO_PHONE_ON_RECORD:
            raise RuleViolation("IDENTITY_PROOF_NO_PHONE", field="id_number") from None
        # Unknown person: the same refusal as a wrong name, so this route cannot tell who is insured.
        raise RuleViolation("PERSON_NOT_FOUND_IN_PLATFORM", field="id_number") from None


# ---- who am I ------------------------------------------------------------------------------------------------
def _masked(cipher, id_enc: str | None, person_hash: str | None = None) -> str | None:
    return mask(cipher.decrypt(id_enc, ID_NUMBER_CONTEXT, record=person_hash)) if id_enc else None


def overview(ports: IdentityPorts, account_id: str) -> dict[str, Any]:
    """The caller's account, bound person, family members and authorisations — ID numbers masked."""
    cipher = ports.cipher
    account = load_account(ports.accounts, account_id)
    person_hash = account.person_hash
    identity = None
    if person_hash:
        identity = {"person_id": person_id_for(person_hash), "name": account.person_name,
                    "id_number_masked": _masked(cipher, account.id_enc, person_hash),
                    "birth_date": account.birth_date, "sex": account.sex, "bound_at": account.identity_bound_at}
    members = [{"member_id": m.member_id, "name": m.name, "id_number_masked": _masked(cipher, m.id_enc, m.id_hash),
                "relationship": m.relationship, "birth_date": m.birth_date, "sex": m.sex, "created_at": m.created_at}
               for m in ports.family.members(account_id)]
    return {"account_id": account_id, "created_at": account.created_at, "login_channel": account.login_channel,
            "phone": account.phone, "identity": identity, "family_members": members,
            "authorizations_granted": _granted(ports.grants, person_hash) if person_hash else [],
            "authorizations_held": _held(ports.grants, account.phone) if account.phone else []}


def _granted(grants: GrantRepository, person_hash: str) -> list[dict[str, Any]]:
    """Authorisations the bound person gave, active and revoked."""
    return [{"authorization_id": g.authorization_id, "grantee_phone": g.grantee_phone, "scopes": g.scopes,
             "status": g.status, "created_at": g.created_at, "revoked_at": g.revoked_at}
            for g in grants.given_by(person_hash)]


def _masked_name(name: str | None) -> str | None:
    """Someone else's name, masked as /v1/authorizations shows it (minimum necessary)."""
    from chalicelib.domain.masking import mask_name

    return mask_name(name) if name else None


def _held(grants: GrantRepository, phone: str) -> list[dict[str, Any]]:
    """Active authorisations given to the phone this account logs in with."""
    held = grants.held_by(phone)
    names = grants.grantor_names({g.grantor_hash for g in held})
    return [{"authorization_id": g.authorization_id, "grantor_person_id": person_id_for(g.grantor_hash),
             "grantor_name": _masked_name(names.get(g.grantor_hash)), "scopes": g.scopes,
             "created_at": g.created_at}
            for g in held]
