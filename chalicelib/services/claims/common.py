"""What the claim use cases share: who is acting, the benefit engine on a policy, the paid-bill check, the decision
deadline on the loaded calendar, timeline entries, and the notice to the member."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from chalicelib.adapters.clock import iso
from chalicelib.domain import benefits as engine
from chalicelib.domain import claims as rules
from chalicelib.domain.claim_models import (
    Actor,
    Bill,
    Claim,
    ClaimEvent,
    ClaimPolicy,
    Document,
    YearToDateFigures,
    bill_markers,
)
from chalicelib.domain.errors import Conflict, Forbidden, NotFound, RuleViolation, UpstreamUnavailable
from chalicelib.domain.messages import MESSAGES, term
from chalicelib.domain.plan import CATEGORIES
from chalicelib.domain.principal import Principal, require_city
from chalicelib.domain.working_days import Deadline, WorkingCalendar, years_spanned
from chalicelib.services.claims.ports import ClaimPorts

BANK_ACCOUNT_CONTEXT = "bank_account"  # AES-GCM associated data for payee account numbers
PAYEE_CONTEXT = "payee_account"  # a member's stored payee account (bound to the account id)
MAX_DOCUMENTS_PER_CLAIM = 40
WRITE_ATTEMPTS = 5  # after a version conflict (payment, verification), re-read and redo at most this often
REVIEW_ROLES = frozenset({"claims_reviewer", "insurer_admin"})
PAY_ROLES = frozenset({"insurer_admin"})  # separation of duties: the reviewer who approves does not pay
CALENDAR_ROLES = frozenset({"insurer_admin", "bureau"})
NOTIFY_TEMPLATE = "claim_status_changed"


# ---- who is acting -------------------------------------------------------------------------------------------------
def staff(principal, allowed: Iterable[str] | None = None) -> Actor:
    if allowed is not None and principal.role not in allowed:
        raise Forbidden("STAFF_ROLE_NOT_ALLOWED", role=principal.role)
    return Actor(kind="staff", id=principal.subject, role=principal.role)


def member(principal, roles: set[str]) -> Actor:
    return Actor(kind="member", id=principal.account_id, role="insured" if "insured" in roles else "proxy")


def require_plan_city(principal: Principal, plan_id: str) -> None:
    """403 CITY_NOT_ASSIGNED unless this staff member acts for the plan's city (issue #10)."""
    from chalicelib.plans import get_plan

    require_city(principal, get_plan(plan_id).city)


def claim_or_404(ports: ClaimPorts, claim_id: str) -> Claim:
    claim = ports.claims.get(claim_id)
    if claim is None:
        raise NotFound("CLAIM_NOT_FOUND")
    return claim


def claimant_side(ports: ClaimPorts, principal, claim: Claim) -> Actor:
    """The member acting on a claim must be its insured or hold the insured's `claims` authorisation; anyone else
    (including a payer without it) gets 404, as if the claim did not exist."""
    try:
        _, roles = ports.claimants.policy_for_claimant(principal, claim.policy_id)
    except NotFound:
        raise NotFound("CLAIM_NOT_FOUND") from None
    return member(principal, roles)


def load_for_member(ports: ClaimPorts, principal, claim_id: str) -> tuple[Claim, Actor]:
    claim = claim_or_404(ports, claim_id)
    return claim, claimant_side(ports, principal, claim)


# ---- bills and the benefit engine --------------------------------------------------------------------------------
def engine_bill(bill: Bill) -> engine.Bill:
    """A bill in the API's shape (`service_date`, `setting`, `<category>_fen`) as the engine's Bill."""
    return engine.Bill(service_date=date.fromisoformat(str(bill["service_date"])), setting=bill["setting"],
                       amounts={c: int(bill.get(f"{c}_fen") or 0) for c in CATEGORIES})


def engine_ytd(figures: YearToDateFigures) -> engine.YearToDate:
    return engine.YearToDate(figures.deductible_used_fen, figures.eligible_fen, figures.paid_fen)


def figures(ytd: engine.YearToDate) -> YearToDateFigures:
    return YearToDateFigures(deductible_used_fen=ytd.deductible_used_fen, eligible_fen=ytd.eligible_fen,
                             paid_fen=ytd.paid_fen)


def check_bills_in_benefit_period(policy: ClaimPolicy, bills: list[Bill], today: date) -> None:
    """Every bill must fall in the policy's benefit period (待遇期) and not lie in the future (422 otherwise)."""
    start, end = policy.benefit_start, policy.coverage_end
    for index, bill in enumerate(bills):
        day = date.fromisoformat(str(bill["service_date"]))
        if day > today:
            raise RuleViolation("CLAIM_BILL_IN_FUTURE", field=f"bills.{index}.service_date", index=index + 1,
                                service_date=day.isoformat())
        if not start <= day <= end:
            raise RuleViolation("CLAIM_BILL_OUTSIDE_BENEFIT_PERIOD", field=f"bills.{index}.service_date",
                                index=index + 1, service_date=day.isoformat(), benefit_start=start.isoformat(),
                                coverage_end=end.isoformat())


def compute(ports: ClaimPorts, policy: ClaimPolicy, bills: list[Bill]) -> engine.Estimate:
    """The engine on the policy's benefit period and year-to-date state, minus the insured's basic-insurance
    suspensions (DOMAIN §2.4, §4.5) as the 医保 platform reports them now. Money follows this figure, so a platform
    outage is a 503, not a guess."""
    from chalicelib.adapters.medical_platform import PlatformError, PlatformUnavailable
    from chalicelib.plans import get_plan
    from chalicelib.services.estimates import excluded_periods

    plan = get_plan(policy.plan_id)
    period = engine.BenefitPeriod(policy.benefit_start, policy.coverage_end)
    excluded: list = []
    if policy.insured_id_enc:
        try:
            person = ports.platform.find_person(ports.cipher.decrypt(policy.insured_id_enc, "id_number"))
        except (PlatformUnavailable, PlatformError):
            raise UpstreamUnavailable("UPSTREAM_UNAVAILABLE", system=term("SYSTEM_PLATFORM")) from None
        excluded = excluded_periods(person, plan) if person is not None else []
    return engine.compute(plan.benefits, engine_ytd(policy.year_to_date), [engine_bill(b) for b in bills],
                          benefit_period=period, excluded_periods=excluded)


def unpaid_bill_fingerprints(ports: ClaimPorts, claim_id: str | None, policy_id: str, bills: list[Bill]) -> list[str]:
    """The same bill may be paid once per policy (DOMAIN §5: the year-to-date state would count it twice). Returns
    the bills' fingerprints (the markers the paying transaction puts); 409 naming the bill if one was paid already
    by another claim, or repeats an earlier bill of the same claim."""
    per_bill: list[list[str]] = []
    for index, bill in enumerate(bills):
        markers = bill_markers(bill)
        for earlier, seen in enumerate(per_bill):
            if set(markers) & set(seen):
                raise Conflict("CLAIM_BILL_REPEATED", field=f"bills.{index}", index=index + 1, first=earlier + 1)
        per_bill.append(markers)
    prints = [m for markers in per_bill for m in markers]
    paid = ports.claims.paid_bills(policy_id, prints) if prints else {}
    for index, markers in enumerate(per_bill):
        other = next((paid[m] for m in markers if m in paid and paid[m] != claim_id), None)
        if other is not None:
            raise Conflict("CLAIM_BILL_ALREADY_PAID", field=f"bills.{index}", index=index + 1, other_claim_id=other)
    return prints


# ---- the decision deadline ---------------------------------------------------------------------------------------
def calendar_for(ports: ClaimPorts, start: date) -> WorkingCalendar:
    """The statutory calendar with the official years a deadline from `start` may reach (one read)."""
    return WorkingCalendar(ports.calendar.years(years_spanned(start, rules.DECISION_WORKING_DAYS)))


def deadline(ports: ClaimPorts, completed_on: date) -> Deadline:
    return rules.decision_due(completed_on, calendar_for(ports, completed_on))


def completed(claim: Claim, now: datetime, due: Deadline) -> Claim:
    return claim.model_copy(update={"completed_at": iso(now), "decision_due": due.due,
                                    "decision_due_estimated": due.estimated})


# ---- timeline ------------------------------------------------------------------------------------------------------
def events_for(before: Claim, path: list[str], actor: Actor, now: datetime, note: str | None) -> list[ClaimEvent]:
    """One timeline entry per state passed through; the note goes with the last."""
    return [ClaimEvent(claim_id=before.claim_id, seq=before.version + step, status=status, at=iso(now),
                       note=note if status == path[-1] else None, by=actor)
            for step, status in enumerate(path, start=1)]


def document_states(docs: Iterable[Document]) -> list[rules.DocumentState]:
    return [rules.DocumentState(d.kind, d.status) for d in docs]


def missing_documents(claim: Claim, docs: Iterable[Document]) -> list[str]:
    return rules.missing_for_completeness(document_states(docs)) if claim.requires_documents else []


# ---- notifications -------------------------------------------------------------------------------------------------
UNKNOWN = object()  # "not looked up yet" (None is a real answer: the insured has no account)


def notify(ports: ClaimPorts, claim: Claim, status: str, note: str | None, insured_account=UNKNOWN) -> None:
    """Tell the claimant (and the insured, when someone else claimed for them) that the status changed. The notice
    names the claim and its status only — no bill, amount of care, or bank detail."""
    from chalicelib.observability import logger

    try:
        recipients = [claim.claimant_account_id] if claim.claimant_account_id else []
        if insured_account is UNKNOWN:
            insured_account = ports.claimants.account_of_insured(claim.insured_hash)
        if insured_account:
            recipients.append(insured_account)
        data = {"claim_id": claim.claim_id, "status": status,
                "status_zh": MESSAGES[f"CLAIM_STATUS_{status.upper()}"], "note": note or ""}
        for account_id in dict.fromkeys(recipients):
            ports.notifier.notify(account_id, NOTIFY_TEMPLATE, data)
    except Exception as exc:  # noqa: BLE001 — the status change is committed; a notice must never undo or fail it
        logger().warning("claim notification not sent", extra={"error_type": type(exc).__name__})


def yesterday(today: date) -> date:
    return today - timedelta(days=1)
