"""SMS port: sends one-time login codes (短信验证码).

Two adapters with the same `send_code(phone, code)` method:
- `SimulatedSms` (local stage): keeps the last code per phone in memory so `GET /sandbox/sms/{phone}` can show it.
- `HttpSmsGateway` (deployed stages): POSTs JSON to the SMS provider's HTTP endpoint. Configured by environment:
    HMB_SMS_URL        provider endpoint (required), e.g. https://sms.example.cn/v1/messages
    HMB_SMS_TOKEN      bearer token sent as `Authorization: Bearer …` (required)
    HMB_SMS_SIGN_NAME  the approved signature (短信签名), e.g. 惠民保
    HMB_SMS_TEMPLATE   the approved template id for login codes
  Request body: {"phone", "sign_name", "template", "params": {"code", "minutes"}}; any 2xx means accepted.

Neither adapter logs the code or the phone number.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime


class SmsUnavailable(Exception):
    """The provider did not accept the message (transport error, timeout or non-2xx answer)."""


@dataclass(frozen=True)
class SentCode:
    code: str
    sent_at: datetime


class SimulatedSms:
    """In-memory stand-in for the SMS provider; `fail_next()` makes the next send fail (fault-injection tests)."""

    def __init__(self, clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, SentCode] = {}
        self._failures = 0

    def send_code(self, phone: str, code: str, valid_minutes: int = 5) -> None:
        with self._lock:
            if self._failures:
                self._failures -= 1
                raise SmsUnavailable("simulated provider failure")
            self._last[phone] = SentCode(code=code, sent_at=self._clock.now())

    def last(self, phone: str) -> SentCode | None:
        with self._lock:
            return self._last.get(phone)

    def fail_next(self) -> None:
        with self._lock:
            self._failures += 1


class HttpSmsGateway:
    TIMEOUT_SECONDS = 3

    def __init__(self, url: str, token: str, sign_name: str, template: str, session=None) -> None:
        self.url = url
        self._token = token
        self.sign_name = sign_name
        self.template = template
        self._session = session

    @classmethod
    def from_env(cls, settings) -> HttpSmsGateway:
        url, token = settings.require("HMB_SMS_URL", "HMB_SMS_TOKEN")
        return cls(url, token, settings.get("HMB_SMS_SIGN_NAME"), settings.get("HMB_SMS_TEMPLATE"))

    def _http(self):
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    def send_code(self, phone: str, code: str, valid_minutes: int = 5) -> None:
        import requests

        payload = {"phone": phone, "sign_name": self.sign_name, "template": self.template,
                   "params": {"code": code, "minutes": valid_minutes}}
        try:
            resp = self._http().post(self.url, json=payload, timeout=self.TIMEOUT_SECONDS,
                                     headers={"Authorization": f"Bearer {self._token}"})
        except requests.RequestException as exc:
            raise SmsUnavailable(type(exc).__name__) from None
        if not 200 <= resp.status_code < 300:
            raise SmsUnavailable(f"provider answered {resp.status_code}")
