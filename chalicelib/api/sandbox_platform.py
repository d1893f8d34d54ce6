"""The simulated 医保 platform in the local stage.

Two faces, both backed by the simulator that `deps.platform()` gives the app in the local stage:
- administration for people driving the sandbox: `/sandbox/people`, fault injection, pushing settlement records;
- the platform's own HTTP contract (docs/medical-platform.md) under `/sandbox/platform/...`, HMAC-verified, so
  `HttpPlatform` can be pointed at it (`HMB_MEDICAL_PLATFORM_URL=http://127.0.0.1:8000/sandbox/platform`) and
  the contract tests run the real client against the simulator over HTTP.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal
from urllib.parse import quote

from chalice import Blueprint
from pydantic import BaseModel, Field, field_validator, model_validator

from chalicelib.adapters.medical_platform import (
    FAULT_TIMINGS,
    OPERATIONS,
    PlatformError,
    PlatformUnavailable,
    SimulatedPlatform,
)
from chalicelib.adapters.medical_platform_http import HEADERS as PLATFORM_HEADERS
from chalicelib.api.http import endpoint
from chalicelib.api.sandbox_contract import SimulatedPartner
from chalicelib.api.schemas import RequestModel, ResponseModel
from chalicelib.domain.errors import (
    BadRequest,
    Conflict,
    NotFound,
    RuleViolation,
)
from chalicelib.domain.platform import (
    AccountSource,
    Balances,
    BasicStatus,
    BasicType,
    Deduction,
    DeductionNotice,
    LifeEvent,
    NoticeReceipt,
    NoticeReply,
    PlatformPerson,
    Refund,
    Settlement,
    SscAccount,
    StatementEntry,
)
from chalicelib.domain.resident_id import mask, parse_resident_id
from chalicelib.domain.settlement import NationalSettlement

bp = Blueprint(__name__)

TAGS = ("sandbox",)
PLATFORM_TAGS = ("sandbox: 医保 platform contract",)
CONTRACT_PREFIX = "/sandbox/platform"


# ---- administration ---------------------------------------------------------------------------------------------
class SandboxPersonIn(RequestModel):
    name: str = Field(min_length=1, max_length=30)
    id_number: str
    city: str = Field(pattern=r"^\d{6}$", description="统筹区 division code, e.g. 331100")
    county: str | None = Field(default=None, pattern=r"^\d{6}$")
    basic_type: BasicType
    status: BasicStatus
    basic_start: date | None = None
    restored_on: date | None = None
    account_current_fen: int = Field(default=0, ge=0)
    account_prior_years_fen: int = Field(default=0, ge=0)
    special_groups: list[str] = Field(default_factory=list)
    life_event: LifeEvent | None = None
    phone: str | None = Field(default=None, description="医保平台登记的手机号(身份核验码发往此号)")
    ssc_account: SscAccount | None = Field(default=None, description="社保卡银行账户(免申即享赔款的默认收款账户)")


class SandboxPerson(ResponseModel):
    name: str
    id_number_masked: str
    birth_date: date
    sex: str
    city: str
    county: str | None
    basic_type: BasicType
    status: BasicStatus
    basic_start: date | None
    restored_on: date | None
    special_groups: list[str]
    life_events: list[LifeEvent]
    account_current_fen: int
    account_prior_years_fen: int


class SandboxDeduction(ResponseModel):
    deduction_id: str
    idempotency_key: str
    id_number_masked: str
    source: AccountSource
    amount_fen: int
    status: str
    at: datetime
    reference: str


class SandboxStatement(ResponseModel):
    account_current_fen: int
    account_prior_years_fen: int
    deductions: list[SandboxDeduction]
    refunds: list[Refund]


class FaultIn(RequestModel):
    operation: Literal[OPERATIONS]  # type: ignore[valid-type]
    when: Literal[FAULT_TIMINGS] = "after"  # type: ignore[valid-type]


class Fault(ResponseModel):
    operation: str
    when: str


class SettlementIn(RequestModel):
    """Either our §5 categories (`service_date`, `setting`, `amounts_fen`) or a record in the national 2304 shape
    (`settlement`, amounts as decimal strings in yuan; its service date is `setl_time`'s date)."""

    id_number: str
    service_date: date | None = None
    setting: Literal["inpatient", "outpatient", "special_outpatient"] | None = None
    amounts_fen: dict[str, int] | None = None
    settlement: NationalSettlement | None = None
    settled_at: datetime | None = None  # default: the sandbox clock's now
    settlement_id: str | None = Field(default=None, min_length=1, max_length=64)

    @field_validator("amounts_fen")
    @classmethod
    def _categories(cls, v: dict[str, int] | None) -> dict[str, int] | None:
        """Keys are DOMAIN §5's categories, as `self_pay_fen` (the estimate bill's field names) or `self_pay`."""
        from chalicelib.domain.plan import CATEGORIES

        if v is None:
            return None
        out: dict[str, int] = {}
        for key, amount in v.items():
            category = key.removesuffix("_fen")
            if category not in CATEGORIES:
                raise ValueError(f"unknown category {key!r}")
            if amount < 0:
                raise ValueError(f"{key} must not be negative")
            out[f"{category}_fen"] = out.get(f"{category}_fen", 0) + amount
        return out

    @model_validator(mode="after")
    def _one_shape(self) -> SettlementIn:
        ours = (self.service_date, self.setting, self.amounts_fen)
        if self.settlement is None and None in ours:
            raise ValueError("give service_date, setting and amounts_fen, or a national settlement record")
        if self.settlement is not None and any(v is not None for v in ours):
            raise ValueError("give either our categories or a national settlement record, not both")
        return self


class SandboxSettlement(ResponseModel):
    seq: int
    settlement_id: str
    id_number_masked: str
    service_date: date
    setting: str | None
    amounts_fen: dict[str, int]
    national: NationalSettlement | None
    settled_at: datetime


@endpoint(bp, "/sandbox/people", methods=("POST",), summary="在模拟医保平台登记参保人", auth="sandbox",
          request=SandboxPersonIn, response=SandboxPerson, status=201, tags=TAGS)
def register_person(ctx, body: SandboxPersonIn):
    from chalicelib import deps

    resident = parse_resident_id(body.id_number, deps.clock().today())
    if body.basic_type == "resident" and (body.account_current_fen or body.account_prior_years_fen):
        raise BadRequest("SANDBOX_RESIDENT_HAS_NO_ACCOUNT", field="account_current_fen")
    person = PlatformPerson(
        id_number=resident.number, name=_canonical(body.name), city=body.city, county=body.county,
        basic_type=body.basic_type, status=body.status, basic_start=body.basic_start, restored_on=body.restored_on,
        special_groups=body.special_groups, life_events=[body.life_event] if body.life_event else [],
        ssc_account=body.ssc_account)
    PLATFORM.simulator().register(person, body.account_current_fen, body.account_prior_years_fen)
    _register_phone(person.id_number, body.phone)
    return SandboxPerson(
        **person.model_dump(exclude={"id_number", "suspensions", "ssc_account"}), id_number_masked=resident.masked,
        birth_date=resident.birth_date, sex=resident.sex, account_current_fen=body.account_current_fen,
        account_prior_years_fen=body.account_prior_years_fen)


@endpoint(bp, "/sandbox/people/{id_number}", summary="模拟医保平台中某人的账户余额、扣款与退款", auth="sandbox",
          response=SandboxStatement, tags=TAGS)
def person_statement(ctx, id_number: str):
    simulator = PLATFORM.simulator()
    number = id_number.strip().upper()
    if number not in simulator.people:
        raise PLATFORM.http_error("PERSON_NOT_FOUND")
    statement = simulator.statement(number)
    for deduction in statement["deductions"]:
        deduction["id_number_masked"] = mask(deduction.pop("id_number"))
    return SandboxStatement.model_validate(statement)


@endpoint(bp, "/sandbox/platform/faults", methods=("POST",), summary="让模拟医保平台的下一次调用超时(之前或之后)",
          auth="sandbox", request=FaultIn, response=list[Fault], status=201, tags=TAGS)
def inject_fault(ctx, body: FaultIn):
    simulator = PLATFORM.simulator()
    simulator.fail_next(body.operation, body.when)
    return [Fault(operation=op, when=when) for op, when in list(simulator.faults)]


@endpoint(bp, "/sandbox/settlements", methods=("POST",), summary="模拟医保平台产生一条结算单(免申即享的输入)",
          auth="sandbox", request=SettlementIn, response=SandboxSettlement, status=201, tags=TAGS)
def push_settlement(ctx, body: SettlementIn):
    from chalicelib import deps

    simulator = PLATFORM.simulator()
    number = body.id_number.strip().upper()
    if number not in simulator.people:
        raise PLATFORM.http_error("PERSON_NOT_FOUND")
    national = body.settlement
    if national is not None:
        from chalicelib.domain.settlement import MED_TYPES, service_date

        settlement = Settlement(settlement_id=body.settlement_id or national.setl_id, id_number=number,
                                service_date=service_date(national.setl_time), setting=MED_TYPES.get(national.med_type),
                                national=national, settled_at=body.settled_at or national.setl_time)
    else:
        settlement = Settlement(
            settlement_id=body.settlement_id or f"SET{uuid.uuid4().hex[:20].upper()}", id_number=number,
            service_date=body.service_date, setting=body.setting, amounts_fen=body.amounts_fen,
            settled_at=body.settled_at or deps.clock().now())
    published = simulator.add_settlement(settlement)
    return SandboxSettlement(**published.model_dump(exclude={"id_number"}), id_number_masked=mask(number))


class NoticeReplyIn(RequestModel):
    reply: Literal["stop"] = "stop"


@endpoint(bp, "/sandbox/platform/notices/{idempotency_key}/reply", methods=("POST",),
          summary="参保人通过医保平台渠道回复扣费确认通知(如:停止续保)", auth="sandbox", request=NoticeReplyIn,
          response=NoticeReply, status=201, tags=TAGS)
def reply_to_notice(ctx, idempotency_key: str, body: NoticeReplyIn):
    try:
        return PLATFORM.simulator().reply_to_notice(idempotency_key, body.reply)
    except PlatformError as exc:
        raise PLATFORM.http_error(exc.code) from None


# ---- identity proof (the code the platform texts to the person's phone) ------------------------------------------
def _canonical(name: str) -> str:
    from chalicelib.domain.identity import canonical_name

    return canonical_name(name)


def _register_phone(id_number: str, phone_raw: str | None) -> None:
    from chalicelib.domain.identity import parse_phone

    PLATFORM.simulator().set_phone(id_number, parse_phone(phone_raw) if phone_raw else None)


class SandboxProof(ResponseModel):
    code: str
    sent_to: str


@endpoint(bp, "/sandbox/people/{id_number}/proof", summary="沙箱:医保平台最近发给此人的身份核验码", auth="sandbox",
          response=SandboxProof, tags=TAGS)
def last_identity_proof(ctx, id_number: str):
    proof = PLATFORM.simulator().last_proof(id_number.strip().upper())
    if proof is None:
        raise NotFound("SANDBOX_PROOF_NONE")
    return SandboxProof(code=proof["code"], sent_to=proof["sent_to"])


class ProofSendIn(RequestModel):
    id_number: str


class ProofSentOut(ResponseModel):
    sent_to: str


class ProofCheckIn(RequestModel):
    id_number: str
    code: str = Field(max_length=16)


class ProofCheckOut(ResponseModel):
    valid: bool


@endpoint(bp, CONTRACT_PREFIX + "/identity/proofs", methods=("POST",), summary="医保平台:向本人登记的手机发送身份核验码",
          auth="sandbox", request=ProofSendIn, response=ProofSentOut, status=201, tags=PLATFORM_TAGS)
def platform_send_proof(ctx, body: ProofSendIn):
    PLATFORM.verify_signature(ctx, "/identity/proofs")
    return ProofSentOut(sent_to=PLATFORM.call(lambda p: p.send_identity_proof(body.id_number)))


@endpoint(bp, CONTRACT_PREFIX + "/identity/proofs/check", methods=("POST",), summary="医保平台:核对身份核验码",
          auth="sandbox", request=ProofCheckIn, response=ProofCheckOut, tags=PLATFORM_TAGS)
def platform_check_proof(ctx, body: ProofCheckIn):
    PLATFORM.verify_signature(ctx, "/identity/proofs/check")
    return ProofCheckOut(valid=PLATFORM.call(lambda p: p.check_identity_proof(body.id_number, body.code)))


# ---- the platform's HTTP contract (docs/medical-platform.md) ---------------------------------------------------
class PersonQuery(RequestModel):
    id_number: str


class DeductionIn(RequestModel):
    id_number: str
    source: AccountSource
    amount_fen: int
    idempotency_key: str = Field(min_length=1, max_length=128)
    reference: str = Field(default="", max_length=128)


class RefundIn(RequestModel):
    deduction_idempotency_key: str = Field(min_length=1, max_length=128)
    amount_fen: int
    idempotency_key: str = Field(min_length=1, max_length=128)


class SettlementsPage(BaseModel):
    settlements: list[Settlement]


class RepliesPage(BaseModel):
    replies: list[NoticeReply]


class StatementPage(BaseModel):
    entries: list[StatementEntry]


@endpoint(bp, CONTRACT_PREFIX + "/persons/query", methods=("POST",), summary="医保平台:按身份证号查询参保人",
          auth="sandbox", request=PersonQuery, response=PlatformPerson, tags=PLATFORM_TAGS)
def platform_find_person(ctx, body: PersonQuery):
    PLATFORM.verify_signature(ctx, "/persons/query")
    person = PLATFORM.call(lambda p: p.find_person(body.id_number))
    if person is None:
        raise PLATFORM.http_error("PERSON_NOT_FOUND")
    return person


@endpoint(bp, CONTRACT_PREFIX + "/accounts/balances/query", methods=("POST",),
          summary="医保平台:个人账户余额(当年、历年)", auth="sandbox", request=PersonQuery, response=Balances,
          tags=PLATFORM_TAGS)
def platform_balances(ctx, body: PersonQuery):
    PLATFORM.verify_signature(ctx, "/accounts/balances/query")
    return PLATFORM.call(lambda p: p.balances(body.id_number))


@endpoint(bp, CONTRACT_PREFIX + "/accounts/deductions", methods=("POST",), summary="医保平台:个人账户扣款(幂等)",
          auth="sandbox", request=DeductionIn, response=Deduction, status=201, tags=PLATFORM_TAGS)
def platform_deduct(ctx, body: DeductionIn):
    PLATFORM.verify_signature(ctx, "/accounts/deductions")
    return PLATFORM.call(lambda p: p.deduct(body.id_number, body.source, body.amount_fen, body.idempotency_key,
                                             body.reference))


@endpoint(bp, CONTRACT_PREFIX + "/accounts/deductions/{idempotency_key}", summary="医保平台:按请求编号查询扣款",
          auth="sandbox", response=Deduction, tags=PLATFORM_TAGS)
def platform_find_deduction(ctx, idempotency_key: str):
    PLATFORM.verify_signature(ctx, f"/accounts/deductions/{quote(idempotency_key, safe='')}")
    deduction = PLATFORM.call(lambda p: p.find_deduction(idempotency_key))
    if deduction is None:
        raise PLATFORM.http_error("DEDUCTION_NOT_FOUND")
    return deduction


@endpoint(bp, CONTRACT_PREFIX + "/accounts/refunds", methods=("POST",), summary="医保平台:退回个人账户(幂等)",
          auth="sandbox", request=RefundIn, response=Refund, status=201, tags=PLATFORM_TAGS)
def platform_refund(ctx, body: RefundIn):
    PLATFORM.verify_signature(ctx, "/accounts/refunds")
    return PLATFORM.call(lambda p: p.refund(body.deduction_idempotency_key, body.amount_fen, body.idempotency_key))


@endpoint(bp, CONTRACT_PREFIX + "/settlements", summary="医保平台:某序号之后发布的结算单", auth="sandbox",
          response=SettlementsPage, query={"after": "上次读到的序号(不含),从 0 开始", "limit": "每页条数,至多 500"},
          tags=PLATFORM_TAGS)
def platform_settlements(ctx):
    PLATFORM.verify_signature(ctx, "/settlements")
    after, limit = _page(ctx)
    return SettlementsPage(settlements=PLATFORM.call(lambda p: p.settlements_after(after, limit)))


@endpoint(bp, CONTRACT_PREFIX + "/notices/deductions", methods=("POST",),
          summary="医保平台:发送代扣代缴确认信息(幂等)", auth="sandbox", request=DeductionNotice,
          response=NoticeReceipt, status=201, tags=PLATFORM_TAGS)
def platform_send_notice(ctx, body: DeductionNotice):
    PLATFORM.verify_signature(ctx, "/notices/deductions")
    return PLATFORM.call(lambda p: p.send_deduction_notice(body))


@endpoint(bp, CONTRACT_PREFIX + "/notices/replies", summary="医保平台:某序号之后参保人对确认信息的回复",
          auth="sandbox", response=RepliesPage, query={"after": "上次读到的序号(不含)", "limit": "每页条数,至多 500"},
          tags=PLATFORM_TAGS)
def platform_notice_replies(ctx):
    PLATFORM.verify_signature(ctx, "/notices/replies")
    after, limit = _page(ctx)
    return RepliesPage(replies=PLATFORM.call(lambda p: p.notice_replies(after, limit)))


@endpoint(bp, CONTRACT_PREFIX + "/accounts/statement", summary="医保平台:某日个人账户扣款与退款对账单",
          auth="sandbox", response=StatementPage, query={"date": "YYYY-MM-DD(北京时间)"}, tags=PLATFORM_TAGS)
def platform_account_statement(ctx):
    PLATFORM.verify_signature(ctx, "/accounts/statement")
    try:
        day = date.fromisoformat(ctx.query.get("date") or "")
    except ValueError:
        raise BadRequest("BAD_QUERY_PARAMETER", field="date") from None
    return StatementPage(entries=PLATFORM.call(lambda p: p.account_statement(day)))


def _page(ctx) -> tuple[int, int]:
    from chalicelib.adapters.medical_platform import PAGE_LIMIT

    values = []
    for name, default in (("after", "0"), ("limit", str(PAGE_LIMIT))):
        raw = ctx.query.get(name) or default
        if not raw.isdigit():
            raise BadRequest("BAD_QUERY_PARAMETER", field=name)
        values.append(int(raw))
    return values[0], min(max(values[1], 1), PAGE_LIMIT)


# ---- helpers ----------------------------------------------------------------------------------------------------
def _port():
    from chalicelib import deps

    return deps.platform()


def _secret() -> bytes:
    from chalicelib.adapters.medical_platform_http import signing_secret

    return signing_secret()


PLATFORM = SimulatedPartner(
    port=_port, simulator_type=SimulatedPlatform, not_simulated="PLATFORM_NOT_SIMULATED", headers=PLATFORM_HEADERS,
    secret=_secret, signature_invalid="PLATFORM_SIGNATURE_INVALID", refused=PlatformError,
    unavailable=PlatformUnavailable, timeout="PLATFORM_TIMEOUT", message_prefix="PLATFORM",
    statuses={
        "PERSON_NOT_FOUND": NotFound,
        "DEDUCTION_NOT_FOUND": NotFound,
        "IDEMPOTENCY_KEY_REUSED": Conflict,
        "NO_PERSONAL_ACCOUNT": RuleViolation,
        "INVALID_AMOUNT": RuleViolation,
        "INSUFFICIENT_BALANCE": RuleViolation,
        "REFUND_EXCEEDS_DEDUCTION": RuleViolation,
        "NO_PHONE_ON_RECORD": RuleViolation,
        "NOTICE_NOT_FOUND": NotFound,
    })
