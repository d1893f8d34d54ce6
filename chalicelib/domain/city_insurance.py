"""A city's basic insurance (基本医疗保险) and 大病保险 parameters as validated data (DOMAIN §6, §12).

Used only to *simulate* the layers under 惠民保 when a member has a raw hospital bill and no settlement slip. Every
group carries where its figures come from: a `source` (document and article) or `illustrative: true` with a `basis`
saying what the figures were modelled on. An estimate that uses an illustrative group says so.

Shape:
- basic, per basic type (职工 / 城乡居民): one annual cap of the pooled fund (统筹基金最高支付限额) shared by every
  setting, and a rate per setting × hospital level (1–3): deductible (起付线), whether it applies once a year or per
  admission (`deductible_per`), and the ratio paid above it;
- 大病保险, per basic type: an annual deductible on the cumulative in-policy self-pay left after basic insurance,
  bands on the cumulative amount above it, like a tax schedule (阜新 002 §三: 60% to 50 000 yuan, 65% to 100 000,
  70% above), and an optional annual cap.
"""
from __future__ import annotations

import math
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from chalicelib.domain.vocabulary import SETTINGS, BasicType, Setting

HOSPITAL_LEVELS = (1, 2, 3)
HospitalLevel = Literal[1, 2, 3]
DeductiblePer = Literal["year", "admission"]


class CityInsuranceError(ValueError):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _unit_ratio(v: Decimal) -> Decimal:
    if not (Decimal("0") <= v <= Decimal("1")):
        raise ValueError("ratio must be within [0, 1]")
    return v


class _Provenance(_Strict):
    """Where a group's figures come from: a public document and article, or illustrative (no public document
    found) with what they were modelled on."""

    source: str | None = Field(default=None, min_length=1)
    illustrative: bool = False
    basis: str = ""

    @model_validator(mode="after")
    def _one_provenance(self):
        if (self.source is None) == (not self.illustrative):
            raise ValueError("a group names its source, or is marked illustrative (with a basis) — exactly one")
        if self.illustrative and not self.basis:
            raise ValueError("an illustrative group says what its figures are modelled on (basis)")
        return self


class BasicRate(_Strict):
    setting: Setting
    hospital_level: HospitalLevel
    deductible_fen: int = Field(ge=0)
    deductible_per: DeductiblePer
    ratio: Decimal

    _check_ratio = field_validator("ratio")(_unit_ratio)


class BasicGroup(_Provenance):
    basic_type: BasicType
    cap_fen: int | None = Field(default=None, ge=0, description="annual cap of the pooled fund; null = none")
    rates: list[BasicRate]

    @model_validator(mode="after")
    def _every_setting_and_level_once(self):
        keys = [(r.setting, r.hospital_level) for r in self.rates]
        wanted = {(s, lvl) for s in SETTINGS for lvl in HOSPITAL_LEVELS}
        if len(keys) != len(set(keys)) or set(keys) != wanted:
            raise ValueError(f"{self.basic_type}: rates must give every setting × hospital level exactly once")
        return self


class Band(_Strict):
    up_to_fen: int | None = Field(description="upper bound of the cumulative amount above the 大病 deductible; "
                                              "null = no bound")
    ratio: Decimal

    _check_ratio = field_validator("ratio")(_unit_ratio)


class CatastrophicGroup(_Provenance):
    basic_type: BasicType
    deductible_fen: int = Field(ge=0)
    bands: list[Band] = Field(min_length=1)
    cap_fen: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bands_like_a_tax_schedule(self):
        bounds = [b.up_to_fen for b in self.bands]
        if bounds[-1] is not None or any(b is None for b in bounds[:-1]):
            raise ValueError("only the last band is unbounded, and it must be")
        inner = [b for b in bounds[:-1] if b is not None]
        if any(b <= 0 for b in inner) or any(b2 <= b1 for b1, b2 in zip(inner, inner[1:], strict=False)):
            raise ValueError("band bounds must be positive and increase")
        return self


class CityInsurance(_Strict):
    city: str = Field(pattern=r"^\d{6}$")
    city_name: str
    notes: list[str] = []
    basic: list[BasicGroup] = Field(min_length=1)
    catastrophic: list[CatastrophicGroup] = Field(min_length=1)

    _rates: dict = PrivateAttr(default_factory=dict)
    _basic: dict = PrivateAttr(default_factory=dict)
    _catastrophic: dict = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _one_group_per_basic_type(self):
        basic = [g.basic_type for g in self.basic]
        catastrophic = [g.basic_type for g in self.catastrophic]
        if len(basic) != len(set(basic)) or len(catastrophic) != len(set(catastrophic)):
            raise ValueError("one basic and one 大病 group per basic type")
        if set(basic) != set(catastrophic):
            raise ValueError("every basic type with basic parameters has 大病 parameters, and the reverse")
        return self

    def model_post_init(self, _context) -> None:
        # Lookups, and the figures as integer fractions for the hot chain (layers.py): a ratio n/d rounds half up
        # exactly as (2·x·n + d) // (2·d), with no Decimal on the way.
        for group in self.basic:
            self._basic[group.basic_type] = group
            for rate in group.rates:
                n, d = rate.ratio.as_integer_ratio()
                self._rates[(group.basic_type, rate.setting, rate.hospital_level)] = (
                    rate, rate.deductible_fen, rate.deductible_per == "year", n, d, group.cap_fen, group)
        for group in self.catastrophic:
            fractions = [b.ratio.as_integer_ratio() for b in group.bands]
            common = math.lcm(*(d for _, d in fractions))
            bands = tuple((b.up_to_fen, n * (common // d), n, d, b.ratio)
                          for b, (n, d) in zip(group.bands, fractions, strict=True))
            self._catastrophic[group.basic_type] = (group, group.deductible_fen, bands, common, group.cap_fen)

    @property
    def basic_types(self) -> tuple[str, ...]:
        return tuple(self._basic)

    def basic_group(self, basic_type: str) -> BasicGroup | None:
        return self._basic.get(basic_type)

    def catastrophic_group(self, basic_type: str) -> CatastrophicGroup | None:
        entry = self._catastrophic.get(basic_type)
        return entry[0] if entry else None

    def rate(self, basic_type: str, setting: str, hospital_level: int) -> BasicRate | None:
        entry = self._rates.get((basic_type, setting, hospital_level))
        return entry[0] if entry else None

    def compiled(self) -> tuple[dict, dict]:
        """For layers.py, fetched once per request (private attributes go through pydantic's __getattr__):
        {(basic type, setting, level): (rate, deductible, per_year, n, d, cap, group)} and
        {basic type: (group, deductible, ((up_to, n·common/d, n, d, ratio), …), common, cap)}."""
        return self._rates, self._catastrophic
