"""GET /v1/disclosure/{plan_id} — the public figures of DOMAIN §8, by county and channel. No login, no person.

Ratios are decimal strings rounded half-up to 4 places (as plan ratios are elsewhere in the API); null when the
figure cannot be computed (no premium yet; no population figure for an enrolled rate).
"""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import endpoint
from chalicelib.api.schemas import ResponseModel

bp = Blueprint(__name__)


class Figures(ResponseModel):
    enrolled: int
    premium_fen: int
    cancelled: int
    claims_paid: int
    paid_fen: int
    claims_paid_auto: int
    auto_claim_share: str | None
    loss_ratio: str | None


class Totals(Figures):
    rate: str | None


class CountyFigures(Totals):
    county: str
    county_name: str
    insured_population: int | None
    participation_target: str | None
    target_met: bool | None


class ChannelFigures(Figures):
    channel: str
    channel_name: str


class CountyChannelFigures(Figures):
    county: str
    county_name: str
    channel: str
    channel_name: str


class DisclosureReport(ResponseModel):
    plan_id: str
    plan_name: str
    as_of: str
    totals: Totals
    by_county: list[CountyFigures]
    by_channel: list[ChannelFigures]
    by_county_channel: list[CountyChannelFigures]
    loss_ratio_target: str
    participation_target: str | None
    operating_fee_ratio: str
    insured_population_source: str | None
    insured_population_illustrative: bool
    notes: list[str]


@endpoint(bp, "/v1/disclosure/{plan_id}", summary="信息公示:分区县、分渠道的参保人数、保费、赔付与赔付率", auth="none",
          response=DisclosureReport, tags=("disclosure",))
def get_disclosure(ctx, plan_id: str):
    from chalicelib import deps
    from chalicelib.services import disclosure

    return DisclosureReport(**disclosure.report(deps.disclosure_counters(), plan_id, deps.clock().now()))
