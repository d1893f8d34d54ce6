"""Contract of the rate-limit port: the DynamoDB counters (moto) and the in-memory twin behave the same."""
from __future__ import annotations

import threading

import pytest

from chalicelib.adapters.rate_limits import DynamoRateLimiter, MemoryRateLimiter
from chalicelib.domain.limits import Limit

T0 = 1_618_452_000  # 2021-04-15 10:00 +08:00
THREE_A_MINUTE = Limit("test", 3, 60)
DAILY = Limit("daily", 1, 24 * 3600)


@pytest.fixture(params=["dynamodb", "memory"])
def limiter(request):
    if request.param == "memory":
        return MemoryRateLimiter()
    request.getfixturevalue("aws")
    from chalicelib import deps

    return DynamoRateLimiter(deps.table())


def test_attempts_up_to_the_limit_are_allowed_and_counted(limiter):
    counts = [limiter.hit(THREE_A_MINUTE, "s", T0).count for _ in range(3)]
    assert counts == [1, 2, 3]


def test_the_attempt_past_the_limit_is_refused_until_the_window_ends(limiter):
    for _ in range(3):
        limiter.hit(THREE_A_MINUTE, "s", T0 + 10)
    refused = limiter.hit(THREE_A_MINUTE, "s", T0 + 10)
    assert (refused.allowed, refused.retry_after) == (False, 50)
    assert limiter.hit(THREE_A_MINUTE, "s", T0 + 60).allowed


def test_subjects_and_scopes_are_counted_apart(limiter):
    for _ in range(3):
        limiter.hit(THREE_A_MINUTE, "a", T0)
    assert limiter.hit(THREE_A_MINUTE, "b", T0).allowed
    assert limiter.hit(Limit("other", 3, 60), "a", T0).allowed


def test_peek_counts_nothing(limiter):
    limiter.hit(THREE_A_MINUTE, "s", T0)
    assert limiter.peek(THREE_A_MINUTE, "s", T0).count == 1
    assert limiter.peek(THREE_A_MINUTE, "s", T0).count == 1


def test_a_daily_window_ends_at_beijing_midnight(limiter):
    limiter.hit(DAILY, "s", T0)
    refused = limiter.hit(DAILY, "s", T0)
    assert refused.retry_after == 14 * 3600  # 10:00 → 24:00 +08:00


def test_reset_forgets_every_counter(limiter):
    for _ in range(3):
        limiter.hit(THREE_A_MINUTE, "s", T0)
    limiter.reset()
    assert limiter.hit(THREE_A_MINUTE, "s", T0).count == 1


def test_concurrent_attempts_never_exceed_the_limit(limiter):
    results = []
    threads = [threading.Thread(target=lambda: results.append(limiter.hit(THREE_A_MINUTE, "s", T0).allowed))
               for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 3
