"""Attempt limits that guard identity binding and login (pure values; counters live behind the rate-limit port).

Binding: guessing which name goes with an ID number is limited per account and per ID number (keyed hash), so
neither one account nor many accounts can walk a list of names; a proof from the 医保 platform (a code sent to the
person's own phone) is not a guess and binds even while guessing is throttled.

Login: SMS sending and verifying are limited per phone (daily), per client address, and overall. Many residents share
one address behind carrier-grade NAT, so the per-address ceilings are high and stage settings (config.py); past the
challenge threshold the client must solve a captcha first (428 CHALLENGE_REQUIRED), past the limit it waits (429).

Windows are aligned to Beijing midnight, so a daily limit resets at 00:00 +08:00.
"""
from __future__ import annotations

from dataclasses import dataclass

_BEIJING_OFFSET = 8 * 3600


@dataclass(frozen=True)
class Limit:
    """At most `limit` attempts per `window_seconds` for one subject of `scope`."""

    scope: str
    limit: int
    window_seconds: int

    def window(self, now: int) -> tuple[int, int]:
        """(start, end) epoch seconds of the window holding `now`."""
        start = (now + _BEIJING_OFFSET) // self.window_seconds * self.window_seconds - _BEIJING_OFFSET
        return start, start + self.window_seconds


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    count: int  # attempts counted in this window, including this one when allowed
    retry_after: int  # seconds until the window ends (when the subject may try again)


DAY = 24 * 3600
HOUR = 3600
MINUTE = 60

# -- identity binding (实名) --
BIND_GUESSES_PER_ACCOUNT = Limit("bind_account", 5, DAY)
BIND_GUESSES_PER_ID = Limit("bind_id", 10, DAY)
PROOF_SENDS_PER_ID = Limit("proof_id", 5, DAY)
PROOF_SENDS_PER_ACCOUNT = Limit("proof_account", 5, DAY)
PROOF_CHECKS_PER_ID = Limit("proof_check_id", 10, DAY)

# -- SMS login --
SMS_SENDS_PER_PHONE_PER_DAY = Limit("sms_phone", 10, DAY)
SMS_VERIFIES_PER_PHONE_PER_DAY = Limit("sms_verify_phone", 30, DAY)
GLOBAL_SHARDS = 8  # the overall counter is split so no single item takes every login's write


def sms_sends_per_address(limit: int) -> Limit:
    return Limit("sms_addr", limit, HOUR)


def sms_verifies_per_address(limit: int) -> Limit:
    return Limit("sms_verify_addr", limit, HOUR)


def global_shard(scope: str, per_minute: int) -> Limit:
    """One of GLOBAL_SHARDS counters that together allow `per_minute` for the whole service."""
    return Limit(scope, max(1, -(-per_minute // GLOBAL_SHARDS)), MINUTE)
