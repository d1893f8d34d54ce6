"""Session tokens (HS256 JWT) and the caller of a request.

Members get tokens from the login endpoints; staff tokens carry a role and the staff issuer
(locally minted by POST /sandbox/staff-token; in deployed stages by the insurer's staff identity service that
shares the staff signing secret).
"""
from __future__ import annotations

import time
import uuid

from chalicelib.config import get_settings
from chalicelib.domain.errors import Forbidden, NotFound, Unauthorized
from chalicelib.domain.principal import ALL_CITIES, STAFF_ROLES, Principal, acts_for_city, require_city

__all__ = ["ALL_CITIES", "STAFF_ROLES", "Principal", "acts_for_city", "issue_member_token", "issue_staff_token",
           "require_city", "resolve"]

MEMBER_AUDIENCE = "huiminbao-member"
STAFF_AUDIENCE = "huiminbao-staff"


def issue_member_token(account_id: str, now: float | None = None) -> tuple[str, int]:
    import jwt

    s = get_settings()
    issued = int(now if now is not None else time.time())
    claims = {"sub": account_id, "aud": MEMBER_AUDIENCE, "iat": issued, "exp": issued + s.token_ttl_seconds,
              "jti": uuid.uuid4().hex}
    return jwt.encode(claims, s.token_secret, algorithm="HS256"), s.token_ttl_seconds


def issue_staff_token(staff_id: str, role: str, ttl: int = 8 * 3600, cities: list[str] | None = None) -> str:
    import jwt

    s = get_settings()
    issued = int(time.time())
    claims = {"sub": staff_id, "aud": STAFF_AUDIENCE, "iss": s.staff_token_issuer, "role": role, "iat": issued,
              "exp": issued + ttl, "cities": list(cities) if cities else [ALL_CITIES]}
    return jwt.encode(claims, s.staff_token_secret, algorithm="HS256")


def _bearer(request) -> str | None:
    headers = {k.lower(): v for k, v in (request.headers or {}).items()}
    value = headers.get("authorization", "")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("TOKEN_INVALID")
    return token.strip()


def _decode(token: str) -> Principal:
    import jwt

    s = get_settings()
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
        aud = unverified.get("aud")
        if aud == STAFF_AUDIENCE:
            claims = jwt.decode(token, s.staff_token_secret, algorithms=["HS256"], audience=STAFF_AUDIENCE,
                                issuer=s.staff_token_issuer, options={"require": ["exp", "sub", "role", "cities"]})
            if claims["role"] not in STAFF_ROLES or not _valid_cities(claims["cities"]):
                raise Unauthorized("TOKEN_INVALID")
            return Principal("staff", str(claims["sub"]), claims["role"], tuple(claims["cities"]))
        claims = jwt.decode(token, s.token_secret, algorithms=["HS256"], audience=MEMBER_AUDIENCE,
                            options={"require": ["exp", "sub"]})
        return Principal("member", str(claims["sub"]))
    except jwt.ExpiredSignatureError:
        raise Unauthorized("TOKEN_EXPIRED") from None
    except jwt.PyJWTError:
        raise Unauthorized("TOKEN_INVALID") from None


def resolve(request, mode: str) -> Principal | None:
    """mode: none | optional | member | staff | sandbox | wechat (wechat notifications verify their own signature)."""
    if mode in ("none", "wechat"):
        return None
    if mode == "sandbox":
        if not get_settings().is_local:  # defence in depth: the routes are not even registered elsewhere
            raise NotFound("ROUTE_NOT_FOUND")
        return None
    token = _bearer(request)
    if token is None:
        if mode == "optional":
            return None
        raise Unauthorized("TOKEN_MISSING")
    principal = _decode(token)
    if mode == "member" and principal.kind != "member":
        raise Forbidden("FORBIDDEN")
    if principal.kind == "member":
        _require_account(principal.subject)
    if mode == "staff" and principal.kind != "staff":
        raise Forbidden("STAFF_ONLY")
    return principal


# ---- a validly signed token for an account that does not exist is not a session (issue #10 item 4) ------------
_KNOWN_ACCOUNT_SECONDS = 60
_known_accounts: dict[str, float] = {}


def _require_account(account_id: str) -> None:
    """401 TOKEN_INVALID unless the account exists: checked once a minute per account and container (one
    consistent GetItem), so every route refuses the same way — not only those that load the account."""
    seen = _known_accounts.get(account_id)
    now = time.monotonic()
    if seen is not None and now - seen < _KNOWN_ACCOUNT_SECONDS:
        return
    from chalicelib import deps

    if deps.accounts().get(account_id) is None:
        raise Unauthorized("TOKEN_INVALID")
    if len(_known_accounts) > 10_000:
        _known_accounts.clear()
    _known_accounts[account_id] = now


# ---- staff act only for their cities (issue #10 item 11) -------------------------------------------------------
def _valid_cities(cities) -> bool:
    return (isinstance(cities, list) and 0 < len(cities) <= 500
            and all(isinstance(c, str) and (c == ALL_CITIES or (len(c) == 6 and c.isdigit())) for c in cities))
