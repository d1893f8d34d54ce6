"""WeChat mini-program login port: `code_to_session(code)` turns a `wx.login` code into the member's openid.

- `WeChatLogin` (deployed stages) calls `GET https://api.weixin.qq.com/sns/jscode2session` with the app's appid and
  secret (settings `HMB_WECHAT_APPID`, `HMB_WECHAT_APP_SECRET`).
- `SimulatedWeChatLogin` (local stage) maps any well-formed code to a stable openid, so a test or a sandbox user
  "is" whoever their code says; codes starting with `invalid` are refused as WeChat refuses a used/expired code.

Both raise `WeChatCodeRejected` when the code itself is bad (the member must call wx.login again) and
`WeChatUnavailable` when WeChat could not answer or refused our credentials (retry later; not the member's fault).
The session_key is returned for completeness but never stored or logged.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

JSCODE2SESSION_URL = "https://api.weixin.qq.com/sns/jscode2session"

# errcodes that mean "this code is no good": invalid (40029), already used (40163), user blocked as high-risk (40226).
CODE_REJECTED_ERRCODES = frozenset({40029, 40163, 40226})

_SIM_CODE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


class WeChatCodeRejected(Exception):
    def __init__(self, errcode: int) -> None:
        self.errcode = errcode
        super().__init__(f"wechat rejected the login code (errcode {errcode})")


class WeChatUnavailable(Exception):
    """Transport failure, timeout, system busy (-1), quota (45011) or a configuration error (40013/40125)."""


@dataclass(frozen=True)
class WeChatSession:
    openid: str
    session_key: str
    unionid: str | None = None

    def __repr__(self) -> str:  # keep the session key out of any accidental log line
        return f"WeChatSession(openid={self.openid!r})"


class SimulatedWeChatLogin:
    def code_to_session(self, code: str) -> WeChatSession:
        if not _SIM_CODE.match(code) or code.startswith("invalid"):
            raise WeChatCodeRejected(40029)
        digest = hashlib.sha256(f"sandbox-openid:{code}".encode()).hexdigest()
        return WeChatSession(openid="osim_" + digest[:24], session_key=digest[24:48])


class WeChatLogin:
    TIMEOUT_SECONDS = 3

    def __init__(self, settings, session=None) -> None:
        if not settings.wechat_appid or not settings.wechat_app_secret:
            raise RuntimeError("HMB_WECHAT_APPID and HMB_WECHAT_APP_SECRET are required outside the local stage")
        self._appid = settings.wechat_appid
        self._secret = settings.wechat_app_secret
        self._session = session

    def _http(self):
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    def code_to_session(self, code: str) -> WeChatSession:
        import requests

        params = {"appid": self._appid, "secret": self._secret, "js_code": code, "grant_type": "authorization_code"}
        try:
            resp = self._http().get(JSCODE2SESSION_URL, params=params, timeout=self.TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            raise WeChatUnavailable(type(exc).__name__) from None
        if resp.status_code != 200:
            raise WeChatUnavailable(f"http {resp.status_code}")
        try:  # WeChat answers JSON labelled text/plain
            data = json.loads(resp.text)
        except ValueError:
            raise WeChatUnavailable("answer is not JSON") from None
        errcode = int(data.get("errcode") or 0)
        if errcode in CODE_REJECTED_ERRCODES:
            raise WeChatCodeRejected(errcode)
        if errcode != 0 or not data.get("openid"):
            raise WeChatUnavailable(f"errcode {errcode}")
        return WeChatSession(openid=str(data["openid"]), session_key=str(data.get("session_key", "")),
                             unionid=data.get("unionid"))
