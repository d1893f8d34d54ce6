"""HMAC-signed JSON over HTTPS, for the partners that speak our signed contracts (the 医保 platform's
docs/medical-platform.md scheme; the payout gateway's docs/payouts.md uses the same one).

What is signed: method, contract path (without the base URL's path), sorted query, timestamp, nonce and the SHA-256
of the exact body bytes, one per line, with HMAC-SHA256 under the partner's shared secret. Requests older than five
minutes are refused by the receiving side. `requests` is imported on first use, never at import time.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

SIGNATURE_MAX_AGE_SECONDS = 300


@dataclass(frozen=True)
class SignatureHeaders:
    """The header names one partner uses, e.g. prefix "X-Payout" → X-Payout-App-Id, -Timestamp, -Nonce, -Signature."""

    prefix: str

    @property
    def app_id(self) -> str:
        return f"{self.prefix}-App-Id"

    @property
    def timestamp(self) -> str:
        return f"{self.prefix}-Timestamp"

    @property
    def nonce(self) -> str:
        return f"{self.prefix}-Nonce"

    @property
    def signature(self) -> str:
        return f"{self.prefix}-Signature"


def canonical_request(method: str, path: str, query: Mapping[str, str], timestamp: str, nonce: str,
                      body: bytes) -> bytes:
    return "\n".join([method.upper(), path, urlencode(sorted(query.items())), timestamp, nonce,
                      hashlib.sha256(body).hexdigest()]).encode()


def signature(secret: bytes, canonical: bytes) -> str:
    return hmac.new(secret, canonical, hashlib.sha256).hexdigest()


def signature_problem(names: SignatureHeaders, secret: bytes, method: str, path: str, query: Mapping[str, str],
                      headers: Mapping[str, str], body: bytes, now: float) -> str | None:
    """Receiving side: None if signed with `secret` and fresh, else why not. `headers` has lower-case names."""
    timestamp = headers.get(names.timestamp.lower(), "")
    nonce = headers.get(names.nonce.lower(), "")
    given = headers.get(names.signature.lower(), "")
    if not (headers.get(names.app_id.lower()) and timestamp and nonce and given):
        return "缺少签名请求头"
    if not timestamp.isdigit() or abs(now - int(timestamp)) > SIGNATURE_MAX_AGE_SECONDS:
        return "时间戳格式不对或已超过 5 分钟"
    expected = signature(secret, canonical_request(method, path, query, timestamp, nonce, body))
    if not hmac.compare_digest(expected, given):
        return "签名不符"
    return None


class SignedJsonClient:
    """One partner's signed JSON API. Transport failures, timeouts, 5xx and unreadable bodies raise `unavailable`
    (the outcome is unknown); a 4xx `{code, message}` raises `refused(code, message)`, except a 404 whose code is
    the caller's `absent`, which returns None. `secret` is called for each request (settings are read at call
    time). `parse` turns a 2xx body that does not match its model into `unavailable` too."""

    def __init__(self, base_url: str, secret: Callable[[], bytes], app_id: str, names: SignatureHeaders,
                 unavailable: type[Exception], refused: Callable[[str, str], Exception],
                 timeout: tuple[float, float] = (3.05, 10.0)) -> None:
        self._base_url = base_url.rstrip("/")
        self._secret = secret
        self._app_id = app_id
        self._names = names
        self._unavailable = unavailable
        self._refused = refused
        self._timeout = timeout
        self._session = None

    def call(self, method: str, path: str, payload: dict | None = None, *, query: dict[str, str] | None = None,
             absent: str | None = None) -> Any:
        import requests

        query = query or {}
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        n = self._names
        headers = {n.app_id: self._app_id, n.timestamp: timestamp, n.nonce: nonce,
                   n.signature: signature(self._secret(), canonical_request(method, path, query, timestamp, nonce,
                                                                            body)),
                   "Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            response = self._http().request(method, self._base_url + path, params=query or None, data=body or None,
                                            headers=headers, timeout=self._timeout)
        except requests.RequestException as exc:
            raise self._unavailable(f"{method} {path}: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise self._unavailable(f"{method} {path}: HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            code = data.get("code") if isinstance(data, dict) else None
            code = code if isinstance(code, str) and code else f"HTTP_{response.status_code}"
            if absent is not None and response.status_code == 404 and code == absent:
                return None
            message = data.get("message") if isinstance(data, dict) else None
            raise self._refused(code, message if isinstance(message, str) else "")
        if data is None:
            raise self._unavailable(f"{method} {path}: unreadable response")
        return data

    def parse(self, model, data: Any):
        """A 2xx body that does not match the contract leaves the outcome unknown, like a timeout."""
        from pydantic import ValidationError

        try:
            return model.model_validate(data)
        except ValidationError:
            raise self._unavailable(f"unreadable {model.__name__} in the partner's response") from None

    def _http(self):
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session
