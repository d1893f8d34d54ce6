"""The auto-renewal consent record (自动续保授权) a policy carries: written when a member consents on a policy and
when a buyer consents at purchase. Its own module so that placing an order does not import the policy reads (which
import the renewal use cases, which place orders)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.adapters.clock import iso

RENEWAL_PAYMENT_METHOD = "personal_account"  # DOMAIN §3: yearly deduction from the employee's personal account


def consent_record(payer_account_id: str, login_channel: str | None, account_source: str,
                   now: datetime) -> dict[str, Any]:
    """`auto_renew_consent`: when, on which channel, who pays and from which part of the personal account. The payer
    is the consenting account (a policy's switch) or the order's payer (consent given at purchase)."""
    return {"at": iso(now), "channel": consent_channel(login_channel), "payer_account_id": payer_account_id,
            "payment_method": RENEWAL_PAYMENT_METHOD, "account_source": account_source}


def consent_channel(login_channel: str | None) -> str:
    """wechat (mini-program login) | app (SMS login in the insurer's app or H5), from how the account logged in."""
    return "wechat" if login_channel == "wechat" else "app"
