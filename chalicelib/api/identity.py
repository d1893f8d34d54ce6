"""Identity routes: POST /v1/auth/wechat, POST /v1/auth/sms, POST /v1/auth/sms/verify, PUT /v1/me/identity,
GET /v1/me."""
from __future__ import annotations

from datetime import date
from typing import Literal

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.http import endpoint
from chalicelib.api.schemas import (
    ID_NUMBER_SCHEMA,
    NAME_SCHEMA,
    PHONE_SCHEMA,
    SMS_CODE_PATTERN,
    RequestModel,
    ResponseModel,
)

bp = Blueprint(__name__)


# ---- requests ------------------------------------------------------------------------------------------------
class WeChatLoginIn(RequestModel):
    code: str = Field(min_length=1, max_length=128, description="wx.login 返回的 code")


class SmsCodeIn(RequestModel):
    phone: str = Field(max_length=32, description="中国大陆手机号", json_schema_extra=PHONE_SCHEMA)
    captcha_ticket: str | None = Field(default=None, min_length=1, max_length=512,
                                       description="安全验证票据:答复 428 CHALLENGE_REQUIRED 后完成验证码再提交")


class SmsVerifyIn(RequestModel):
    phone: str = Field(max_length=32, json_schema_extra=PHONE_SCHEMA)
    code: str = Field(max_length=16, description="6 位短信验证码", json_schema_extra={"pattern": SMS_CODE_PATTERN})


class IdentityIn(RequestModel):
    name: str = Field(max_length=64, description="身份证上的姓名", json_schema_extra=NAME_SCHEMA)
    id_number: str = Field(max_length=32, description="18 位居民身份证号码", json_schema_extra=ID_NUMBER_SCHEMA)
    proof_code: str | None = Field(default=None, pattern=r"^[0-9]{6}$",
                                   description="医保平台发到本人登记手机的 6 位身份核验码(POST /v1/me/identity/proof)")


class IdentityProofIn(RequestModel):
    id_number: str = Field(max_length=32, description="18 位居民身份证号码", json_schema_extra=ID_NUMBER_SCHEMA)


class IdentityProofOut(ResponseModel):
    sent_to: str = Field(description="核验码发往的手机号(脱敏),如 138****8000")


# ---- responses -----------------------------------------------------------------------------------------------
class SessionOut(ResponseModel):
    token: str
    expires_in: int
    account_id: str


class SmsCodeSentOut(ResponseModel):
    expires_in: int = Field(description="验证码有效秒数")
    resend_after: int = Field(description="再次获取前需等待的秒数")


class BasicInsuranceOut(ResponseModel):
    type: Literal["employee", "resident"]
    city: str
    status: Literal["active", "suspended", "terminated"]


class IdentityOut(ResponseModel):
    person_id: str
    name: str
    id_number_masked: str
    birth_date: date
    sex: Literal["male", "female"]
    basic_insurance: BasicInsuranceOut


class BoundPersonOut(ResponseModel):
    person_id: str
    name: str | None
    id_number_masked: str | None
    birth_date: date | None
    sex: Literal["male", "female"] | None
    bound_at: str | None


class FamilyMemberBrief(ResponseModel):
    member_id: str | None
    name: str | None
    id_number_masked: str | None
    relationship: str | None
    birth_date: date | None
    sex: str | None
    created_at: str | None


class AuthorizationGranted(ResponseModel):
    authorization_id: str | None
    grantee_phone: str | None
    scopes: list[str]
    status: str | None
    created_at: str | None
    revoked_at: str | None


class AuthorizationHeld(ResponseModel):
    authorization_id: str | None
    grantor_person_id: str | None
    grantor_name: str | None
    scopes: list[str]
    created_at: str | None


class MeOut(ResponseModel):
    account_id: str
    created_at: str | None
    login_channel: Literal["wechat", "phone"] | None
    phone: str | None
    identity: BoundPersonOut | None = Field(description="实名绑定的本人;未实名时为 null")
    family_members: list[FamilyMemberBrief]
    authorizations_granted: list[AuthorizationGranted] = Field(description="本人授权给他人的")
    authorizations_held: list[AuthorizationHeld] = Field(description="他人授权给本账户手机号的(仅有效的)")


def _session(account_id: str) -> SessionOut:
    from chalicelib.api.auth import issue_member_token

    # Stamped with real time, not the sandbox clock: PyJWT checks expiry against real time, and a session's life
    # is a security property, not a business rule.
    token, expires_in = issue_member_token(account_id)
    return SessionOut(token=token, expires_in=expires_in, account_id=account_id)


def _login_guard(ctx, captcha_ticket: str | None):
    from chalicelib import deps
    from chalicelib.config import get_settings
    from chalicelib.services.identity import LoginGuard

    identity_ctx = (ctx.request.context or {}).get("identity") or {}
    return LoginGuard(limiter=deps.rate_limiter(), captcha=deps.captcha(),
                      address=str(identity_ctx.get("sourceIp") or "unknown"), captcha_ticket=captcha_ticket,
                      settings=get_settings())


# ---- routes --------------------------------------------------------------------------------------------------
@endpoint(bp, "/v1/auth/wechat", methods=("POST",), summary="微信小程序登录(wx.login code 换取会话)", auth="none",
          request=WeChatLoginIn, response=SessionOut, tags=("identity",))
def login_wechat(ctx, body: WeChatLoginIn):
    from chalicelib import deps
    from chalicelib.services import identity

    account_id = identity.login_with_wechat(deps.identity_ports(), deps.wechat_login(), body.code, deps.clock().now())
    return _session(account_id)


@endpoint(bp, "/v1/auth/sms", methods=("POST",), summary="发送短信验证码(每手机号每分钟一次)", auth="none",
          request=SmsCodeIn, response=SmsCodeSentOut, status=202, tags=("identity",))
def send_sms_code(ctx, body: SmsCodeIn):
    from chalicelib import deps
    from chalicelib.services import identity

    sent = identity.send_login_code(deps.identity_ports(), deps.sms(), body.phone, deps.clock().now(),
                                    guard=_login_guard(ctx, body.captcha_ticket))
    return SmsCodeSentOut(expires_in=sent.expires_in, resend_after=sent.resend_after)


@endpoint(bp, "/v1/auth/sms/verify", methods=("POST",), summary="短信验证码登录", auth="none",
          request=SmsVerifyIn, response=SessionOut, tags=("identity",))
def verify_sms_code(ctx, body: SmsVerifyIn):
    from chalicelib import deps
    from chalicelib.services import identity

    account_id = identity.verify_login_code(deps.identity_ports(), body.phone, body.code, deps.clock().now(),
                                            guard=_login_guard(ctx, None))
    return _session(account_id)


@endpoint(bp, "/v1/me/identity", methods=("PUT",), summary="实名认证:绑定本人身份证(须经医保系统核验)",
          request=IdentityIn, response=IdentityOut, tags=("identity",))
def bind_identity(ctx, body: IdentityIn):
    from chalicelib import deps
    from chalicelib.services import identity

    bound = identity.bind_identity(deps.identity_ports(), deps.platform(), deps.rate_limiter(),
                                   ctx.principal.account_id, body.name, body.id_number, deps.clock().now(),
                                   proof_code=body.proof_code, notifier=deps.notifications())
    return IdentityOut.model_validate(bound, from_attributes=True)


@endpoint(bp, "/v1/me/identity/proof", methods=("POST",), summary="实名认证:请医保平台向本人登记的手机发送身份核验码",
          request=IdentityProofIn, response=IdentityProofOut, status=202, tags=("identity",))
def send_identity_proof(ctx, body: IdentityProofIn):
    from chalicelib import deps
    from chalicelib.services import identity

    sent = identity.send_identity_proof(deps.identity_ports(), deps.platform(), deps.rate_limiter(),
                                        ctx.principal.account_id, body.id_number, deps.clock().now())
    return IdentityProofOut(sent_to=sent.sent_to)


@endpoint(bp, "/v1/me", summary="我的账户:实名信息、家庭成员、授权", response=MeOut, tags=("identity",))
def me(ctx):
    from chalicelib import deps
    from chalicelib.services import identity

    return MeOut.model_validate(identity.overview(deps.identity_ports(), ctx.principal.account_id))
