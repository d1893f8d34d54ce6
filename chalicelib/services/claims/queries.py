"""Views of claims: the member's list and a claim's file (documents, timeline, deadline), the staff queue, and the
claims past their decision deadline."""
from __future__ import annotations

import base64
import binascii
import json
from datetime import date
from typing import Any

from chalicelib.adapters.repositories.claims import queue_sort_key
from chalicelib.domain import benefits as engine
from chalicelib.domain import claims as rules
from chalicelib.domain.claim_models import Claim, ClaimEvent, Document
from chalicelib.domain.errors import BadRequest, NotFound
from chalicelib.domain.messages import MESSAGES, message_for
from chalicelib.services.claims import common
from chalicelib.services.claims.ports import ClaimPorts


def _dump(model) -> dict[str, Any] | None:
    return model.model_dump(mode="json") if model is not None else None


def _deadline_view(claim: Claim, today: date) -> dict[str, Any]:
    if claim.decision_due is None:
        note = MESSAGES["CLAIM_DEADLINE_NOT_STARTED"] if claim.status in rules.BEFORE_DECISION else None
        return {"decision_due": None, "decision_due_estimated": False, "decision_due_note": note, "overdue": False}
    due = claim.decision_due.isoformat()
    note = None  # decided: the promise of a decision by a date is no longer news
    if claim.status in rules.BEFORE_DECISION:
        note = message_for("CLAIM_DEADLINE_ESTIMATED" if claim.decision_due_estimated else "CLAIM_DEADLINE",
                           due=due)
    overdue = claim.status in rules.BEFORE_DECISION and claim.decision_due < today
    return {"decision_due": due, "decision_due_estimated": claim.decision_due_estimated, "decision_due_note": note,
            "overdue": overdue}


def claim_summary(claim: Claim, today: date) -> dict[str, Any]:
    return {"claim_id": claim.claim_id, "policy_id": claim.policy_id, "plan_id": claim.plan_id,
            "status": claim.status, "status_zh": MESSAGES[f"CLAIM_STATUS_{claim.status.upper()}"],
            "submitted_at": claim.submitted_at, "estimate_fen": claim.estimate_fen,
            "approved_fen": claim.approved_fen, "paid_fen": claim.paid_fen, "claimant": claim.claimant_role,
            "channel": claim.channel, "payout": _payout_view(claim), **_deadline_view(claim, today)}


def _payout_view(claim: Claim) -> dict[str, Any] | None:
    """The transfer as the member may see it: status in Chinese, amount, the bank's reason when it failed."""
    payout = claim.payout
    if payout is None:
        return None
    view: dict[str, Any] = {"status": payout.status, "status_zh": MESSAGES[f"PAYOUT_STATUS_{payout.status.upper()}"],
                            "amount_fen": payout.amount_fen, "attempt": payout.attempt,
                            "requested_at": payout.requested_at, "finished_at": payout.finished_at}
    if payout.failure_code:
        view["failure"] = {"code": payout.failure_code,
                           "message": message_for(f"PAYOUT_FAILURE_{payout.failure_code}")}
    return view


def staff_summary(claim: Claim, today: date) -> dict[str, Any]:
    from chalicelib.domain.masking import mask_name

    return {**claim_summary(claim, today), "insured_name_masked": mask_name(claim.insured_name or "")}


def document_view(ports: ClaimPorts, doc: Document, with_url: bool) -> dict[str, Any]:
    view: dict[str, Any] = {"document_id": doc.document_id, "kind": doc.kind, "content_type": doc.content_type,
                            "size_bytes": doc.size_bytes, "status": doc.status, "created_at": doc.created_at,
                            "verified_at": doc.verified_at}
    if doc.reason_code:
        view["reason"] = message_for(doc.reason_code, max_mb=ports.documents.max_bytes // (1024 * 1024))
    if with_url and doc.status != "awaiting_upload":
        from chalicelib.adapters.documents import DOWNLOAD_EXPIRES_SECONDS

        view["download"] = {"url": ports.documents.download_url(doc.s3_key), "expires_in": DOWNLOAD_EXPIRES_SECONDS}
    return view


def _timeline_entry(event: ClaimEvent, for_staff: bool) -> dict[str, Any]:
    entry = {"status": event.status, "status_zh": MESSAGES[f"CLAIM_STATUS_{event.status.upper()}"],
             "at": event.at, "by": event.by.role, "note": event.note}
    if for_staff:
        entry["by_id"] = event.by.id
    return entry


def _bill_results(estimate: engine.Estimate) -> list[dict[str, Any]]:
    return [{"covered_fen": r.covered_fen, "deductible_applied_fen": r.deductible_applied_fen,
             "eligible_fen": r.eligible_fen, "payout_fen": r.payout_fen, "explanation": list(r.explanation)}
            for r in estimate.bills]


def claim_view(ports: ClaimPorts, claim: Claim, docs: list[Document], events: list[ClaimEvent], *, for_staff: bool,
               today: date, estimate: engine.Estimate | None = None) -> dict[str, Any]:
    from chalicelib.domain.masking import mask_name

    view = claim_summary(claim, today)
    view.update({
        "insured_name_masked": mask_name(claim.insured_name or ""),
        "bills": claim.bills, "payee": _dump(claim.payee), "estimate_ytd_before": _dump(claim.estimate_ytd_before),
        "reviewed_bills": claim.reviewed_bills, "approved_at": claim.approved_at, "paid_at": claim.paid_at,
        "ytd_before_payment": _dump(claim.ytd_before_payment), "ytd_after_payment": _dump(claim.ytd_after_payment),
        "member_note": claim.member_note, "completed_at": claim.completed_at,
        "settlement_id": claim.settlement_id,
        "unplaced": [{"category": c, "category_zh": MESSAGES[f"ESTIMATE_CATEGORY_{c.upper()}"]}
                     for c in claim.unplaced],
        "unplaced_note": MESSAGES["AUTO_CLAIM_UNPLACED"] if claim.unplaced else None,
        "missing_documents": common.missing_documents(claim, docs),
        "documents": [document_view(ports, d, with_url=True) for d in docs],
        "timeline": [_timeline_entry(e, for_staff) for e in events],
    })
    if estimate is not None:
        view["estimate_bills"] = _bill_results(estimate)
    if for_staff and claim.payee_hold is not None:  # staff's flag (services/claims/recovery.py)
        hold = claim.payee_hold
        view["payee_hold"] = {**hold.model_dump(mode="json"),
                              "message": MESSAGES[f"PAYEE_HOLD_{hold.reason.upper()}"]}
    return view


def _whole(ports: ClaimPorts, claim_id: str) -> tuple[Claim, list[Document], list[ClaimEvent]]:
    found = ports.claims.get_whole(claim_id)
    if found is None:
        raise NotFound("CLAIM_NOT_FOUND")
    return found


def get_for_member(ports: ClaimPorts, principal, claim_id: str, today: date) -> dict[str, Any]:
    claim, docs, events = _whole(ports, claim_id)
    common.claimant_side(ports, principal, claim)
    return claim_view(ports, claim, docs, events, for_staff=False, today=today)


def get_for_staff(ports: ClaimPorts, principal, claim_id: str, today: date) -> dict[str, Any]:
    common.staff(principal)
    claim, docs, events = _whole(ports, claim_id)
    common.require_plan_city(principal, claim.plan_id)  # staff act only for their cities (issue #10)
    return claim_view(ports, claim, docs, events, for_staff=True, today=today)


def list_for_member(ports: ClaimPorts, principal, today: date) -> list[dict[str, Any]]:
    """Claims of the insured persons the caller may handle: themselves, and everyone who granted them `claims`."""
    claims = [c for person in ports.claimants.persons_handled(principal) for c in ports.claims.of_person(person)]
    claims.sort(key=lambda c: c.submitted_at, reverse=True)
    return [claim_summary(c, today) for c in claims]


def staff_queue(ports: ClaimPorts, principal, status: str | None, limit: int, cursor: str | None,
                today: date) -> dict[str, Any]:
    """GET /v1/admin/claims: claims by status (default: every open one). Claims awaiting a decision come by deadline,
    oldest first, so overdue ones lead; then approved claims awaiting payment, oldest approval first; then claims
    still waiting for documents. Paged by an opaque cursor (the last sort key returned)."""
    common.staff(principal)
    statuses = [status] if status else list(rules.OPEN_STATUSES)
    after = _decode_cursor(cursor) if cursor else None
    # limit + 1 from each status: the merged first `limit` are then exact, and one more tells a next page exists.
    page = sorted((entry for s in statuses for entry in ports.claims.queue_page(s, after, limit + 1)),
                  key=lambda entry: entry[0])
    more = len(page) > limit
    page = page[:limit]
    return {"items": [staff_summary(c, today) for _, c in page],
            "next": _encode_cursor(page[-1][0]) if more else None}


def overdue_claims(ports: ClaimPorts, today: date) -> list[Claim]:
    """Claims still awaiting a decision whose 15-working-day deadline (decision_due) is before `today`, oldest first.
    Read from the staff queue's sort keys (`{decision_due}#{claim_id}`), so no scan."""
    found = [c for status in rules.BEFORE_DECISION for c in ports.claims.due_by(status, common.yesterday(today))]
    return sorted(found, key=queue_sort_key)


def _encode_cursor(sort_key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": sort_key}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after = data["after"]
        if not isinstance(after, str) or not after or len(after) > 200:
            raise ValueError
        return after
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise BadRequest("CURSOR_INVALID", field="cursor") from None  # only a cursor this API issued is valid
