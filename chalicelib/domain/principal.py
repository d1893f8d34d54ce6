"""Who is calling, and the authorisation rules that need nothing but the caller: a member acts for their own
account; staff hold one role and act only for the 统筹区 (cities) their token names (issue #10 item 11).

How a caller is established (session tokens, the account check) is the API's business (api/auth.py); services and
the domain receive a `Principal` and ask it these questions.
"""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.errors import Forbidden

STAFF_ROLES = ("claims_reviewer", "bureau", "insurer_admin")
ALL_CITIES = "*"


@dataclass(frozen=True)
class Principal:
    kind: str  # "member" | "staff"
    subject: str  # account id for members, staff id for staff
    role: str | None = None
    cities: tuple[str, ...] = (ALL_CITIES,)  # staff: the 统筹区 codes they act for ("*" = every city)

    def acts_for(self, city: str) -> bool:
        return acts_for_city(self, city)

    @property
    def account_id(self) -> str:
        if self.kind != "member":
            raise Forbidden("FORBIDDEN")
        return self.subject

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"


def acts_for_city(principal: Principal, city: str) -> bool:
    return principal.kind == "staff" and (ALL_CITIES in principal.cities or city in principal.cities)


def require_city(principal: Principal, city: str) -> None:
    """403 CITY_NOT_ASSIGNED unless this staff member acts for this city."""
    if not acts_for_city(principal, city):
        raise Forbidden("CITY_NOT_ASSIGNED", city=city)
