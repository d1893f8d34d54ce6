"""A seeded, bounded schemathesis run over HTTP on `make run` (`make fuzz` runs the long one): no server error, no
answer outside the documented schema, no schema-valid request rejected — except by the raw-bill arithmetic checks
(parts above the total), which compare fields with each other, and by the city rule that depends on which plan was
named (a basic type the plan's city has no parameters for): JSON Schema can state neither."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

BEYOND_SCHEMA = {"ESTIMATE_RAW_PARTS_EXCEED_TOTAL", "ESTIMATE_RAW_LISTS_EXCEED_SELF_PAY",
                 "ESTIMATE_RAW_BASIC_TYPE_UNKNOWN", "ID_NUMBER_INVALID",
                 "PAYMENT_METHOD_NOT_OFFERED"}  # as tools/fuzz.py BEYOND_SCHEMA (`make fuzz` allows the same)


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
