"""The 医保 platform port over HTTPS: the JSON contract of docs/medical-platform.md, HMAC-signed requests.

`HttpPlatform` is the deployed stages' adapter. The same contract is served by the sandbox
(chalicelib/api/sandbox_platform.py, backed by the simulator), and the contract tests run this client against it.
`requests` is imported on first use, never at import time.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import quote

from chalicelib.adapters.medical_platform import (
    DEDUCTION_NOT_FOUND,
    PAGE_LIMIT,
    PERSON_NOT_FOUND,
    PlatformError,
    PlatformUnavailable,
)
from chalicelib.adapters.signed_http import (  # noqa: F401 (canonical_request, signature: the contract's, re-exported)
    SignatureHeaders,
    SignedJsonClient,
    canonical_request,
    signature,
)
from chalicelib.adapters.signed_http import signature_problem as _signature_problem
from chalicelib.domain.platform import (
    AccountSource,
    Balances,
    Deduction,
    DeductionNotice,
    NoticeReceipt,
    NoticeReply,
    PlatformPerson,
    Refund,
    Settlement,
    StatementEntry,
)

# ---- request signing (both sides): the shared scheme of signed_http.py with the X-Platform-* headers ----------
HEADERS = SignatureHeaders("X-Platform")
APP_ID_HEADER, TIMESTAMP_HEADER = HEADERS.app_id, HEADERS.timestamp
NONCE_HEADER, SIGNATURE_HEADER = HEADERS.nonce, HEADERS.signature

# Development-only secret: the local stage's simulator and any client pointed at it agree on it.
_LOCAL_SECRET = "local-only-medical-platform-secret"  # config.py SETTINGS: the local default


def signing_secret() -> bytes:
    """The shared secret the bureau issued to this insurer (HMB_MEDICAL_PLATFORM_SECRET; read at call time)."""
    from chalicelib.config import get_settings

    secret = get_settings().medical_platform_secret
    if not secret:
        raise RuntimeError("HMB_MEDICAL_PLATFORM_SECRET is required to call the 医保 platform outside the local stage")
    return secret.encode()


def signature_problem(secret: bytes, method: str, path: str, query: Mapping[str, str],
                      headers: Mapping[str, str], body: bytes, now: float) -> str | None:
    """Server side (the sandbox's contract routes): None if signed with `secret` and fresh, else why not.
    `headers` has lower-case names."""
    return _signature_problem(HEADERS, secret, method, path, query, headers, body, now)


# ---- the client ---------------------------------------------------------------------------------------------
class HttpPlatform:
    """The 医保 platform reached over HTTPS.

    Transport failures, timeouts, 5xx and unreadable success bodies raise `PlatformUnavailable` (the outcome is
    unknown: look a deduction up by its idempotency key before acting again). A 4xx body `{code, message}` raises
    `PlatformError(code)`; lookups of something unknown return None.
    """

    def __init__(self, base_url: str, secret: bytes | None = None, app_id: str | None = None,
                 timeout: tuple[float, float] = (3.05, 10.0)) -> None:
        self._client = SignedJsonClient(base_url, (lambda: secret) if secret is not None else signing_secret,
                                        app_id or "huiminbao", HEADERS, PlatformUnavailable, PlatformError, timeout)

    # -- the port --
    def find_person(self, id_number: str) -> PlatformPerson | None:
        body = self._call("POST", "/persons/query", {"id_number": id_number}, absent=PERSON_NOT_FOUND)
        return None if body is None else _parse(PlatformPerson, body)

    def balances(self, id_number: str) -> Balances:
        return _parse(Balances, self._call("POST", "/accounts/balances/query", {"id_number": id_number}))

    def deduct(self, id_number: str, source: AccountSource, amount_fen: int, idempotency_key: str,
               reference: str) -> Deduction:
        payload = {"id_number": id_number, "source": source, "amount_fen": amount_fen,
                   "idempotency_key": idempotency_key, "reference": reference}
        return _parse(Deduction, self._call("POST", "/accounts/deductions", payload))

    def find_deduction(self, idempotency_key: str) -> Deduction | None:
        body = self._call("GET", f"/accounts/deductions/{quote(idempotency_key, safe='')}",
                          absent=DEDUCTION_NOT_FOUND)
        return None if body is None else _parse(Deduction, body)

    def refund(self, deduction_idempotency_key: str, amount_fen: int, idempotency_key: str) -> Refund:
        payload = {"deduction_idempotency_key": deduction_idempotency_key, "amount_fen": amount_fen,
                   "idempotency_key": idempotency_key}
        return _parse(Refund, self._call("POST", "/accounts/refunds", payload))

    def settlements_after(self, after_seq: int, limit: int = PAGE_LIMIT) -> list[Settlement]:
        body = self._call("GET", "/settlements", query={"after": str(after_seq), "limit": str(limit)})
        return [_parse(Settlement, r) for r in _listed(body, "settlements")]

    def send_deduction_notice(self, notice: DeductionNotice) -> NoticeReceipt:
        return _parse(NoticeReceipt, self._call("POST", "/notices/deductions", notice.model_dump(mode="json")))

    def notice_replies(self, after_seq: int, limit: int = PAGE_LIMIT) -> list[NoticeReply]:
        body = self._call("GET", "/notices/replies", query={"after": str(after_seq), "limit": str(limit)})
        return [_parse(NoticeReply, r) for r in _listed(body, "replies")]

    def account_statement(self, day: date) -> list[StatementEntry]:
        body = self._call("GET", "/accounts/statement", query={"date": day.isoformat()})
        return [_parse(StatementEntry, r) for r in _listed(body, "entries")]

    def send_identity_proof(self, id_number: str) -> str:
        body = self._call("POST", "/identity/proofs", {"id_number": id_number})
        sent_to = body.get("sent_to") if isinstance(body, dict) else None
        if not isinstance(sent_to, str) or not sent_to:
            raise PlatformUnavailable("unreadable identity proof response")
        return sent_to

    def check_identity_proof(self, id_number: str, code: str) -> bool:
        body = self._call("POST", "/identity/proofs/check", {"id_number": id_number, "code": code})
        valid = body.get("valid") if isinstance(body, dict) else None
        if not isinstance(valid, bool):
            raise PlatformUnavailable("unreadable identity proof check")
        return valid

    # -- transport (signed_http.SignedJsonClient) --
    def _call(self, method: str, path: str, payload: dict | None = None, *, query: dict[str, str] | None = None,
              absent: str | None = None) -> Any:
        return self._client.call(method, path, payload, query=query, absent=absent)


def _listed(body: Any, name: str) -> list:
    records = body.get(name) if isinstance(body, dict) else None
    if not isinstance(records, list):
        raise PlatformUnavailable(f"unreadable {name} response")
    return records


def _parse(model, data: Any):
    """A 2xx body that does not match the contract leaves the outcome unknown, like a timeout."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError:
        raise PlatformUnavailable(f"unreadable {model.__name__} in the platform's response") from None
