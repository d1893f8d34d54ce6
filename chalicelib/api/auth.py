"""Session tokens (HS256 JWT) and the caller of a request.

Members get tokens from the login endpoints; staff tokens carry a role and the staff issuer
(locally minted by POST /sandbox/staff-token; in deployed stages by the insurer's staff identity service that
shares the staff signing secret).
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from chalicelib.config import get_settings
from chalicelib.domain.errors import Forbidden, NotFound, Unauthorized

MEMBER_AUDIENCE = "huiminbao-member"
STAFF_AUDIENCE = "huiminbao-staff"
STAFF_ROLES = ("claims_reviewer", "bureau", "insurer_admin")


@dataclass(frozen=True)
class Principal:
    kind: str  # "member" | "staff"
    subject: str  # account id for members, staff id for staff
    role: str | None = None
    cities: tuple[str, ...] | None = None  # staff: the cities (6-digit codes) they act for; None = every city

    def acts_for(self, city: str) -> bool:
        return self.kind == "staff" and (self.cities is None or city in self.cities)

    @property
    def account_id(self) -> str:
        if self.kind != "member":
            raise Forbidden("FORBIDDEN")
        return self.subject

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"


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
              "exp": issued + ttl}
    if cities is not None:  # the cities the staff member acts for (absent: every city)
        claims["cities"] = list(cities)
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
                                issuer=s.staff_token_issuer, options={"require": ["exp", "sub", "role"]})
            if claims["role"] not in STAFF_ROLES:
                raise Unauthorized("TOKEN_INVALID")
            cities = claims.get("cities")
            if cities is not None and not (isinstance(cities, list) and all(isinstance(c, str) for c in cities)):
                raise Unauthorized("TOKEN_INVALID")
            return Principal("staff", str(claims["sub"]), claims["role"],
                             tuple(cities) if cities is not None else None)
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
    if mode == "staff" and principal.kind != "staff":
        raise Forbidden("STAFF_ONLY")
    return principal
