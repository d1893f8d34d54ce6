"""The auto-renewal consent record (自动续保授权) a policy carries: written when a member consents on a policy and
when a buyer consents at purchase. Its own module so that placing an order does not import the policy reads (which
import the renewal use cases, which place orders)."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chalicelib.adapters.clock import iso
from chalicelib.domain.account import Account

RENEWAL_PAYMENT_METHOD = "personal_account"  # DOMAIN §3: yearly deduction from the employee's personal account


def consent_record(account: Account | Mapping[str, Any], account_source: str, now: datetime) -> dict[str, Any]:
    """`auto_renew_consent`: when, on which channel, who pays and from which part of the personal account.
    (services/orders passes {account_id, login_channel} of the order's payer.)"""
    account = account if isinstance(account, Account) else Account.model_validate(dict(account))
    return {"at": iso(now), "channel": consent_channel(account), "payer_account_id": account.account_id,
            "payment_method": RENEWAL_PAYMENT_METHOD, "account_source": account_source}


def consent_channel(account: Account) -> str:
    """wechat (mini-program login) | app (SMS login in the insurer's app or H5)."""
    return "wechat" if account.login_channel == "wechat" else "app"
