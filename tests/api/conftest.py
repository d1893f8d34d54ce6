"""Fixtures shared by the claim route tests."""
from __future__ import annotations

import pytest

from tests.claim_helpers import NOW, policy_for
from tests.helpers import new_id, new_member


@pytest.fixture()
def insured(client, clock):
    """王小明 with a 浙丽保 2021 policy (benefits from 2021-07-16); the clock at NOW."""
    clock.set(NOW)
    member = new_member(client, "13900000001", "王小明", new_id(seq=101))
    member.policy_id = policy_for(member)
    return member
