"""Member claim routes (理赔): submit, documents (pre-signed S3 POST, then verify), view with timeline, withdraw.

The claimant side is the insured or an account holding their `claims` authorisation; anyone else gets 404.
"""
from __future__ import annotations

from typing import Any

from chalice import Blueprint
from pydantic import Field, field_validator

from chalicelib.api.estimates import EstimateBill
from chalicelib.api.http import endpoint
from chalicelib.api.schemas import ACCOUNT_NUMBER_PATTERN, RequestModel, ResponseModel
from chalicelib.domain.claims import ContentType, DocumentKind

bp = Blueprint(__name__)


# ---- requests ------------------------------------------------------------------------------------------------------
class PayeeIn(RequestModel):
    account_name: str = Field(min_length=1, max_length=64, description="收款户名")
    bank_name: str = Field(min_length=1, max_length=64, description="开户行")
    # The validator below gives the Chinese reason; the pattern says the same rule in the OpenAPI document.
    account_number: str = Field(max_length=64, description="银行账号,12 至 30 位数字;加密保存,只显示掩码",
                                json_schema_extra={"pattern": ACCOUNT_NUMBER_PATTERN})

    @field_validator("account_number")
    @classmethod
    def _digits(cls, v: str) -> str:
        if not (v.isascii() and v.isdigit() and 12 <= len(v) <= 30):
            raise ValueError("应为 12 至 30 位数字")
        return v


class ClaimBill(EstimateBill):
    settlement_id: str | None = Field(default=None, min_length=1, max_length=64,
                                      description="the 医保 settlement (结算单) this bill comes from, when known")


class ClaimIn(RequestModel):
    policy_id: str = Field(min_length=1, max_length=64)
    bills: list[ClaimBill] = Field(min_length=1, max_length=50)
    payee: PayeeIn


class DocumentIn(RequestModel):
    kind: DocumentKind
    content_type: ContentType
    size_bytes: int = Field(ge=1, description="文件字节数;上传的文件须与此完全一致")


class WithdrawIn(RequestModel):
    reason: str | None = Field(default=None, max_length=200)


# ---- responses -----------------------------------------------------------------------------------------------------
class PayeeOut(ResponseModel):
    account_name: str
    bank_name: str
    account_number_masked: str


class YearToDateOut(ResponseModel):
    deductible_used_fen: int
    eligible_fen: int
    paid_fen: int


class TimelineEntryOut(ResponseModel):
    status: str
    status_zh: str
    at: str
    by: str = Field(description="insured | proxy | system | claims_reviewer | bureau | insurer_admin")
    note: str | None = None
    by_id: str | None = Field(default=None, description="staff views only")


class DownloadOut(ResponseModel):
    url: str
    expires_in: int


class UploadOut(ResponseModel):
    method: str
    url: str
    fields: dict[str, str]
    expires_in: int


class DocumentOut(ResponseModel):
    document_id: str
    kind: str
    content_type: str
    size_bytes: int
    status: str = Field(description="awaiting_upload | verified | rejected")
    created_at: str
    verified_at: str | None = None
    reason: str | None = None
    download: DownloadOut | None = Field(default=None, description="short-lived pre-signed GET")
    upload: UploadOut | None = Field(default=None, description="pre-signed POST (only when the document is created)")


class BillResultOut(ResponseModel):
    covered_fen: int
    deductible_applied_fen: int
    eligible_fen: int
    payout_fen: int
    explanation: list[str]


class PayoutFailureOut(ResponseModel):
    code: str
    message: str


class PayoutOut(ResponseModel):
    status: str = Field(description="awaiting_payee | requested | processing | succeeded | failed")
    status_zh: str
    amount_fen: int
    attempt: int
    requested_at: str | None = None
    finished_at: str | None = None
    failure: PayoutFailureOut | None = None


class UnplacedOut(ResponseModel):
    category: str
    category_zh: str


class ClaimSummaryOut(ResponseModel):
    claim_id: str
    policy_id: str
    plan_id: str
    status: str
    status_zh: str
    submitted_at: str
    estimate_fen: int
    approved_fen: int | None = None
    paid_fen: int | None = None
    claimant: str = Field(description="insured | proxy | system (免申即享: created from a settlement record)")
    channel: str = Field(default="online", description="online | auto")
    payout: PayoutOut | None = Field(default=None, description="the transfer that pays the claim, once approved")
    decision_due: str | None
    decision_due_estimated: bool
    decision_due_note: str | None
    overdue: bool
    insured_name_masked: str | None = None


class PayeeHoldOut(ResponseModel):
    reason: str = Field(description="identity_recovered: the person recovered their identity from the account that "
                                    "claimed while a transfer was with the gateway")
    at: str
    transfer_key: str | None = None
    transfer_status: str | None = None
    message: str


class ClaimOut(ClaimSummaryOut):
    bills: list[dict[str, Any]]
    payee: PayeeOut | None
    estimate_bills: list[BillResultOut] | None = Field(default=None, description="at submission")
    estimate_ytd_before: YearToDateOut | None = None
    reviewed_bills: list[dict[str, Any]] | None = None
    approved_at: str | None = None
    paid_at: str | None = None
    ytd_before_payment: YearToDateOut | None = None
    ytd_after_payment: YearToDateOut | None = None
    member_note: str | None = Field(default=None, description="the latest reason given to the member")
    completed_at: str | None = None
    settlement_id: str | None = Field(default=None, description="automatic claims: the settlement record")
    unplaced: list[UnplacedOut] = Field(default_factory=list,
                                        description="automatic claims: what the slip could not place")
    unplaced_note: str | None = Field(default=None, description="how to claim what could not be placed, by hand")
    missing_documents: list[str]
    documents: list[DocumentOut]
    timeline: list[TimelineEntryOut]
    payee_hold: PayeeHoldOut | None = Field(default=None, description="staff only: no further transfer is sent "
                                                                      "for this claim; staff look at it")


def ports():
    from chalicelib import deps

    return deps.claim_ports()


def _now():
    from chalicelib import deps

    return deps.clock().now()


# ---- routes --------------------------------------------------------------------------------------------------------
@endpoint(bp, "/v1/claims", methods=("POST",), request=ClaimIn, response=ClaimOut, status=201, idempotent=True,
          summary="提交理赔申请(本人或获授权的代办人)", tags=("claims",))
def submit_claim(ctx, body: ClaimIn):
    from chalicelib.services import claims, idempotency

    status, view = claims.submit(ports(), ctx.principal, body.policy_id,
                                 [b.model_dump(mode="json", exclude_none=True) for b in body.bills],
                                 body.payee.model_dump(),
                                 ctx.idempotency_key, idempotency.body_hash(body), _now())
    return status, ClaimOut.model_validate(view)


@endpoint(bp, "/v1/claims", response=list[ClaimSummaryOut], summary="我的理赔(含我代办的)", tags=("claims",))
def list_claims(ctx):
    from chalicelib.services import claims

    return [ClaimSummaryOut.model_validate(c) for c in claims.list_for_member(ports(), ctx.principal,
                                                                              _now().date())]


@endpoint(bp, "/v1/claims/{claim_id}", response=ClaimOut, summary="理赔详情、材料与进度", tags=("claims",))
def get_claim(ctx, claim_id: str):
    from chalicelib.services import claims

    return ClaimOut.model_validate(claims.get_for_member(ports(), ctx.principal, claim_id, _now().date()))


@endpoint(bp, "/v1/claims/{claim_id}/documents", methods=("POST",), request=DocumentIn, response=DocumentOut,
          status=201, summary="登记一份理赔材料并获取上传地址(预签名 S3 POST)", tags=("claims",))
def add_document(ctx, body: DocumentIn, claim_id: str):
    from chalicelib.services import claims

    return DocumentOut.model_validate(claims.add_document(ports(), ctx.principal, claim_id, body.kind,
                                                          body.content_type, body.size_bytes, _now()))


@endpoint(bp, "/v1/claims/{claim_id}/documents/{document_id}/verify", methods=("POST",), response=DocumentOut,
          summary="上传完成后核验材料(文件存在、类型和大小与申报一致)", tags=("claims",))
def verify_document(ctx, claim_id: str, document_id: str):
    from chalicelib.services import claims

    return DocumentOut.model_validate(claims.verify_document(ports(), ctx.principal, claim_id, document_id,
                                                             _now()))


@endpoint(bp, "/v1/claims/{claim_id}/withdraw", methods=("POST",), request=WithdrawIn, response=ClaimOut,
          summary="撤回理赔申请(作出决定之前)", tags=("claims",))
def withdraw_claim(ctx, body: WithdrawIn, claim_id: str):
    from chalicelib.services import claims

    return ClaimOut.model_validate(claims.withdraw(ports(), ctx.principal, claim_id, body.reason, _now()))


# ---- the member's payee account (免申即享) ------------------------------------------------------------------------
class PayeeAccountOut(ResponseModel):
    account_name: str
    bank_name: str
    account_number_masked: str
    updated_at: str | None = None
    source: str = Field(description="member (given here) | ssc (the social-security-card account the 医保 platform "
                                    "reports) | none")
    claims_resumed: int = Field(default=0, description="claims waiting for a payee (or whose transfer failed) now "
                                                       "sent to this account")


@endpoint(bp, "/v1/me/payee", methods=("PUT",), request=PayeeIn, response=PayeeAccountOut,
          summary="设置收款账户(免申即享赔款打入此账户;转账失败的赔款改打此账户)", tags=("claims",))
def put_payee(ctx, body: PayeeIn):
    from chalicelib.services.claims import payees

    return PayeeAccountOut.model_validate(payees.put(ports(), ctx.principal, body.account_name, body.bank_name,
                                                     body.account_number, _now()))


@endpoint(bp, "/v1/me/payee", response=PayeeAccountOut, summary="我的收款账户(掩码显示)", tags=("claims",))
def get_payee(ctx):
    from chalicelib.services.claims import payees

    return PayeeAccountOut.model_validate(payees.get(ports(), ctx.principal))
