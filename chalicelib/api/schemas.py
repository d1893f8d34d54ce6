"""Request/response models shared by several route modules. Requests are strict and forbid unknown fields."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    """Base of every request body: unknown fields and wrong JSON types are refused (400 naming the field)."""

    # defer_build: validators are built on first use, not at import (cold start is product quality)
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)


# ---- patterns the OpenAPI document states (issue #10 item 9) ---------------------------------------------------
# Documented with json_schema_extra rather than enforced by pydantic, so the domain parsers keep answering with
# their own codes (PHONE_INVALID, ID_NUMBER_INVALID naming the reason) — the check digit is beyond any pattern.
PHONE_PATTERN = r"^1[3-9][0-9]{9}$"
ID_NUMBER_PATTERN = r"^[1-9][0-9]{5}(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]$"
SMS_CODE_PATTERN = r"^[0-9]{6}$"
ACCOUNT_NUMBER_PATTERN = r"^[0-9]{12,30}$"
PHONE_SCHEMA = {"pattern": PHONE_PATTERN, "examples": ["13800138000"]}
ID_NUMBER_SCHEMA = {"pattern": ID_NUMBER_PATTERN, "description": "18 位居民身份证号码(含校验位)"}
# A name as domain/identity.py normalise_name accepts it once canonical (Chinese characters of the basic plane and
# extension A, compatibility ideographs, Latin letters; parts joined by a middle dot; 2–30 characters). The code
# also accepts what folds to that (full-width letters, other dots, rare characters of the supplementary planes).
NAME_PATTERN = r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaffA-Za-z]+(·[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaffA-Za-z]+)*$"
NAME_SCHEMA = {"pattern": NAME_PATTERN, "minLength": 2, "maxLength": 30}
