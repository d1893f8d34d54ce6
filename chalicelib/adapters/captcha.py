"""The captcha port (滑块/图形验证): a client past the per-address challenge threshold proves it is a person.

`SimulatedCaptcha` (local stage): `POST /sandbox/captcha` issues a one-time ticket, as a solved challenge would.
`HttpCaptcha` (deployed stages): posts the ticket and the client address to the provider's verification endpoint
(HMB_CAPTCHA_URL, bearer HMB_CAPTCHA_SECRET) and expects `{"ok": true}`. Any failure to verify means "not solved":
the member is asked again, never let through.
"""
from __future__ import annotations

import secrets
import threading
from typing import Protocol


class Captcha(Protocol):
    def verify(self, ticket: str, client_address: str) -> bool: ...


class SimulatedCaptcha:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tickets: set[str] = set()

    def issue(self) -> str:
        ticket = "cap_" + secrets.token_urlsafe(16)
        with self._lock:
            self._tickets.add(ticket)
        return ticket

    def verify(self, ticket: str, client_address: str) -> bool:
        with self._lock:
            if ticket in self._tickets:
                self._tickets.remove(ticket)
                return True
            return False


class HttpCaptcha:
    TIMEOUT_SECONDS = 3

    def __init__(self, url: str, secret: str, session=None) -> None:
        self.url = url
        self._secret = secret
        self._session = session

    def verify(self, ticket: str, client_address: str) -> bool:
        import requests

        if self._session is None:
            self._session = requests.Session()
        try:
            response = self._session.post(self.url, json={"ticket": ticket, "user_ip": client_address},
                                          headers={"Authorization": f"Bearer {self._secret}"},
                                          timeout=self.TIMEOUT_SECONDS)
            return response.status_code == 200 and response.json().get("ok") is True
        except (requests.RequestException, ValueError, AttributeError):
            return False
