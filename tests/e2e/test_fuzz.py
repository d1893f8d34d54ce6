"""A seeded, bounded schemathesis run over HTTP on `make run` (`make fuzz` runs the long one): no server error, no
answer outside the documented schema, no schema-valid request rejected — except by the raw-bill arithmetic checks
(parts above the total), which compare fields with each other, and by the city rule that depends on which plan was
named (a basic type the plan's city has no parameters for): JSON Schema can state neither."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

BEYOND_SCHEMA = {"ESTIMATE_RAW_PARTS_EXCEED_TOTAL", "ESTIMATE_RAW_LISTS_EXCEED_SELF_PAY",
                 "ESTIMATE_RAW_BASIC_TYPE_UNKNOWN", "ID_NUMBER_INVALID",
                 "PAYMENT_METHOD_NOT_OFFERED",
                 "CALENDAR_INVALID",  # a year's days checked against the year in the path and the weekday
                 "CURSOR_INVALID"}  # an opaque cursor, valid only as issued; as tools/fuzz.py BEYOND_SCHEMA


def test_schemathesis_finds_nothing_with_a_fixed_seed(base_url):
    pytest.importorskip("schemathesis")
    from tools.fuzz import BEYOND_SCHEMA as TOOL_ALLOWS
    from tools.fuzz import rejected_codes, run

    assert TOOL_ALLOWS == BEYOND_SCHEMA  # the long run allows no more than this one

    code, output, counts = run(base_url, max_examples=5, seed=20261201)

    assert counts["generated"] > 500, output[-3000:]
    assert (counts["server_errors"], counts["schema_violations"]) == (0, 0), output[-6000:]
    rejected = rejected_codes(output)
    assert len(rejected) == counts["valid_rejected"], output[-6000:]
    assert set(rejected) <= BEYOND_SCHEMA, output[-6000:]


def test_the_staff_routes_with_each_roles_token_find_nothing(base_url):
    """The staff pass (tools/fuzz.py): every /v1/admin operation once per staff role, with that role's sandbox
    token, so the admin operations are exercised past 401/403 — a few examples per operation, seeded."""
    pytest.importorskip("schemathesis")
    from tools.fuzz import STAFF_ROLES, _call, rejected_codes, staff_pass, staff_token

    for role in STAFF_ROLES:  # each role's token is accepted as staff (every role reads the queue)
        assert "items" in _call(base_url, "GET", "/v1/admin/claims", token=staff_token(base_url, role))

    code, output, counts = staff_pass(base_url, max_examples=3, seed=20261201)

    assert counts["operations"] >= 13, output[-3000:]
    assert counts["generated"] > 100 * len(STAFF_ROLES), output[-3000:]
    assert (counts["server_errors"], counts["schema_violations"]) == (0, 0), output[-6000:]
    rejected = rejected_codes(output)
    assert len(rejected) == counts["valid_rejected"], output[-6000:]
    assert set(rejected) <= BEYOND_SCHEMA, output[-6000:]
