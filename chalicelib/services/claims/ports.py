"""What the claim use cases need from the world, as one bundle built by the composition root (`deps.claim_ports`).

Services receive a complete `ClaimPorts`; they never import `deps`. Service tests build the bundle from the
in-memory twins (`InMemoryClaimRepository`, `InMemoryCalendarRepository`, `InMemoryClaimants`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.repositories.calendar import CalendarRepository
from chalicelib.adapters.repositories.claimants import Claimants, InMemoryClaimants
from chalicelib.adapters.repositories.claims import ClaimRepository
from chalicelib.services.claims.claimants import TableClaimants

__all__ = ["ClaimPorts", "Claimants", "InMemoryClaimants", "TableClaimants"]


@dataclass
class ClaimPorts:
    claims: ClaimRepository
    claimants: Claimants
    calendar: CalendarRepository
    documents: Any  # adapters.documents.S3Documents (upload_form, download_url, head, max_bytes)
    notifier: Any  # adapters.notifications.RecordingNotifier | WeChatSubscribeNotifier
    cipher: Any  # adapters.crypto.FieldCipher
    platform: Any  # adapters.medical_platform: find_person (suspensions; the social-security-card account)
    payouts: Any = None  # adapters.payout.Payouts: the transfers that pay claims (SimulatedPayouts in tests)
    payees: Any = None  # adapters.repositories.payees.Payees: members' payee accounts (InMemoryPayees in tests)
