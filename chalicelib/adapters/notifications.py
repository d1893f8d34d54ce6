"""Notification port: `notify(recipient, template, data)` tells a member something happened (claim decided, policy
issued, renewal due…). `recipient` is an account id (or a phone, for a grantee who has not logged in yet).

- `RecordingNotifier` (local stage): records every notification; `GET /sandbox/notifications` shows them.
- `WeChatSubscribeNotifier` (deployed stages): sends a WeChat mini-program subscribe message
  (`POST /cgi-bin/message/subscribe/send`) to the account's openid. Configured by environment:
    HMB_WECHAT_SUBSCRIBE_TEMPLATES  JSON object: our template name → the WeChat template id,
                                    e.g. {"claim_decided": "aBcD…", "policy_issued": "EfGh…"}
    HMB_WECHAT_MINIPROGRAM_STATE    formal | trial | developer (default formal)
  and the app's HMB_WECHAT_APPID / HMB_WECHAT_APP_SECRET for the access token — one token shared by every
  container through the table (chalicelib/adapters/wechat_token.py).

A notification is a courtesy, never part of a business write: `notify` does not raise. Failures are logged without
the message content.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SUBSCRIBE_SEND_URL = "https://api.weixin.qq.com/cgi-bin/message/subscribe/send"
_TOKEN_INVALID_ERRCODES = frozenset({40001, 40014, 42001})  # invalid / expired access token
_NOT_SUBSCRIBED = 43101  # the member did not accept this template: nothing to do


@dataclass(frozen=True)
class Notification:
    recipient: str
    template: str
    data: dict[str, Any]
    sent_at: datetime


class RecordingNotifier:
    def __init__(self, clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._sent: list[Notification] = []

    def notify(self, recipient: str, template: str, data: dict[str, Any]) -> None:
        with self._lock:
            self._sent.append(Notification(recipient, template, dict(data), self._clock.now()))

    def sent(self, recipient: str) -> list[Notification]:
        with self._lock:
            return [n for n in self._sent if n.recipient == recipient]


def openids_from_table(table) -> Callable[[str], str | None]:
    """`openid_of` over the table: the openid of an account (phone-channel accounts have none and cannot get
    subscribe messages). The composition root (deps.py) passes it in; this module never reaches for a port."""
    from chalicelib.adapters import keys

    def openid_of(recipient: str) -> str | None:
        account = table.get(keys.account(recipient))
        return account.get("openid") if account else None

    return openid_of


@dataclass
class WeChatSubscribeNotifier:
    appid: str
    secret: str
    templates: dict[str, str]
    miniprogram_state: str = "formal"
    session: Any = None
    tokens: Any = None  # chalicelib.adapters.wechat_token.SharedAccessToken (deps shares it through the table)
    openid_of: Callable[[str], str | None] = field(kw_only=True)  # e.g. openids_from_table(table)

    TIMEOUT_SECONDS = 3

    @classmethod
    def from_env(cls, settings, *, openid_of: Callable[[str], str | None],
                 tokens: Any = None) -> WeChatSubscribeNotifier:
        templates = json.loads(settings.get("HMB_WECHAT_SUBSCRIBE_TEMPLATES") or "{}")
        if not isinstance(templates, dict):
            raise TypeError("HMB_WECHAT_SUBSCRIBE_TEMPLATES must be a JSON object")
        return cls(settings.wechat_appid, settings.wechat_app_secret, {str(k): str(v) for k, v in templates.items()},
                   settings.get("HMB_WECHAT_MINIPROGRAM_STATE"), tokens=tokens, openid_of=openid_of)

    def _http(self):
        if self.session is None:
            import requests

            self.session = requests.Session()
        return self.session

    def _tokens(self):
        if self.tokens is None:  # this container's own token (no table given): still WeChat's stable token
            from chalicelib.adapters.wechat_token import SharedAccessToken

            self.tokens = SharedAccessToken(self.appid, self.secret, session=self._http())
        return self.tokens

    def notify(self, recipient: str, template: str, data: dict[str, Any]) -> None:
        from chalicelib.observability import logger

        template_id = self.templates.get(template)
        if template_id is None:
            logger().info("notification template not configured", extra={"template": template})
            return
        try:
            openid = self.openid_of(recipient)
            if not openid:
                logger().info("recipient has no WeChat openid", extra={"template": template})
                return
            message = {"touser": openid, "template_id": template_id, "miniprogram_state": self.miniprogram_state,
                       "data": {k: {"value": str(v)} for k, v in data.items()}}
            token = self._tokens().get()
            errcode = self._send(message, token)
            if errcode in _TOKEN_INVALID_ERRCODES:
                token = self._tokens().refused(token)
                if token is None:  # another container is renewing the token right now
                    logger().warning("subscribe message not sent: access token being renewed",
                                     extra={"template": template})
                    return
                errcode = self._send(message, token)
            if errcode not in (0, _NOT_SUBSCRIBED):
                logger().warning("subscribe message refused", extra={"template": template, "errcode": errcode})
        except Exception as exc:  # noqa: BLE001 — a notification must never fail the operation that triggered it
            logger().warning("subscribe message not sent", extra={"template": template,
                                                                   "error_type": type(exc).__name__})

    def _send(self, message: dict[str, Any], token: str) -> int:
        resp = self._http().post(SUBSCRIBE_SEND_URL, params={"access_token": token}, timeout=self.TIMEOUT_SECONDS,
                                 data=json.dumps(message, ensure_ascii=False).encode(),
                                 headers={"Content-Type": "application/json"})
        return int(json.loads(resp.text).get("errcode") or 0)
