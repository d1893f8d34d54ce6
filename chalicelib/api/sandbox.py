"""Sandbox routes (local stage only; routes.py does not register them elsewhere): the service clock, the last SMS
code sent to a phone, staff tokens, and the notifications members would have received."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.http import endpoint
from chalicelib.api.schemas import RequestModel, ResponseModel

bp = Blueprint(__name__)

StaffRole = Literal["claims_reviewer", "bureau", "insurer_admin"]


class ClockIn(RequestModel):
    now: datetime | None = Field(description="ISO 8601 时间(无时区按 +08:00);null 恢复真实时间")


class ClockOut(ResponseModel):
    now: str
    fixed: bool


class SentSmsOut(ResponseModel):
    code: str
    sent_at: str


class StaffTokenIn(RequestModel):
    role: StaffRole
    staff_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_\-]{1,64}$",
                                 description="默认每次签发一个新的经办人员 id")
    cities: list[str] | None = Field(default=None, min_length=1, max_length=50,
                                     description="可办理的统筹区代码(6 位);默认全部城市")


class StaffTokenOut(ResponseModel):
    token: str
    role: StaffRole
    staff_id: str
    cities: list[str]


class NotificationOut(ResponseModel):
    recipient: str
    template: str
    data: dict[str, Any]
    sent_at: str


@endpoint(bp, "/sandbox/clock", methods=("PUT",), summary="沙箱:设置服务时钟", auth="sandbox", request=ClockIn,
          response=ClockOut, tags=("sandbox",))
def set_clock(ctx, body: ClockIn):
    from chalicelib import deps
    from chalicelib.adapters.clock import iso
    from chalicelib.domain.errors import Conflict

    clock = deps.clock()
    if not hasattr(clock, "set"):
        raise Conflict("SANDBOX_CLOCK_FIXED_ONLY")
    clock.set(body.now)
    return ClockOut(now=iso(clock.now()), fixed=body.now is not None)


@endpoint(bp, "/sandbox/sms/{phone}", summary="沙箱:查看最近一次发送的短信验证码", auth="sandbox",
          response=SentSmsOut, tags=("sandbox",))
def last_sms(ctx, phone: str):
    from chalicelib import deps
    from chalicelib.adapters.clock import iso
    from chalicelib.domain.errors import NotFound
    from chalicelib.domain.identity import parse_phone

    sent = deps.sms().last(parse_phone(phone))
    if sent is None:
        raise NotFound("SANDBOX_SMS_NONE")
    return SentSmsOut(code=sent.code, sent_at=iso(sent.sent_at))


@endpoint(bp, "/sandbox/staff-token", methods=("POST",), summary="沙箱:签发经办人员令牌", auth="sandbox",
          request=StaffTokenIn, response=StaffTokenOut, tags=("sandbox",))
def staff_token(ctx, body: StaffTokenIn):
    import uuid

    from chalicelib.api.auth import ALL_CITIES, issue_staff_token
    from chalicelib.domain.errors import BadRequest

    staff_id = body.staff_id or f"sandbox-{body.role}-{uuid.uuid4().hex[:8]}"
    cities = body.cities or [ALL_CITIES]
    if any(not (len(c) == 6 and c.isdigit()) for c in body.cities or []):
        raise BadRequest("VALIDATION_FAILED", field_label="cities 应为 6 位统筹区代码", field="cities")
    return StaffTokenOut(token=issue_staff_token(staff_id, body.role, cities=cities), role=body.role,
                         staff_id=staff_id, cities=cities)


@endpoint(bp, "/sandbox/notifications", summary="沙箱:查看发给某手机号/账户的通知", auth="sandbox",
          response=list[NotificationOut], query={"phone": "手机号(含该手机号登录账户收到的通知)",
                                                 "account_id": "账户 id"}, tags=("sandbox",))
def notifications(ctx):
    from chalicelib import deps
    from chalicelib.adapters.clock import iso
    from chalicelib.domain.errors import BadRequest
    from chalicelib.domain.identity import parse_phone
    from chalicelib.services.identity import CHANNEL_PHONE, account_id_by_login

    phone, account_id = ctx.query.get("phone"), ctx.query.get("account_id")
    if not phone and not account_id:
        raise BadRequest("SANDBOX_RECIPIENT_REQUIRED", field="phone")
    recipients = []
    if phone:
        phone = parse_phone(phone)
        recipients.append(phone)
        phone_account = account_id_by_login(deps.accounts(), CHANNEL_PHONE, phone)
        if phone_account is not None:
            recipients.append(phone_account)
    if account_id:
        recipients.append(account_id)
    notifier = deps.notifications()
    sent = sorted((n for r in dict.fromkeys(recipients) for n in notifier.sent(r)), key=lambda n: n.sent_at)
    return [NotificationOut(recipient=n.recipient, template=n.template, data=n.data, sent_at=iso(n.sent_at))
            for n in sent]


# ---- account security (issue #10): rate-limit counters and the captcha simulator ---------------------------------
class LimitsResetOut(ResponseModel):
    reset: bool


class CaptchaTicketOut(ResponseModel):
    captcha_ticket: str = Field(description="一次性安全验证票据(模拟已完成滑块验证)")


@endpoint(bp, "/sandbox/limits/reset", methods=("POST",), summary="沙箱:清空所有限流计数", auth="sandbox",
          response=LimitsResetOut, tags=("sandbox",))
def reset_limits(ctx):
    from chalicelib import deps

    deps.rate_limiter().reset()
    return LimitsResetOut(reset=True)


@endpoint(bp, "/sandbox/captcha", methods=("POST",), summary="沙箱:完成一次安全验证,得到票据", auth="sandbox",
          response=CaptchaTicketOut, status=201, tags=("sandbox",))
def solve_captcha(ctx):
    from chalicelib import deps

    return CaptchaTicketOut(captcha_ticket=deps.captcha().issue())
