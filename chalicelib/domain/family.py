"""A family member (家庭成员): a relative an account added so it may insure them. Fields named once, here; keys and
indexes are the repository's (adapters/repositories/family.py). Pure: no I/O."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class FamilyMember(BaseModel):
    model_config = ConfigDict(extra="allow")

    member_id: str  # stable per (account, person): adding the same relative twice lands on the same member
    account_id: str
    id_hash: str  # keyed hash of the relative's ID number
    id_enc: str  # the ID number, encrypted
    name: str  # the 医保 platform's spelling
    relationship: str
    birth_date: str  # ISO date
    sex: str
    created_at: str
