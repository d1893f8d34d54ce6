"""The payout port over HTTPS (deployed stages): the insurer's payment gateway, contract in docs/payouts.md.

    POST /transfers            {idempotency_key, amount_fen, reference, payee: {account_name, bank_name,
                                account_number}} → 201 Transfer (the same transfer again for the same key)
    GET  /transfers/{key}      → Transfer, or 404 TRANSFER_NOT_FOUND
    GET  /statement?date=YYYY-MM-DD → {transfers: [Transfer]}  (the day's transfers, for reconciliation)

Signed like the 医保 platform's contract (signed_http.py) with the X-Payout-* headers. The sandbox serves the
simulator behind the same contract (chalicelib/api/sandbox_payout.py), and the contract tests run this client
against it over loopback HTTP.
"""
from __future__ import annotations

from datetime import date
from urllib.parse import quote

from pydantic import BaseModel

from chalicelib.adapters.payout import TRANSFER_NOT_FOUND, PayoutRefused, PayoutUnavailable
from chalicelib.adapters.signed_http import SignatureHeaders, SignedJsonClient
from chalicelib.domain.payout import Payee, Transfer

HEADERS = SignatureHeaders("X-Payout")
LOCAL_SECRET = b"local-only-payout-gateway-secret"


class TransferList(BaseModel):
    transfers: list[Transfer]


class HttpPayouts:
    def __init__(self, base_url: str, secret: bytes, app_id: str = "huiminbao",
                 timeout: tuple[float, float] = (3.05, 10.0)) -> None:
        self._client = SignedJsonClient(base_url, lambda: secret, app_id, HEADERS, PayoutUnavailable,
                                        PayoutRefused, timeout)

    def transfer(self, payee: Payee, amount_fen: int, idempotency_key: str, reference: str) -> Transfer:
        payload = {"idempotency_key": idempotency_key, "amount_fen": amount_fen, "reference": reference,
                   "payee": payee.model_dump()}
        return self._client.parse(Transfer, self._client.call("POST", "/transfers", payload))

    def find(self, idempotency_key: str) -> Transfer | None:
        body = self._client.call("GET", f"/transfers/{quote(idempotency_key, safe='')}", absent=TRANSFER_NOT_FOUND)
        return None if body is None else self._client.parse(Transfer, body)

    def statement(self, day: date) -> list[Transfer]:
        body = self._client.call("GET", "/statement", query={"date": day.isoformat()})
        return self._client.parse(TransferList, body).transfers
