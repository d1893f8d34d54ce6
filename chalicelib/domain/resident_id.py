"""Resident identity numbers (居民身份证号码, GB 11643-1999).

stdnum's `cn.ric` alone is not enough (STYLE.md): it accepts future birth dates, has no sex helper, and refuses a
region code that did not exist in the birth year — yet such IDs are real (the code follows where the card was issued).
Here a region code is accepted if it was ever a known division code.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from chalicelib.domain.errors import BadRequest

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")  # ASCII only: \d would admit other scripts' digits


@dataclass(frozen=True)
class ResidentId:
    number: str
    region_code: str
    birth_date: date
    sex: str  # "male" | "female"

    @property
    def masked(self) -> str:
        return mask(self.number)


def mask(number: str) -> str:
    """First 6 and last 4 characters at most (DOMAIN §8)."""
    if len(number) < 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def check_digit(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


# Residence permits for Hong Kong, Macao and Taiwan residents (港澳台居民居住证) use GB 11643 numbers with these
# prefixes; Taiwan's 830000 is not a division code in stdnum's table (it lists Taiwan as 71).
RESIDENCE_PERMIT_REGIONS = frozenset({"810000", "820000", "830000"})


def region_known(code: str) -> bool:
    """A 6-digit division code known in any period (stdnum's historical table), county or city level."""
    from stdnum import numdb

    if code in RESIDENCE_PERMIT_REGIONS:
        return True
    info = numdb.get("cn/loc").info(code)
    return len(info) >= 2 and bool(info[0][1]) and bool(info[1][1])


def parse_resident_id(raw: str, today: date, field: str = "id_number") -> ResidentId:
    """Validate and decode; raises BadRequest('ID_NUMBER_INVALID') naming the reason in Chinese."""
    # NFKC turns full-width digits and Ｘ (typed with a Chinese input method) into ASCII.
    number = unicodedata.normalize("NFKC", raw or "").strip().upper()

    def bad(reason: str) -> BadRequest:
        return BadRequest("ID_NUMBER_INVALID", field=field, reason=reason)

    if not _SHAPE.match(number):
        raise bad("应为 18 位,前 17 位为数字,最后一位为数字或 X")
    if check_digit(number[:17]) != number[17]:
        raise bad("校验位不符,请核对是否输错")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise bad("出生日期不存在") from None
    if born > today:
        raise bad("出生日期晚于今天")
    if born.year < 1890:
        raise bad("出生日期不合理")
    if not region_known(number[:6]):
        raise bad("地区代码不存在")
    sex = "male" if int(number[16]) % 2 == 1 else "female"
    return ResidentId(number=number, region_code=number[:6], birth_date=born, sex=sex)


def make_test_id(region: str, born: date, seq: int, female: bool = False) -> str:
    """Build a valid ID for simulations and tests (never a real person's: seq chosen by the caller)."""
    seq = seq % 1000
    if (seq % 2 == 1) == female:  # odd = male
        seq = (seq + 1) % 1000
    body = f"{region}{born:%Y%m%d}{seq:03d}"
    return body + check_digit(body)
