"""Claim documents: register one and hand out a pre-signed POST; verify the uploaded object — when the member's
client calls `…/verify`, and in deployed stages also when the bucket reports the upload (`verify_uploaded`), so a
client that crashed after uploading still completes its claim.

A verified invoice + settlement slip completes the claim and starts its decision deadline. A claim sent back for
more information returns to review when a new document leaves nothing missing.
"""
from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

from chalicelib.adapters.clock import iso
from chalicelib.adapters.dynamodb import ConditionFailed
from chalicelib.domain import claims as rules
from chalicelib.domain.claim_models import SYSTEM, Document
from chalicelib.domain.errors import Conflict, NotFound, RuleViolation
from chalicelib.services.claims import common
from chalicelib.services.claims.ports import ClaimPorts
from chalicelib.services.claims.queries import document_view

DOCUMENT_KEY_PREFIX = "claims/"


def add_document(ports: ClaimPorts, principal, claim_id: str, kind: str, content_type: str, size_bytes: int,
                 now: datetime) -> dict[str, Any]:
    """Register one document of a declared kind and hand out a pre-signed POST for exactly that object."""
    claim, actor = common.load_for_member(ports, principal, claim_id)
    if claim.status not in rules.BEFORE_DECISION:
        raise rules.state_conflict(claim.status, "documents")
    max_bytes = ports.documents.max_bytes
    if size_bytes > max_bytes:
        raise RuleViolation("DOCUMENT_TOO_LARGE", field="size_bytes", max_mb=max_bytes // (1024 * 1024),
                            max_bytes=max_bytes)
    doc = Document(document_id=uuid.uuid4().hex, claim_id=claim_id, kind=kind, content_type=content_type,
                   size_bytes=size_bytes, s3_key=f"{DOCUMENT_KEY_PREFIX}{claim_id}/{secrets.token_urlsafe(24)}",
                   status="awaiting_upload", created_at=iso(now), by=actor)  # the key is unguessable
    try:
        ports.claims.add_document(doc, common.MAX_DOCUMENTS_PER_CLAIM)
    except ConditionFailed:
        current = common.claim_or_404(ports, claim_id)
        if current.status not in rules.BEFORE_DECISION:
            raise rules.state_conflict(current.status, "documents") from None
        raise RuleViolation("TOO_MANY_DOCUMENTS", max=common.MAX_DOCUMENTS_PER_CLAIM) from None
    form = ports.documents.upload_form(doc.s3_key, content_type, size_bytes)
    return {**document_view(ports, doc, with_url=False),
            "upload": {"method": "POST", "url": form.url, "fields": form.fields, "expires_in": form.expires_in}}


def verify_document(ports: ClaimPorts, principal, claim_id: str, document_id: str, now: datetime) -> dict[str, Any]:
    """POST …/documents/{document_id}/verify by the claimant side."""
    common.load_for_member(ports, principal, claim_id)
    doc, _ = _verify(ports, claim_id, lambda d: d.document_id == document_id, now)
    return document_view(ports, doc, with_url=True)


def verify_uploaded(ports: ClaimPorts, s3_key: str, now: datetime) -> str:
    """The bucket's upload event (ObjectCreated) for `s3_key`: verify the document it belongs to, as the client's
    verify call would. Returns what happened (verified | rejected | already | unknown | closed), never raises for
    an object that is not a pending claim document, so the event is not retried for nothing."""
    parts = s3_key.split("/")
    if len(parts) != 3 or f"{parts[0]}/" != DOCUMENT_KEY_PREFIX or not parts[1]:
        return "unknown"
    try:
        doc, changed = _verify(ports, parts[1], lambda d: d.s3_key == s3_key, now)
    except NotFound:
        return "unknown"
    except Conflict as exc:
        if exc.code == "CLAIM_STATE_CONFLICT":
            return "closed"
        raise
    return doc.status if changed else "already"


def _verify(ports: ClaimPorts, claim_id: str, match, now: datetime) -> tuple[Document, bool]:
    """Check the uploaded object against its declaration (exists, type, exact size, the limit). A mismatch rejects
    the document with a reason. The claim's version is the condition of every verification, so two documents
    verified at the same moment cannot both miss that the claim just became complete. Returns (document, whether
    this call decided it)."""
    for _ in range(common.WRITE_ATTEMPTS):
        found = ports.claims.get_whole(claim_id)
        if found is None:
            raise NotFound("CLAIM_NOT_FOUND")
        claim, docs, _ = found
        doc = next((d for d in docs if match(d)), None)
        if doc is None:
            raise NotFound("DOCUMENT_NOT_FOUND")
        if doc.status != "awaiting_upload":
            return doc, False  # already decided: verifying again changes nothing
        if claim.status not in rules.BEFORE_DECISION:
            raise rules.state_conflict(claim.status, "documents")
        stored = ports.documents.head(doc.s3_key)
        if stored is None:
            raise RuleViolation("DOCUMENT_NOT_UPLOADED")
        problem = rules.upload_problem(doc.content_type, doc.size_bytes, stored.content_type, stored.size_bytes,
                                       ports.documents.max_bytes)
        checked = doc.model_copy(update={"status": "rejected" if problem else "verified", "verified_at": iso(now),
                                         "reason_code": problem})
        after_docs = [checked if d.document_id == doc.document_id else d for d in docs]
        nothing_missing = not common.missing_documents(claim, after_docs)
        after = claim.model_copy(update={"version": claim.version + 1})
        if not problem and not claim.complete and nothing_missing:
            after = common.completed(after, now, common.deadline(ports, now.date()))
        events = []
        if not problem and rules.resumes_review(claim.status, nothing_missing):
            path = rules.path_to(claim.status, "under_review")
            after = claim.moved(path, iso(now), **{k: getattr(after, k) for k in
                                                   ("completed_at", "decision_due", "decision_due_estimated")})
            events = common.events_for(claim, path, SYSTEM, now, None)
        try:
            ports.claims.verify(claim, after, checked, events)
        except ConditionFailed:
            continue  # another document of this claim was verified meanwhile: re-read and decide again
        if events:
            common.notify(ports, after, "under_review", None)
        return checked, True
    raise Conflict("CLAIM_BUSY")
