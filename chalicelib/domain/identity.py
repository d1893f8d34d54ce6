"""Rules for who a member is: phone numbers (login identifier), real names (实名), one-time login codes.

Pure functions; the ID number itself is in resident_id.py. Family members and authorisations reuse these rules.
"""
from __future__ import annotations

import re
from datetime import timedelta

from chalicelib.domain.errors import BadRequest

# Mainland mobile numbers: 11 digits, 1 then 3–9.
_PHONE = re.compile(r"^1[3-9][0-9]{9}$")  # ASCII digits only (\d admits any script's)

# Names on resident ID cards: Chinese characters (incl. extension A and the supplementary planes for rare
# characters), or Latin letters; ethnic-minority and transliterated names join parts with a middle dot.
_NAME_CHAR = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134fA-Za-z]"
_NAME = re.compile(rf"^{_NAME_CHAR}+(·{_NAME_CHAR}+)*$")
NAME_MIN, NAME_MAX = 2, 30
# Dots people type instead of U+00B7 (bullet, katakana middle dot, full-width stop, hyphenation point).
_DOT_VARIANTS = str.maketrans({"•": "·", "・": "·", "．": "·", "‧": "·", "∙": "·"})

SMS_CODE_LENGTH = 6
SMS_CODE_VALIDITY = timedelta(minutes=5)
SMS_RESEND_INTERVAL = timedelta(minutes=1)
SMS_MAX_WRONG_ATTEMPTS = 5
_SMS_CODE = re.compile(rf"^[0-9]{{{SMS_CODE_LENGTH}}}$")


def parse_phone(raw: str, field: str = "phone") -> str:
    """A mainland mobile number, or 400 PHONE_INVALID naming the field."""
    phone = (raw or "").strip()
    if not _PHONE.match(phone):
        raise BadRequest("PHONE_INVALID", field=field)
    return phone


def normalise_name(raw: str, field: str = "name") -> str:
    """A real name as written on the ID card (2–30 characters), or 400 NAME_INVALID naming the field."""
    name = (raw or "").strip().translate(_DOT_VARIANTS)
    if not NAME_MIN <= len(name) <= NAME_MAX or not _NAME.match(name):
        raise BadRequest("NAME_INVALID", field=field)
    return name


def same_person_name(given: str, on_record: str) -> bool:
    """Does the name a member typed match the name the 医保 platform holds? (dots and Latin case normalised)"""
    def norm(s: str) -> str:
        return s.strip().translate(_DOT_VARIANTS).casefold()

    return norm(given) == norm(on_record)


def check_sms_code_shape(raw: str, field: str = "code") -> str:
    code = (raw or "").strip()
    if not _SMS_CODE.match(code):
        raise BadRequest("SMS_CODE_FORMAT", field=field)
    return code
