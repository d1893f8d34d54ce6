"""Composition root: builds each port lazily on first use and caches it for the life of the process.

Deployed stages get real adapters; the local stage gets simulators. Tests replace any port with `override`.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.config import get_settings

_lock = threading.RLock()
_instances: dict[str, Any] = {}
_factories: dict[str, Callable[[], Any]] = {}


def provider(name: str):
    """Register the factory of a port. Factories import their adapter modules lazily."""

    def register(fn: Callable[[], Any]) -> Callable[[], Any]:
        _factories[name] = fn
        return fn

    return register


def get(name: str) -> Any:
    inst = _instances.get(name)
    if inst is not None:
        return inst
    with _lock:
        inst = _instances.get(name)
        if inst is None:
            inst = _factories[name]()
            _instances[name] = inst
    return inst


def override(name: str, instance: Any) -> None:
    with _lock:
        _instances[name] = instance


def reset() -> None:
    """Forget every built port (tests; settings changes)."""
    with _lock:
        _instances.clear()


# ---- factories --------------------------------------------------------------------------------------------------
@provider("clock")
def _clock():
    from chalicelib.adapters.clock import SandboxClock, SystemClock

    return SandboxClock() if get_settings().is_local else SystemClock()


@provider("table")
def _table():
    from chalicelib.adapters.dynamodb import Table, dynamodb_client

    s = get_settings()
    return Table(dynamodb_client(s.region), s.table_name)


def clock():
    return get("clock")


def table():
    return get("table")


@provider("cipher")
def _cipher():
    from chalicelib.adapters.crypto import FieldCipher, kms_field_cipher

    s = get_settings()
    wrapped = s.wrapped_data_key
    if s.kms_key_id and wrapped:
        return kms_field_cipher(s.kms_key_id, wrapped, s.id_hash_key, s.region)
    if s.id_data_key is None:
        raise RuntimeError("no ID data key: set HMB_WRAPPED_DATA_KEY (KMS) or HMB_ID_DATA_KEY")
    return FieldCipher(s.id_data_key, s.id_hash_key)


def cipher():
    return get("cipher")


@provider("platform")
def _platform():
    s = get_settings()
    if s.medical_platform_url:
        from chalicelib.adapters.medical_platform_http import HttpPlatform

        return HttpPlatform(s.medical_platform_url, app_id=s.medical_platform_app_id)
    if not s.is_local:
        raise RuntimeError("HMB_MEDICAL_PLATFORM_URL is required outside the local stage")
    from chalicelib.adapters.medical_platform import SimulatedPlatform

    return SimulatedPlatform(clock())


def platform():
    return get("platform")


# ---- ports owned by feature modules (each factory imports its adapter lazily) ----------------------------------
@provider("sms")
def _sms():
    if get_settings().is_local:
        from chalicelib.adapters.sms import SimulatedSms

        return SimulatedSms(clock())
    from chalicelib.adapters.sms import HttpSmsGateway

    return HttpSmsGateway.from_env(get_settings())


@provider("wechat_login")
def _wechat_login():
    if get_settings().is_local:
        from chalicelib.adapters.wechat_login import SimulatedWeChatLogin

        return SimulatedWeChatLogin()
    from chalicelib.adapters.wechat_login import WeChatLogin

    return WeChatLogin(get_settings())


@provider("wechat_pay")
def _wechat_pay():
    if get_settings().is_local:
        from chalicelib.adapters.wechat_pay import simulated_wechat_pay

        return simulated_wechat_pay(get_settings(), clock())
    from chalicelib.adapters.wechat_pay import WeChatPay

    return WeChatPay.from_env(get_settings())


@provider("documents")
def _documents():
    from chalicelib.adapters.documents import S3Documents

    return S3Documents(get_settings())


@provider("notifications")
def _notifications():
    if get_settings().is_local:
        from chalicelib.adapters.notifications import RecordingNotifier

        return RecordingNotifier(clock())
    from chalicelib.adapters.notifications import WeChatSubscribeNotifier, openids_from_table
    from chalicelib.adapters.wechat_token import SharedAccessToken, TableTokenStore

    s = get_settings()
    tokens = SharedAccessToken(s.wechat_appid, s.wechat_app_secret, store=TableTokenStore(table()))
    return WeChatSubscribeNotifier.from_env(s, tokens=tokens, openid_of=openids_from_table(table()))


def sms():
    return get("sms")


def wechat_login():
    return get("wechat_login")


def wechat_pay():
    return get("wechat_pay")


def documents():
    return get("documents")


@provider("list_uploads")
def _list_uploads():
    from chalicelib.adapters.list_uploads import S3ListUploads

    return S3ListUploads(get_settings())


def list_uploads():
    return get("list_uploads")


def notifications():
    return get("notifications")


@provider("payouts")
def _payouts():
    s = get_settings()
    if s.payout_url:
        from chalicelib.adapters.payout_http import HttpPayouts

        return HttpPayouts(s.payout_url, payout_secret())
    if not s.is_local:
        raise RuntimeError("HMB_PAYOUT_URL is required outside the local stage")
    from chalicelib.adapters.payout import SimulatedPayouts

    return SimulatedPayouts(clock())


def payouts():
    return get("payouts")


def payout_secret() -> bytes:
    """The secret shared with the payout gateway (HMB_PAYOUT_SECRET); a development one in the local stage."""
    from chalicelib.adapters.payout_http import LOCAL_SECRET

    secret = get_settings().get("HMB_PAYOUT_SECRET")
    if secret:
        return secret.encode()
    if not get_settings().is_local:
        raise RuntimeError("HMB_PAYOUT_SECRET is required outside the local stage")
    return LOCAL_SECRET


@provider("job_queue")
def _job_queue():
    from chalicelib.adapters.job_queue import SqsJobQueue, sqs_client

    s = get_settings()
    client = sqs_client(s.region)
    if s.jobs_queue_url:
        return SqsJobQueue(client, s.jobs_queue_url, s.jobs_dead_letter_url)
    if not s.is_local:
        raise RuntimeError("HMB_JOBS_QUEUE_URL is required outside the local stage")
    return SqsJobQueue.local(client)


def job_queue():
    return get("job_queue")


# ---- use-case port bundles ------------------------------------------------------------------------------------
def claim_ports():
    """The complete ports of the claim use cases (services.claims), over the table and this process's adapters."""
    from chalicelib.adapters.repositories.calendar import DynamoCalendarRepository
    from chalicelib.adapters.repositories.claims import DynamoClaimRepository
    from chalicelib.adapters.repositories.payees import DynamoPayees
    from chalicelib.services.claims.claimants import TableClaimants
    from chalicelib.services.claims.ports import ClaimPorts

    t = table()
    claims = DynamoClaimRepository(t)
    return ClaimPorts(claims=claims, claimants=TableClaimants(access_ports(), claims),
                      calendar=DynamoCalendarRepository(t), documents=documents(), notifier=notifications(),
                      cipher=cipher(), platform=platform(), payouts=payouts(), payees=DynamoPayees(t))


def order_ports():
    """Everything the order, payment, cancellation and reconciliation use cases need."""
    from chalicelib.adapters.repositories.orders import OrderRepository
    from chalicelib.adapters.repositories.policies import PolicyRepository
    from chalicelib.services.orders.ports import OrderPorts

    return OrderPorts(table=table(), platform=platform(), wechat=wechat_pay(), cipher=cipher(),
                      orders=OrderRepository(table()), policies=PolicyRepository(table()), accounts=accounts(),
                      grants=grants(), idempotency=idempotency_records())


def fanout_ports(jobs: Mapping[str, Any]):
    """The fan-out's ports over a job registry (chalicelib/jobs.py's, or the one job whose runs a use case starts).
    Locally a failed item is retried at once (the sandbox drains the queue as it goes)."""
    from chalicelib.observability import logger
    from chalicelib.services.fanout import FanoutPorts

    local = get_settings().is_local
    return FanoutPorts(table=table(), queue=job_queue(), clock=clock(), jobs=jobs, log=logger(), runs=job_runs(),
                       retry_delay_seconds=(lambda attempt: 0) if local else (lambda attempt: min(900, 30 * attempt)))


def bulk_ports():
    """Everything the bulk enrolment use cases need (services.bulk), its runs started on the fan-out."""
    from chalicelib.adapters.repositories.bulk import BulkRepository
    from chalicelib.adapters.repositories.orders import OrderRepository
    from chalicelib.adapters.repositories.policies import PolicyRepository
    from chalicelib.services import bulk

    t = table()
    return bulk.BulkPorts(table=t, platform=platform(), cipher=cipher(), wechat=wechat_pay(),
                          batches=BulkRepository(t), orders=OrderRepository(t), policies=PolicyRepository(t),
                          uploads=list_uploads(), idempotency=idempotency_records(),
                          runs=bulk.FanoutRuns(job_runs(), lambda: fanout_ports({bulk.JOB: bulk.job(bulk_ports)})))


def accounts():
    """The accounts repository (accounts, logins, identity bindings) over the table."""
    from chalicelib.adapters.repositories.accounts import AccountRepository

    return AccountRepository(table())


def family_ports():
    """Ports of the family-member use cases (services.family)."""
    from chalicelib.adapters.repositories.family import FamilyRepository
    from chalicelib.adapters.repositories.orders import OrderRepository
    from chalicelib.services.family import FamilyPorts

    return FamilyPorts(family=FamilyRepository(table()), covers=OrderRepository(table()), cipher=cipher(),
                       platform=platform())


def policy_ports():
    """Ports of reading policies and switching their auto-renewal (services.policies)."""
    from chalicelib.adapters.repositories.family import FamilyRepository
    from chalicelib.adapters.repositories.policies import PolicyRepository
    from chalicelib.services.policies import PolicyPorts

    return PolicyPorts(policies=PolicyRepository(table()), accounts=accounts(), family=FamilyRepository(table()),
                       grants=grants(), cipher=cipher(), platform=platform())


def identity_ports():
    """The stores of the login, binding and "who am I" use cases (services.identity)."""
    from chalicelib.adapters.repositories.claims import DynamoClaimRepository
    from chalicelib.adapters.repositories.family import FamilyRepository
    from chalicelib.adapters.repositories.policies import PolicyRepository
    from chalicelib.adapters.repositories.sms_codes import SmsCodeRepository
    from chalicelib.services.identity import IdentityPorts

    t = table()
    return IdentityPorts(accounts=accounts(), sms_codes=SmsCodeRepository(t), family=FamilyRepository(t),
                         grants=grants(), policies=PolicyRepository(t), claims=DynamoClaimRepository(t),
                         cipher=cipher())


def disclosure_counters():
    """The disclosure counters (the public report's read model) over the table."""
    from chalicelib.adapters.repositories.disclosure import DynamoDisclosureCounters

    return DynamoDisclosureCounters(table())


def job_runs():
    """The fan-out job run records over the table."""
    from chalicelib.adapters.repositories.job_runs import JobRunRepository

    return JobRunRepository(table())


def grants():
    """The authorisations (亲友代办) repository over the table."""
    from chalicelib.adapters.repositories.grants import DynamoGrantRepository

    return DynamoGrantRepository(table())


def idempotency_records():
    """The idempotency records (API.md Idempotency-Key) over the table."""
    from chalicelib.adapters.repositories.idempotency import IdempotencyRepository

    return IdempotencyRepository(table())


def access_ports():
    """The access rule's repositories (services.access): accounts, policies, authorisations."""
    from chalicelib.adapters.repositories.policies import PolicyRepository
    from chalicelib.services.access import AccessRepositories

    return AccessRepositories(accounts=accounts(), policies=PolicyRepository(table()), grants=grants())


def estimate_ports():
    """Ports of an estimate for a policy (services.estimates); called only when a policy is named."""
    from chalicelib.adapters.repositories.policies import PolicyRepository
    from chalicelib.services.estimates import EstimatePorts

    return EstimatePorts(accounts=accounts(), policies=PolicyRepository(table()), grants=grants(),
                         platform=platform(), cipher=cipher())


# ---- account security: rate limits and the captcha (issue #10) -------------------------------------------------
@provider("rate_limiter")
def _rate_limiter():
    from chalicelib.adapters.rate_limits import DynamoRateLimiter

    return DynamoRateLimiter(table())


def rate_limiter():
    return get("rate_limiter")


@provider("captcha")
def _captcha():
    s = get_settings()
    if s.is_local:
        from chalicelib.adapters.captcha import SimulatedCaptcha

        return SimulatedCaptcha()
    from chalicelib.adapters.captcha import HttpCaptcha

    return HttpCaptcha(*s.require("HMB_CAPTCHA_URL", "HMB_CAPTCHA_SECRET"))


def captcha():
    return get("captcha")
