"""One WeChat access token for every Lambda container.

WeChat allows each app a limited number of token fetches a day and, with the classic `cgi-bin/token`, every fetch
invalidates the token other containers hold — hundreds of containers at a launch peak churn the one app token and
each other's calls fail with 40001. So:

- the token comes from `POST /cgi-bin/stable_token` (stable mode: WeChat answers the current token while it is
  valid, a fetch does not invalidate it); `force_refresh: true` only when WeChat has refused the token;
- it is kept in the table (`WECHAT_TOKEN#{appid}` / `TOKEN`, with the DynamoDB TTL at its expiry) and in the container;
  a container replaces the stored token only by a conditional write (when the stored one is stale, or is the exact
  token WeChat refused), and only one container at a time may force a refresh (a short lease), so containers
  don't replace each other's fresh tokens.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

STABLE_TOKEN_URL = "https://api.weixin.qq.com/cgi-bin/stable_token"
EARLY_SECONDS = 300  # renew five minutes early, so a token never expires between our check and WeChat's
LEASE_SECONDS = 10
TIMEOUT_SECONDS = 3


class AccessTokenUnavailable(RuntimeError):
    pass


class TableTokenStore:
    """Where containers share the token. `table` is chalicelib.adapters.dynamodb.Table."""

    def __init__(self, table) -> None:
        self.table = table

    @staticmethod
    def _key(appid: str) -> dict[str, str]:
        from chalicelib.adapters import keys

        return keys.wechat_access_token(appid)

    def read(self, appid: str) -> dict[str, Any] | None:
        return self.table.get(self._key(appid))

    def replace(self, appid: str, token: str, expires_at: float, *, now: float, refused: str | None) -> bool:
        """Store `token` unless another container stored a good one first. Returns whether it was stored."""
        from chalicelib.adapters import schema
        from chalicelib.adapters.dynamodb import ConditionFailed

        condition = "attribute_not_exists(PK) OR valid_until < :fresh"
        values: dict[str, Any] = {":fresh": int(now) + EARLY_SECONDS}
        if refused is not None:
            condition += " OR access_token = :refused"
            values[":refused"] = refused
        try:
            self.table.put({**self._key(appid), "access_token": token, "valid_until": int(expires_at),
                            "fetched_at": int(now), schema.TTL_ATTRIBUTE: int(expires_at)},
                           condition=condition, values=values)
            return True
        except ConditionFailed:
            return False

    def lease(self, appid: str, refused: str, now: float) -> bool:
        """Only one container forces a refresh of a refused token: a conditional lease on the stored item."""
        from chalicelib.adapters.dynamodb import ConditionFailed

        try:
            self.table.update(self._key(appid), "SET lease_until = :until",
                              condition="access_token = :refused AND (attribute_not_exists(lease_until) "
                                        "OR lease_until < :now)",
                              values={":until": int(now) + LEASE_SECONDS, ":refused": refused, ":now": int(now)})
            return True
        except ConditionFailed:
            return False


class SharedAccessToken:
    def __init__(self, appid: str, secret: str, *, store: TableTokenStore | None = None, session: Any = None,
                 now: Callable[[], float] = time.time) -> None:
        self.appid, self._secret, self.store, self._session, self._now = appid, secret, store, session, now
        self._lock = threading.Lock()
        self._cached: tuple[str, float] | None = None

    def _http(self):
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    def get(self) -> str:
        """A valid token: this container's, else the table's, else a fetch (stable mode) stored for everyone."""
        with self._lock:
            now = self._now()
            if self._cached and self._cached[1] - EARLY_SECONDS > now:
                return self._cached[0]
            stored = self.store.read(self.appid) if self.store else None
            if stored and int(stored["valid_until"]) - EARLY_SECONDS > now:
                self._cached = (stored["access_token"], float(stored["valid_until"]))
                return self._cached[0]
            return self._fetch_and_share(force=False, refused=None)

    def refused(self, token: str) -> str | None:
        """WeChat refused `token` (40001/42001…): the token to try again with, or None if another container is
        renewing it right now (the caller gives up this once)."""
        with self._lock:
            self._cached = None
            now = self._now()
            stored = self.store.read(self.appid) if self.store else None
            if stored and stored["access_token"] != token and int(stored["valid_until"]) - EARLY_SECONDS > now:
                self._cached = (stored["access_token"], float(stored["valid_until"]))
                return self._cached[0]  # another container renewed it already
            if self.store and stored and not self.store.lease(self.appid, token, now):
                return None
            return self._fetch_and_share(force=True, refused=token)

    def _fetch_and_share(self, *, force: bool, refused: str | None) -> str:
        resp = self._http().post(STABLE_TOKEN_URL, timeout=TIMEOUT_SECONDS, headers={"Content-Type": "application/json"},
                                 data=json.dumps({"grant_type": "client_credential", "appid": self.appid,
                                                  "secret": self._secret, "force_refresh": force}))
        data = json.loads(resp.text)
        if not data.get("access_token"):
            raise AccessTokenUnavailable(f"access token refused (errcode {data.get('errcode')})")
        now = self._now()
        token, expires_at = data["access_token"], now + int(data.get("expires_in", 7200))
        if self.store and not self.store.replace(self.appid, token, expires_at, now=now, refused=refused):
            stored = self.store.read(self.appid)  # another container stored a good token first: use that one
            if stored:
                token, expires_at = stored["access_token"], float(stored["valid_until"])
        self._cached = (token, expires_at)
        return token
