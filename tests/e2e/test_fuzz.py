"""A seeded, bounded schemathesis run over HTTP on `make run` (`make fuzz` runs the long one): no server error, no
answer outside the documented schema, no schema-valid request rejected."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_schemathesis_finds_nothing_with_a_fixed_seed(base_url):
    pytest.importorskip("schemathesis")
    from tools.fuzz import run

    code, output, counts = run(base_url, max_examples=5, seed=20261201)

    assert counts["generated"] > 500, output[-3000:]
    assert (counts["server_errors"], counts["schema_violations"], counts["valid_rejected"]) == (0, 0, 0), \
        output[-6000:]
    assert code == 0, output[-6000:]
