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
    staff_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    cities: list[str] | None = Field(default=None, max_length=50, description="城市代码(6 位);省略为全部城市")


class StaffTokenOut(ResponseModel):
    token: str
    role: StaffRole
    staff_id: str


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
    from chalicelib.api.auth import issue_staff_token

    staff_id = body.staff_id or f"sandbox-{body.role}"
    return StaffTokenOut(token=issue_staff_token(staff_id, body.role, cities=body.cities), role=body.role,
                         staff_id=staff_id)


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
        phone_account = account_id_by_login(deps.table(), CHANNEL_PHONE, phone)
        if phone_account is not None:
            recipients.append(phone_account)
    if account_id:
        recipients.append(account_id)
    notifier = deps.notifications()
    sent = sorted((n for r in dict.fromkeys(recipients) for n in notifier.sent(r)), key=lambda n: n.sent_at)
    return [NotificationOut(recipient=n.recipient, template=n.template, data=n.data, sent_at=iso(n.sent_at))
            for n in sent]
