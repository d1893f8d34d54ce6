"""Rules for who a member is: phone numbers (login identifier), real names (实名), one-time login codes.

Pure functions; the ID number itself is in resident_id.py. Family members and authorisations reuse these rules.
"""
from __future__ import annotations

import re
import unicodedata
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


# Characters that print as nothing but make two equal-looking names differ: zero-width space/joiners, word joiner,
# BOM, soft hyphen, bidi marks and embeddings/isolates, variation selectors, the Mongolian vowel separator.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufe00-\ufe0f"
                        "\ufeff\U000e0100-\U000e01ef]")


def canonical_name(raw: str) -> str:
    """The one spelling names are stored and compared in: dot variants → U+00B7, NFKC (compatibility ideographs such
    as U+F900 become their unified form 豈, full-width Latin becomes ASCII), invisible characters removed, outer
    whitespace trimmed. Applied at every boundary and to both sides of a compare."""
    name = unicodedata.normalize("NFKC", (raw or "").translate(_DOT_VARIANTS)).translate(_DOT_VARIANTS)
    return _INVISIBLE.sub("", name).strip()


def normalise_name(raw: str, field: str = "name") -> str:
    """A real name as written on the ID card (2–30 characters), or 400 NAME_INVALID naming the field."""
    name = canonical_name(raw)
    if not NAME_MIN <= len(name) <= NAME_MAX or not _NAME.match(name):
        raise BadRequest("NAME_INVALID", field=field)
    return name


def same_person_name(given: str, on_record: str) -> bool:
    """Does the name a member typed match the name the 医保 platform holds? (dots and Latin case normalised)"""
    def norm(s: str) -> str:
        return canonical_name(s).casefold()

    return norm(given) == norm(on_record)


def check_sms_code_shape(raw: str, field: str = "code") -> str:
    code = (raw or "").strip()
    if not _SMS_CODE.match(code):
        raise BadRequest("SMS_CODE_FORMAT", field=field)
    return code
