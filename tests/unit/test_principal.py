"""The caller's authorisation rules (domain/principal.py): staff act only for their cities; members for none."""
from __future__ import annotations

import pytest

from chalicelib.domain.errors import Forbidden
from chalicelib.domain.principal import ALL_CITIES, Principal, acts_for_city, require_city

LISHUI, DENGFENG = "331100", "410185"


def test_staff_act_for_the_cities_their_token_names_and_no_other():
    reviewer = Principal("staff", "rev-1", "claims_reviewer", (LISHUI,))

    assert acts_for_city(reviewer, LISHUI) and reviewer.acts_for(LISHUI)
    assert not acts_for_city(reviewer, DENGFENG)


def test_staff_for_every_city_act_for_any_city():
    assert acts_for_city(Principal("staff", "admin-1", "insurer_admin", (ALL_CITIES,)), DENGFENG)


def test_a_member_acts_for_no_city():
    assert not acts_for_city(Principal("member", "acc-1"), LISHUI)


def test_requiring_another_city_is_refused_403_city_not_assigned():
    with pytest.raises(Forbidden) as refused:
        require_city(Principal("staff", "rev-1", "claims_reviewer", (LISHUI,)), DENGFENG)

    assert refused.value.code == "CITY_NOT_ASSIGNED" and refused.value.details == {"city": DENGFENG}


def test_only_a_member_has_an_account_id():
    assert Principal("member", "acc-1").account_id == "acc-1"
    with pytest.raises(Forbidden):
        _ = Principal("staff", "rev-1", "claims_reviewer").account_id
