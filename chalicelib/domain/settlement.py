"""免申即享 (DOMAIN §11): a settlement record (结算单) from the 医保 platform turned into the bill a claim pays.

Records arrive in the national 医保信息平台 settlement shape (interface 2304 output; amounts in yuan with two
decimals). Before anything is paid the record must add up; a record that does not goes to staff review and pays
nothing. The mapping of its amounts to DOMAIN §5's categories is a plan setting (`AutoClaims.mapping`):

    fulamt_ownpay_amt (全自费)            → self_pay
    overlmt_selfpay (超限价自费)          → restricted
    preselfpay_amt (先行自付)             → class_b_prepay
    inscp_scp_amt − hifp_pay − Σ 大病 funds (符合范围内个人负担)
                                          → in_policy_after_catastrophic when a 大病 fund paid on this record,
                                            else in_policy_below_catastrophic
    maf_pay (医疗救助) is not subtracted: assistance comes last, after 惠民保 [interpretation, DOMAIN §11.2].

The 大病 funds are `hifmi_pay` (居民大病保险) and `hifob_pay` (职工大额医疗费用补助, the employee counterpart)
[interpretation]. What the slip cannot place — negative-list items inside 全自费, admission-list services,
transfer-out self-pay — is not guessed: the member is told they may claim it by hand, with documents.
Pure: no I/O.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chalicelib.domain.vocabulary import Setting

# National med_type codes (医疗类别) → our settings. Others (e.g. 12 急诊? 13 门诊挂号, 41 生育) are not placed.
MED_TYPES: dict[str, Setting] = {"11": "outpatient", "14": "special_outpatient", "21": "inpatient"}
MONEY_FIELDS: tuple[str, ...] = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt",
                                 "inscp_scp_amt", "hifp_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay",
                                 "psn_part_amt", "acct_pay", "acct_mulaid_pay", "psn_cash_pay")
FUND_FIELDS: tuple[str, ...] = ("hifp_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay")
UNPLACED_CATEGORIES: tuple[str, ...] = ("negative_list", "admission_list", "transfer_out")
ReviewReason = Literal["SETTLEMENT_SUMS_MISMATCH", "SETTLEMENT_COMPOSITION_MISMATCH",
                       "SETTLEMENT_PERSONAL_PART_MISMATCH", "SETTLEMENT_NEGATIVE_IN_POLICY",
                       "SETTLEMENT_MED_TYPE_UNKNOWN", "SETTLEMENT_AMOUNT_INVALID"]


class SettlementMapping(BaseModel):
    """Which record field feeds which §5 category (a plan setting; the default is DOMAIN §11.2's)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    direct: dict[str, str] = Field(default_factory=lambda: {
        "fulamt_ownpay_amt": "self_pay", "overlmt_selfpay": "restricted", "preselfpay_amt": "class_b_prepay"})
    catastrophic_funds: tuple[str, ...] = ("hifmi_pay", "hifob_pay")
    subtract_from_in_policy: tuple[str, ...] = ("hifp_pay", "hifmi_pay", "hifob_pay")

    @field_validator("direct")
    @classmethod
    def _known(cls, v: dict[str, str]) -> dict[str, str]:
        from chalicelib.domain.vocabulary import CATEGORIES

        bad = sorted(k for k in v if k not in MONEY_FIELDS) + sorted(c for c in v.values() if c not in CATEGORIES)
        if bad:
            raise ValueError(f"unknown settlement fields or categories: {bad}")
        return v


class AutoClaims(BaseModel):
    """免申即享 settings of a plan (DOMAIN §11.3): up to what amount the system approves and pays by itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    auto_approve_max_fen: int = Field(default=0, ge=0)  # 0 = every automatic claim is reviewed by staff
    mapping: SettlementMapping = SettlementMapping()
    source: str = ""


class NationalSettlement(BaseModel):
    """One record in the national 2304 output shape; money as decimal strings in yuan (two decimals at most)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    setl_id: str = Field(min_length=1, max_length=64)
    setl_time: datetime
    med_type: str = Field(min_length=1, max_length=6)
    medfee_sumamt: Decimal
    fulamt_ownpay_amt: Decimal = Decimal("0")
    overlmt_selfpay: Decimal = Decimal("0")
    preselfpay_amt: Decimal = Decimal("0")
    inscp_scp_amt: Decimal = Decimal("0")
    hifp_pay: Decimal = Decimal("0")
    hifmi_pay: Decimal = Decimal("0")
    hifob_pay: Decimal = Decimal("0")
    maf_pay: Decimal = Decimal("0")
    oth_pay: Decimal = Decimal("0")
    psn_part_amt: Decimal = Decimal("0")
    acct_pay: Decimal = Decimal("0")
    acct_mulaid_pay: Decimal = Decimal("0")
    psn_cash_pay: Decimal = Decimal("0")

    def fen(self, name: str) -> int:
        return yuan_to_fen(getattr(self, name))


def yuan_to_fen(amount: Decimal) -> int:
    """Exact: 123.45 yuan → 12345 fen. More than two decimals, a negative or a non-finite amount is refused."""
    try:
        fen = amount * 100
        if not fen.is_finite() or fen != fen.to_integral_value() or fen < 0:
            raise ValueError(f"not a non-negative amount in yuan with at most two decimals: {amount}")
    except InvalidOperation:
        raise ValueError(f"not an amount: {amount}") from None
    return int(fen)


class SlipBill(BaseModel):
    """What a record pays through §5: a bill in fen by category, and what it could not place."""

    model_config = ConfigDict(frozen=True)

    settlement_id: str
    service_date: date
    setting: Setting
    amounts_fen: dict[str, int]
    unplaced: tuple[str, ...] = UNPLACED_CATEGORIES
    total_fen: int


class ForReview(BaseModel):
    """A record that must not be paid automatically, and why (codes, with the figures staff need)."""

    model_config = ConfigDict(frozen=True)

    settlement_id: str
    reasons: tuple[str, ...]
    details: dict[str, int | str] = {}


def to_bill(record: NationalSettlement, mapping: SettlementMapping | None = None) -> SlipBill | ForReview:
    """The sum checks, then the mapping. Never raises for a bad record: it is sent to review instead."""
    mapping = mapping or SettlementMapping()
    try:
        f = {name: record.fen(name) for name in MONEY_FIELDS}
    except ValueError:
        return ForReview(settlement_id=record.setl_id, reasons=("SETTLEMENT_AMOUNT_INVALID",))
    reasons: list[str] = []
    details: dict[str, int | str] = {}
    funds = sum(f[n] for n in FUND_FIELDS)
    if f["medfee_sumamt"] != funds + f["psn_part_amt"]:  # DOMAIN §11.2
        reasons.append("SETTLEMENT_SUMS_MISMATCH")
        details["funds_plus_personal_fen"] = funds + f["psn_part_amt"]
    composition = f["fulamt_ownpay_amt"] + f["overlmt_selfpay"] + f["preselfpay_amt"] + f["inscp_scp_amt"]
    if f["medfee_sumamt"] != composition:  # 总额 = 全自费 + 超限价 + 先行自付 + 符合范围
        reasons.append("SETTLEMENT_COMPOSITION_MISMATCH")
        details["composition_fen"] = composition
    if f["psn_part_amt"] != f["acct_pay"] + f["acct_mulaid_pay"] + f["psn_cash_pay"]:
        reasons.append("SETTLEMENT_PERSONAL_PART_MISMATCH")
    in_policy_left = f["inscp_scp_amt"] - sum(f[n] for n in mapping.subtract_from_in_policy)
    if in_policy_left < 0:
        reasons.append("SETTLEMENT_NEGATIVE_IN_POLICY")
    setting = MED_TYPES.get(record.med_type)
    if setting is None:
        reasons.append("SETTLEMENT_MED_TYPE_UNKNOWN")
        details["med_type"] = record.med_type
    if reasons:
        details["medfee_sumamt_fen"] = f["medfee_sumamt"]
        return ForReview(settlement_id=record.setl_id, reasons=tuple(reasons), details=details)
    amounts: dict[str, int] = {}
    for name, category in mapping.direct.items():
        if f[name]:
            amounts[category] = amounts.get(category, 0) + f[name]
    catastrophic_paid = any(f[n] > 0 for n in mapping.catastrophic_funds)
    if in_policy_left:
        key = "in_policy_after_catastrophic" if catastrophic_paid else "in_policy_below_catastrophic"
        amounts[key] = amounts.get(key, 0) + in_policy_left
    return SlipBill(settlement_id=record.setl_id, service_date=service_date(record.setl_time), setting=setting,
                    amounts_fen=amounts, total_fen=f["medfee_sumamt"])


def service_date(settled_at: datetime) -> date:
    """The service date is the settlement time's date in China (a time without an offset is taken as China's)."""
    from datetime import timedelta, timezone

    if settled_at.tzinfo is None:
        return settled_at.date()
    return settled_at.astimezone(timezone(timedelta(hours=8))).date()


def from_sandbox(settlement_id: str, service_date: date, setting: str, amounts_fen: Mapping[str, int]) -> SlipBill:
    """A record already in §5's categories (the sandbox's own shape): nothing to map, nothing unplaced but what
    the categories leave out."""
    unplaced = tuple(c for c in UNPLACED_CATEGORIES if not amounts_fen.get(c))
    return SlipBill(settlement_id=settlement_id, service_date=service_date, setting=setting,  # type: ignore[arg-type]
                    amounts_fen={k: v for k, v in amounts_fen.items() if v}, unplaced=unplaced,
                    total_fen=sum(amounts_fen.values()))
