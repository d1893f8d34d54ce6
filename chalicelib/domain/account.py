"""A member account (账户) and the real person it is bound to (实名). Fields named once, here; keys, conditions and
transaction items are the repository's (adapters/repositories/accounts.py). Pure: no I/O."""
from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.errors import RuleViolation


class HoldsBoundPerson:
    """The one IDENTITY_REQUIRED rule, for every model of an account that carries its bound person's hash (the
    account itself; what placing an order reads of the payer, domain/order.py `OrderPayer`)."""

    if TYPE_CHECKING:
        person_hash: str | None

    def bound_person(self) -> str:
        """The bound person (hash), or 422 IDENTITY_REQUIRED: relatives, grants, renewals and paying from the
        personal account need 实名 first."""
        if not self.person_hash:
            raise RuleViolation("IDENTITY_REQUIRED")
        return self.person_hash


class Account(HoldsBoundPerson, BaseModel):
    # Attributes other code keeps on the account item pass through unchanged.
    model_config = ConfigDict(extra="allow")

    account_id: str
    created_at: str | None = None
    login_channel: str | None = None  # wechat | phone
    phone: str | None = None  # the phone it logs in with (SMS login); authorisations are held by phone
    openid: str | None = None
    # The bound person (None until 实名): keyed hash of the ID number, the platform's spelling of the name, the ID
    # number encrypted, birth date (ISO) and sex.
    person_hash: str | None = None
    person_name: str | None = None
    id_enc: str | None = None
    birth_date: str | None = None
    sex: str | None = None
    identity_bound_at: str | None = None
    identity_lost_at: str | None = None  # the person proved who they are from another account (recovery)


class BoundPerson(BaseModel):
    """What binding writes about the person, on the Person item (filled only where missing) and the account."""

    id_hash: str
    id_enc: str
    name: str
    birth_date: str
    sex: str
    region_code: str


class SmsCode(BaseModel):
    """The live SMS login code of a phone (its hash only), until used, voided or expired."""

    phone: str
    code_hash: str
    sent_at: str
    sent_epoch: int
    valid_until: int  # epoch seconds; also the item's TTL
    attempts: int = 0  # wrong tries so far
