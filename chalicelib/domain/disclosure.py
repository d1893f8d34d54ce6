"""Public disclosure figures (DOMAIN §8; 003 §三(五), 000 §三(七)3): per plan, by county and channel — enrolled count
and rate, premiums, claims and amounts paid, loss ratio against its target, participation target. Figures only: no
person appears here. Pure arithmetic over counters; the counters themselves are kept by services/disclosure.py.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from chalicelib.domain.messages import message_for
from chalicelib.domain.plan import Plan

RATIO_PLACES = Decimal("0.0001")
UNRECORDED_CHANNEL = "unrecorded"
CHANNEL_MESSAGE = {"personal_account": "CHANNEL_PERSONAL_ACCOUNT", "wechat_pay": "CHANNEL_WECHAT_PAY",
                   "subsidy": "CHANNEL_SUBSIDY", "collective": "CHANNEL_COLLECTIVE",
                   UNRECORDED_CHANNEL: "CHANNEL_UNRECORDED"}


@dataclass(frozen=True)
class Counts:
    """What one counter cell holds. `enrolled` and `premium_fen` are net of cancellations before benefits start."""

    enrolled: int = 0
    premium_fen: int = 0
    cancelled: int = 0
    claims_paid: int = 0
    paid_fen: int = 0
    claims_paid_auto: int = 0  # of claims_paid, those paid without an application (免申即享, DOMAIN §11.4)

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Counts:
        return cls(**{f.name: int(item.get(f.name) or 0) for f in fields(cls)})

    def nonzero(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


def counted_county(plan: Plan, platform_county: str | None) -> str:
    """The county an insured is counted in: the 医保 platform's record at issuance, else the plan's city."""
    return platform_county or plan.city


def merge(cells: Iterable[tuple[str, str, Counts]]) -> dict[tuple[str, str], Counts]:
    """Sum counts per (county, channel): one entry per counter cell (a transaction may touch an item once)."""
    merged: dict[tuple[str, str], Counts] = {}
    for county, channel, counts in cells:
        merged[(county, channel)] = merged.get((county, channel), Counts()) + counts
    return merged


def loss_ratio(paid_fen: int, premium_fen: int, operating_fee_ratio: Decimal) -> Decimal | None:
    """赔付率 = paid ÷ (premium × (1 − operating fee ratio)), rounded half-up to 4 places; None without premium."""
    net_premium = Decimal(premium_fen) * (Decimal(1) - operating_fee_ratio)
    if net_premium <= 0:
        return None
    return (Decimal(paid_fen) / net_premium).quantize(RATIO_PLACES, rounding=ROUND_HALF_UP)


def enrolled_rate(enrolled: int, population: int | None) -> Decimal | None:
    """参保率 = enrolled ÷ basic-insurance participants, rounded half-up to 4 places; None when unknown."""
    if not population:
        return None
    return (Decimal(enrolled) / Decimal(population)).quantize(RATIO_PLACES, rounding=ROUND_HALF_UP)


def auto_claim_share(counts: Counts) -> Decimal | None:
    """免申即享 share = claims paid without an application ÷ claims paid, half-up to 4 places; None before any."""
    if counts.claims_paid <= 0:
        return None
    return (Decimal(counts.claims_paid_auto) / Decimal(counts.claims_paid)).quantize(RATIO_PLACES,
                                                                                     rounding=ROUND_HALF_UP)


def county_target(plan: Plan, county: str) -> Decimal | None:
    """The participation target a county is assessed on: its own, else the plan's (温州/浙江: 50%)."""
    return plan.disclosure.county_participation_targets.get(county, plan.disclosure.participation_target)


def target_met(rate: Decimal | None, target: Decimal | None) -> bool | None:
    return None if rate is None or target is None else rate >= target


def county_name(plan: Plan, county: str) -> str:
    if county in plan.disclosure.counties:
        return plan.disclosure.counties[county]
    if county == plan.city:
        return message_for("DISCLOSURE_COUNTY_UNRECORDED", city_name=plan.city_name)
    return message_for("DISCLOSURE_COUNTY_OTHER", county=county)


def channel_name(channel: str) -> str:
    return message_for(CHANNEL_MESSAGE.get(channel, "CHANNEL_OTHER"), channel=channel)


def _ratio(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _figures(plan: Plan, counts: Counts) -> dict[str, Any]:
    return {"enrolled": counts.enrolled, "premium_fen": counts.premium_fen, "cancelled": counts.cancelled,
            "claims_paid": counts.claims_paid, "paid_fen": counts.paid_fen,
            "claims_paid_auto": counts.claims_paid_auto, "auto_claim_share": _ratio(auto_claim_share(counts)),
            "loss_ratio": _ratio(loss_ratio(counts.paid_fen, counts.premium_fen, plan.disclosure.operating_fee_ratio))}


def disclosure_figures(plan: Plan, cells: dict[tuple[str, str], Counts], as_of: str) -> dict[str, Any]:
    """The public report: totals and rollups by county, by channel and by both. Every listed county and every
    channel the plan offers appears, with zeros where nobody enrolled."""
    settings = plan.disclosure
    counties = list(settings.counties) + sorted({c for c, _ in cells} - set(settings.counties))
    channels = list(plan.payment_methods) + sorted({ch for _, ch in cells} - set(plan.payment_methods))
    by_county = {c: sum((n for (cc, _), n in cells.items() if cc == c), Counts()) for c in counties}
    by_channel = {ch: sum((n for (_, cch), n in cells.items() if cch == ch), Counts()) for ch in channels}
    totals = sum(cells.values(), Counts())
    # A plan-wide rate needs every listed county's population and nobody counted outside them.
    counted_outside = any(n.enrolled for c, n in by_county.items() if c not in settings.insured_population)
    population_known = bool(settings.insured_population) and not counted_outside \
        and set(settings.counties) == set(settings.insured_population)
    total_population = sum(settings.insured_population.values()) if population_known else None

    notes = [message_for("DISCLOSURE_NOTE_LOSS_RATIO", fee_pct=_percent(settings.operating_fee_ratio),
                         target_pct=_percent(settings.loss_ratio_target)),
             message_for("DISCLOSURE_NOTE_NET_OF_CANCELLATIONS")]
    if settings.participation_target is not None:
        notes.append(message_for("DISCLOSURE_NOTE_PARTICIPATION_TARGET",
                                 target_pct=_percent(settings.participation_target)))
    if not population_known:
        notes.append(message_for("DISCLOSURE_NOTE_RATE_UNAVAILABLE"))
    if settings.insured_population and settings.insured_population_illustrative:
        notes.append(message_for("DISCLOSURE_NOTE_POPULATION_ILLUSTRATIVE",
                                 source=settings.insured_population_source))
    if plan.city in by_county and plan.city not in settings.counties:
        notes.append(message_for("DISCLOSURE_NOTE_COUNTY_UNRECORDED", city_name=plan.city_name))
    return {
        "plan_id": plan.plan_id, "plan_name": plan.name, "as_of": as_of,
        "totals": {**_figures(plan, totals), "rate": _ratio(enrolled_rate(totals.enrolled, total_population))},
        "by_county": [_county_row(plan, c, n) for c, n in by_county.items()],
        "by_channel": [{"channel": ch, "channel_name": channel_name(ch), **_figures(plan, n)}
                       for ch, n in by_channel.items()],
        "by_county_channel": [{"county": c, "county_name": county_name(plan, c), "channel": ch,
                               "channel_name": channel_name(ch), **_figures(plan, cells[(c, ch)])}
                              for c in counties for ch in channels if (c, ch) in cells],
        "loss_ratio_target": str(settings.loss_ratio_target),
        "participation_target": _ratio(settings.participation_target),
        "operating_fee_ratio": str(settings.operating_fee_ratio),
        "insured_population_source": settings.insured_population_source or None,
        "insured_population_illustrative": settings.insured_population_illustrative,
        "notes": notes,
    }


def _county_row(plan: Plan, county: str, counts: Counts) -> dict[str, Any]:
    rate = enrolled_rate(counts.enrolled, plan.disclosure.insured_population.get(county))
    target = county_target(plan, county) if county in plan.disclosure.counties else None
    return {"county": county, "county_name": county_name(plan, county), **_figures(plan, counts),
            "rate": _ratio(rate), "insured_population": plan.disclosure.insured_population.get(county),
            "participation_target": _ratio(target), "target_met": target_met(rate, target)}


def _percent(ratio: Decimal) -> str:
    return f"{(ratio * 100).normalize():f}%"
