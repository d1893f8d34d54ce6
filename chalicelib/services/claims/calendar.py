"""The official calendar an operator loads each winter (PUT /v1/admin/calendar/{year}): the State Council's
holidays and make-up working days of a year, stored without a deploy. Loading a year recomputes the decision
deadlines (and so the staff-queue places) of the open claims, which then stop being `estimated` for that year."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from chalicelib.adapters.clock import iso
from chalicelib.adapters.dynamodb import ConditionFailed
from chalicelib.domain import claims as rules
from chalicelib.domain.claim_models import Claim
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.working_days import OfficialYear, WorkingCalendar, years_spanned
from chalicelib.services.claims import common
from chalicelib.services.claims.ports import ClaimPorts


def load_official_year(ports: ClaimPorts, principal, year: int, holidays: list[date], workdays: list[date],
                       now: datetime) -> dict[str, Any]:
    actor = common.staff(principal, common.CALENDAR_ROLES)
    try:
        official = OfficialYear.of(year, holidays, workdays)
    except ValueError as exc:
        raise BadRequest("CALENDAR_INVALID", field="holidays", problem=str(exc)) from None
    ports.calendar.put_year(official, actor.id, iso(now))
    return {"year": year, "holidays": sorted(d.isoformat() for d in official.holidays),
            "workdays": sorted(d.isoformat() for d in official.workdays), "loaded_by": actor.id,
            "loaded_at": iso(now), "claims_rescheduled": reschedule_open_claims(ports)}


def reschedule_open_claims(ports: ClaimPorts) -> int:
    """Recompute the deadline of every claim still awaiting a decision on the calendar as loaded now; returns how
    many changed. Each change is conditional on the claim's status and version (a claim decided meanwhile is left
    alone; one changed meanwhile is re-read)."""
    calendars: dict[tuple[int, ...], WorkingCalendar] = {}
    changed = 0
    for status in rules.BEFORE_DECISION:
        for claim in ports.claims.with_deadline(status):
            changed += _reschedule(ports, claim, calendars)
    return changed


def _reschedule(ports: ClaimPorts, claim: Claim | None, calendars: dict) -> int:
    for _ in range(common.WRITE_ATTEMPTS):
        if claim is None or claim.status not in rules.BEFORE_DECISION or claim.completed_at is None:
            return 0
        completed_on = date.fromisoformat(claim.completed_at[:10])
        years = years_spanned(completed_on, rules.DECISION_WORKING_DAYS)
        if years not in calendars:
            calendars[years] = WorkingCalendar(ports.calendar.years(years))
        due = rules.decision_due(completed_on, calendars[years])
        if (due.due, due.estimated) == (claim.decision_due, claim.decision_due_estimated):
            return 0
        after = claim.model_copy(update={"version": claim.version + 1, "decision_due": due.due,
                                         "decision_due_estimated": due.estimated})
        try:
            ports.claims.reschedule(claim, after)
            return 1
        except ConditionFailed:
            claim = ports.claims.get(claim.claim_id)
    return 0
