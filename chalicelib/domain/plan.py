"""A plan (one city × one coverage year) as validated data. No city's numbers live in code.

Guard rails (003 §二(一), 000 §三(二)): a plan may not condition enrolment on age, sex, occupation, health or medical
history, and may never cover the negative list; a premium above 10000 fen (新疆 guidance) loads with a warning.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chalicelib.domain.settlement import AutoClaims
from chalicelib.domain.vocabulary import (  # noqa: F401 (re-exported: the plan's vocabulary)
    CATEGORIES,
    SETTINGS,
    BasicType,
    Category,
    LifeEventKind,
    PaymentMethod,
    Relationship,
    Setting,
)

# Attributes a plan may never condition enrolment on.
FORBIDDEN_CONDITIONS = frozenset({
    "age", "min_age", "max_age", "sex", "gender", "occupation", "job", "health", "health_status",
    "medical_history", "history", "pre_existing_conditions", "pre_existing", "disease", "diagnosis",
})
PREMIUM_WARNING_FEN = 10000


class PlanError(ValueError):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CategoryRule(_Strict):
    covered: bool
    deductible_applies: bool = True
    factor: Decimal = Decimal("1")

    @field_validator("factor")
    @classmethod
    def _factor_range(cls, v: Decimal) -> Decimal:
        if not (Decimal("0") <= v <= Decimal("1")):
            raise ValueError("factor must be within [0, 1]")
        return v


class Tier(_Strict):
    up_to_fen: int | None = Field(description="upper bound of the cumulative eligible amount; null = no bound")
    ratio: Decimal

    @field_validator("ratio")
    @classmethod
    def _ratio_range(cls, v: Decimal) -> Decimal:
        if not (Decimal("0") <= v <= Decimal("1")):
            raise ValueError("ratio must be within [0, 1]")
        return v


class Benefits(_Strict):
    settings_covered: list[Setting]
    categories: dict[Category, CategoryRule]
    deductible_fen: int = Field(ge=0)
    tiers: list[Tier] = Field(min_length=1)
    annual_cap_fen: int | None = Field(default=None, ge=0)
    summary_zh: str = ""

    @model_validator(mode="after")
    def _check(self) -> Benefits:
        missing = [c for c in CATEGORIES if c not in self.categories]
        if missing:
            raise ValueError(f"every category must be configured; missing {missing}")
        if self.categories["negative_list"].covered:
            raise ValueError("guard rail: the negative list (负面清单) can never be covered")
        bounds = [t.up_to_fen for t in self.tiers]
        if bounds[-1] is not None or any(b is None for b in bounds[:-1]):
            raise ValueError("only the last tier is unbounded, and it must be")
        if any(b2 <= b1 for b1, b2 in zip(bounds[:-2], bounds[1:-1], strict=True)):  # type: ignore[operator]
            raise ValueError("tier bounds must increase")
        return self


class Premium(_Strict):
    amount_fen: int = Field(gt=0)
    basis: Literal["fixed", "pct_of_prior_year_disposable_income"]
    income_year: int | None = None
    income_per_capita_fen: int | None = None
    ratio: Decimal | None = None
    rounding: Literal["floor_yuan", "half_up_yuan", "half_up_fen"] | None = None
    source: str = ""

    @model_validator(mode="after")
    def _derived(self) -> Premium:
        if self.basis == "pct_of_prior_year_disposable_income":
            if None in (self.income_year, self.income_per_capita_fen, self.ratio, self.rounding):
                raise ValueError("a derived premium stores income_year, income_per_capita_fen, ratio and rounding")
            if self.computed_fen() != self.amount_fen:
                raise ValueError(f"premium {self.amount_fen} does not match its derivation {self.computed_fen()}")
        return self

    def computed_fen(self) -> int:
        from decimal import ROUND_FLOOR, ROUND_HALF_UP

        raw = Decimal(self.income_per_capita_fen or 0) * (self.ratio or 0)
        if self.rounding == "floor_yuan":
            return int((raw / 100).to_integral_value(ROUND_FLOOR)) * 100
        if self.rounding == "half_up_yuan":
            return int((raw / 100).to_integral_value(ROUND_HALF_UP)) * 100
        return int(raw.to_integral_value(ROUND_HALF_UP))


class DateWindow(_Strict):
    start: date
    end: date

    @model_validator(mode="after")
    def _order(self) -> DateWindow:
        if self.end < self.start:
            raise ValueError("window end before start")
        return self

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


class LifeEventRule(_Strict):
    kind: LifeEventKind
    max_days_after: int = Field(gt=0)
    label_zh: str


class Waiting(_Strict):
    """DOMAIN §4 as settings."""

    late_enrolment_allowed: bool
    late_waiting_months: int = Field(default=6, ge=0)
    first_year_grace: DateWindow | None = None
    life_events: list[LifeEventRule] = []
    basic_restored_waiting_months: int = Field(default=6, ge=0)
    renewal_without_gap_from_start: bool = True


class Eligibility(_Strict):
    basic_types_admitted: list[BasicType] = Field(min_length=1)
    excluded_programmes: list[str] = []
    # Conditions on anything else are refused at load (guard rail); kept as a field so a bad plan fails loudly.
    conditions: dict[str, object] = {}

    @field_validator("conditions")
    @classmethod
    def _no_forbidden_conditions(cls, v: dict[str, object]) -> dict[str, object]:
        bad = sorted(k for k in v if k.lower() in FORBIDDEN_CONDITIONS)
        if bad:
            raise ValueError(f"guard rail: a plan may not condition enrolment on {bad}")
        if v:
            raise ValueError(f"unknown eligibility conditions {sorted(v)}")
        return v


class PersonalAccountRule(_Strict):
    self_from_current_balance: bool = True
    relatives_from_prior_years: bool = True
    relationships_allowed: list[Relationship] = []
    max_relatives_per_payer: int = Field(default=0, ge=0)
    same_city_required: bool = True


class Disclosure(_Strict):
    """Public figures (DOMAIN §8). `insured_population`: basic-insurance participants per county — the enrolled
    rate's denominator, which only the 医保 bureau can state; left empty unless a source document gives it."""

    operating_fee_ratio: Decimal = Decimal("0")
    loss_ratio_target: Decimal = Decimal("0.95")
    participation_target: Decimal | None = None
    # A county's own target where the city assesses counties separately (浙丽保: each county's assessment).
    county_participation_targets: dict[str, Decimal] = {}
    counties: dict[str, str] = {}
    insured_population: dict[str, int] = {}
    insured_population_source: str = ""
    insured_population_illustrative: bool = False  # no public figure: the report says so on every rate

    @model_validator(mode="after")
    def _population_of_listed_counties(self) -> Disclosure:
        unlisted = sorted(set(self.insured_population) - set(self.counties))
        if unlisted:
            raise ValueError(f"insured_population names counties not listed in counties: {unlisted}")
        if any(n <= 0 for n in self.insured_population.values()):
            raise ValueError("insured_population counts must be positive")
        if self.insured_population and not (self.insured_population_source or self.insured_population_illustrative):
            raise ValueError("insured_population needs its source, or is marked illustrative")
        unlisted = sorted(set(self.county_participation_targets) - set(self.counties))
        if unlisted:
            raise ValueError(f"county_participation_targets names counties not listed in counties: {unlisted}")
        targets = [self.participation_target, *self.county_participation_targets.values()]
        if any(t is not None and not (Decimal("0") < t <= Decimal("1")) for t in targets):
            raise ValueError("participation targets must be within (0, 1]")
        if not (Decimal("0") <= self.operating_fee_ratio < Decimal("1")):
            raise ValueError("operating_fee_ratio must be within [0, 1)")
        return self


class RenewalDates(_Strict):
    """When the renewal into this plan notices and debits (DOMAIN §9.2–9.3). 浙丽保 names neither date: the plan
    files choose illustrative ones inside the window [interpretation], which the bureau confirms before a run."""

    notice_on: date
    deduction_on: date
    min_notice_days: int = Field(default=7, ge=1)
    source: str = ""


class BulkEnrolmentSettings(_Strict):
    """Bulk enrolment (DOMAIN §10.4) settings of a plan."""

    # A person on a subsidised list who had already paid for their own cover keeps that policy; the government takes
    # over the premium and the payment is refunded. [interpretation: on by default]
    take_over_self_paid: bool = True
    # Uploaded lists, their stored rows and the refused-row reports are deleted this many days after the batch was
    # accepted (S3 lifecycle on the upload prefix; DynamoDB TTL on the row items). Policies are kept.
    retention_days: int = Field(default=180, ge=1, le=3650)
    source: str = ""


# The most people one order may insure on any plan: the request schema (api/orders.py OrderIn) says the same, so
# the OpenAPI document states the limit as enforced; a plan may allow fewer (TOO_MANY_INSURED).
MAX_INSURED_PER_ORDER = 10


class Plan(_Strict):
    plan_id: str = Field(pattern=r"^[a-z]+-\d{4}$")
    scheme: str
    name: str
    city: str = Field(pattern=r"^\d{6}$")
    city_name: str
    insurer: str
    source_documents: list[str] = []
    coverage_start: date
    coverage_end: date
    window_start: date
    window_end: date
    sales_end: date
    first_operating_year: bool
    previous_plan_id: str | None = None
    premium: Premium
    payment_methods: list[PaymentMethod] = Field(min_length=1)
    personal_account: PersonalAccountRule | None = None
    max_insured_per_order: int = Field(default=MAX_INSURED_PER_ORDER, ge=1, le=MAX_INSURED_PER_ORDER)
    eligibility: Eligibility
    waiting: Waiting
    benefits: Benefits
    disclosure: Disclosure = Disclosure()
    notes: list[str] = []
    renewal: RenewalDates | None = None
    auto_claims: AutoClaims = AutoClaims()  # 免申即享 (DOMAIN §11); by default every automatic claim is reviewed
    bulk_enrolment: BulkEnrolmentSettings = BulkEnrolmentSettings()  # DOMAIN §10.4

    @model_validator(mode="after")
    def _renewal(self) -> Plan:
        r = self.renewal
        if r is None:
            return self
        if self.previous_plan_id is None:
            raise ValueError("renewal settings need previous_plan_id (the plan renewed into this one)")
        if "personal_account" not in self.payment_methods:
            raise ValueError("auto-renewal deducts from the personal account: the plan must accept it")
        if not (self.window_start <= r.notice_on < r.deduction_on <= self.window_end):
            raise ValueError("renewal dates must satisfy window_start ≤ notice_on < deduction_on ≤ window_end")
        if (r.deduction_on - r.notice_on).days < r.min_notice_days:
            raise ValueError(f"the notice must go out at least {r.min_notice_days} days before the deduction")
        return self

    def renewal_schedule(self):
        """The renewal into this plan as the domain's RenewalSchedule, or None when it renews nothing."""
        from chalicelib.domain.renewal import RenewalSchedule

        if self.renewal is None or self.previous_plan_id is None:
            return None
        return RenewalSchedule(from_plan_id=self.previous_plan_id, notice_on=self.renewal.notice_on,
                               deduction_on=self.renewal.deduction_on, min_notice_days=self.renewal.min_notice_days)

    @model_validator(mode="after")
    def _dates(self) -> Plan:
        if not (self.window_start <= self.window_end <= self.sales_end <= self.coverage_end):
            raise ValueError("dates must satisfy window_start ≤ window_end ≤ sales_end ≤ coverage_end")
        if self.coverage_end <= self.coverage_start:
            raise ValueError("coverage_end must follow coverage_start")
        if ("personal_account" in self.payment_methods) != (self.personal_account is not None):
            raise ValueError("personal_account settings go with the personal_account payment method")
        return self

    @property
    def premium_fen(self) -> int:
        return self.premium.amount_fen

    def warnings(self) -> list[str]:
        out = []
        if self.premium.amount_fen > PREMIUM_WARNING_FEN:
            out.append(f"premium {self.premium.amount_fen} fen is above the 10000 fen start-up guidance (新疆 003)")
        return out

    def status_on(self, today: date) -> str:
        """upcoming | open | closed — whether it can be bought today (coverage itself may still run)."""
        if today < self.window_start:
            return "upcoming"
        if today <= self.sales_end:
            return "open"
        return "closed"
