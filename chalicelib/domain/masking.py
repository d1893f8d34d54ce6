"""Showing personal data to someone other than its owner (PIPL minimum necessary, DOMAIN §8).

ID numbers are masked by `resident_id.mask`; names and phone numbers here.
"""
from __future__ import annotations


def mask_name(name: str) -> str:
    """张三 → 张*, 张小三 → 张*三, 欧阳小明 → 欧**明, 阿依古丽·买买提 → 阿*******提 (first and last character kept)."""
    name = (name or "").strip()
    if len(name) <= 1:
        return "*" if name else ""
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str) -> str:
    """13812345678 → 138****5678."""
    if len(phone) != 11:
        return "*" * len(phone)
    return phone[:3] + "****" + phone[-4:]
