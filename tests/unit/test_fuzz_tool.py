"""`make fuzz` (tools/fuzz.py) passes only with no server error, no schema violation and no rejection but those
no JSON Schema can state."""
from tools.fuzz import BEYOND_SCHEMA, figures, passed


def _output(codes, server_errors=0):
    blocks = "".join(f"- ST202 Schema-valid request rejected\n\n    Valid data\n\n[422]:\n\n    `{{\"code\": \"{c}\"}}`\n"
                     for c in codes)
    summary = f"  ❌ ST202 Schema-valid request rejected: {len(codes)}\n" if codes else ""
    if server_errors:
        summary += f"  ❌ ST101 Server error: {server_errors}\n"
    failures = len(codes) + server_errors
    return blocks + summary + f"API Operations:\n  Tested: 48\n  8073 generated, {failures} found {failures} unique failure"


def test_only_rejections_beyond_any_schema_pass():
    out = _output(["ESTIMATE_RAW_BASIC_TYPE_UNKNOWN"])
    counts = figures(out)
    assert counts["operations"] == 48 and counts["generated"] == 8073
    assert passed(1, out, counts)


def test_a_rejection_a_schema_could_state_fails():
    out = _output(["TOO_MANY_INSURED"])
    assert "TOO_MANY_INSURED" not in BEYOND_SCHEMA
    assert not passed(1, out, figures(out))


def test_a_server_error_fails():
    out = _output(["ESTIMATE_RAW_BASIC_TYPE_UNKNOWN"], server_errors=1)
    assert not passed(1, out, figures(out))
