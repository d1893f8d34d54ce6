"""Schemathesis against a running API (`make fuzz`, and a bounded run in `make test`).

Seeded, every non-sandbox operation, checks: no server error, answers match the documented schema, and schema-valid
requests are not rejected (a documented 401/403/404/409/429 is an answer, not a rejection). Prints the figures and
exits non-zero on any failure.

    python tools/fuzz.py BASE_URL [MAX_EXAMPLES] [SEED]
    python tools/fuzz.py --serve [MAX_EXAMPLES] [SEED]     # starts tools/run_local.py on a free port first

With --serve (the sandbox is there) the run is made as a member: a sandbox person is created, logged in by SMS and
bound, and every request carries that member's token, so the member routes are fuzzed past 401 (staff routes answer
it 403, documented). Then a staff pass: the staff routes (`/v1/admin/...`) once per staff role, each with a token
from `/sandbox/staff-token`, so every admin operation is exercised with valid auth (what a role may not do answers
403, documented), on a claim and a policy created for the run. The figures are the sum of the passes. Rejections that no JSON Schema can state (BEYOND_SCHEMA)
are reported, not failures.
"""
from __future__ import annotations

import re
import subprocess
import sys

CHECKS = "not_a_server_error,response_schema_conformance,positive_data_acceptance"
# Cross-field sums of a raw hospital bill (DOMAIN §12, api/estimates.py): 400 naming the field, beyond any schema.
# The basic types a city's parameters know depend on `plan_id` (登封: residents only): 422, a rule of that city.
# An ID number's check digit (GB 11643 mod 11), its date (no 1980-02-30) and region: 400 ID_NUMBER_INVALID.
# The payment methods a plan offers depend on `plan_id` too (登封: WeChat Pay only): 422 PAYMENT_METHOD_NOT_OFFERED.
# Staff: a year's calendar names days of the year in its path, weekend make-up days only (a body checked against the
# path and the weekday): 400 CALENDAR_INVALID; the claim queue's cursor is opaque, valid only as the API issued it:
# 400 CURSOR_INVALID.
BEYOND_SCHEMA = frozenset({"ESTIMATE_RAW_PARTS_EXCEED_TOTAL", "ESTIMATE_RAW_LISTS_EXCEED_SELF_PAY",
                           "ESTIMATE_RAW_BASIC_TYPE_UNKNOWN", "ID_NUMBER_INVALID", "PAYMENT_METHOD_NOT_OFFERED",
                           "CALENDAR_INVALID", "CURSOR_INVALID"})


STAFF_ROLES = ("claims_reviewer", "bureau", "insurer_admin")  # as chalicelib/api/auth.py STAFF_ROLES
STAFF_PATHS = "^/v1/admin/"


def run(base_url: str, max_examples: int = 10, seed: int = 1, workers: int = 2,
        token: str | None = None, paths: str | None = None,
        parameters: dict[str, str] | None = None) -> tuple[int, str, dict[str, int]]:
    """One schemathesis pass: every non-sandbox operation, or those whose path matches the regex `paths`;
    `parameters` fixes path parameters to existing resources (`{"claim_id": ...}`)."""
    command = [sys.executable, "-m", "schemathesis.cli", "run", f"{base_url}/v1/openapi.json", "--checks", CHECKS,
               "--exclude-path-regex", "^/sandbox", "--max-examples", str(max_examples), "--seed", str(seed),
               "--phases", "examples,coverage,fuzzing", "-w", str(workers), "--no-color"]
    if paths:
        command += ["--include-path-regex", paths]
    config = None
    if parameters:
        import json
        import tempfile

        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as config:
            config.write("[parameters]\n" + "".join(f'"path.{k}" = {json.dumps(v)}\n' for k, v in parameters.items()))
        command[3:3] = ["--config-file", config.name]  # a global option: before `run`
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    import os

    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tools.fuzz_hooks",
           "PYTHONPATH": os.pathsep.join(filter(None, [os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                       os.environ.get("PYTHONPATH")]))}
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env)
    finally:
        if config is not None:
            os.unlink(config.name)
    return done.returncode, done.stdout + done.stderr, figures(done.stdout)


def figures(output: str) -> dict[str, int]:
    """{generated, failures, server_errors, schema_violations, valid_rejected} from the CLI's summary."""
    def grab(pattern: str) -> int:
        found = re.search(pattern, output)
        return int(found.group(1)) if found else 0

    counts = {"generated": grab(r"(\d+) generated"), "operations": grab(r"Tested: (\d+)"),
            "failures": grab(r"(\d+) unique failure"),
            "server_errors": grab(r"ST101 Server error: (\d+)"),
            "schema_violations": grab(r"Response violates schema: (\d+)"),
            "valid_rejected": grab(r"Schema-valid request rejected: (\d+)")}
    return counts


def staff_pass(base_url: str, max_examples: int = 10, seed: int = 1) -> tuple[int, str, dict[str, int]]:
    """The staff routes once per staff role, each with that role's sandbox token, their path parameters pointing at a
    claim and a policy made for the run (`staff_resources`) so reviews, payments and counter requests act on real
    ones: (worst exit code, the outputs, the summed figures; `operations` is the number of staff operations, each
    exercised by every role)."""
    from concurrent.futures import ThreadPoolExecutor

    tokens = [staff_token(base_url, role) for role in STAFF_ROLES]
    resources = staff_resources(base_url)
    with ThreadPoolExecutor(len(tokens)) as pool:  # one schemathesis process per role, side by side
        passes = list(pool.map(lambda token: run(base_url, max_examples, seed, token=token, paths=STAFF_PATHS,
                                                 parameters=resources), tokens))
    code, outputs, total = 0, [], {}
    for role, (done, output, counts) in zip(STAFF_ROLES, passes, strict=True):
        code = max(code, done)
        outputs.append(f"==== staff pass as {role}\n{output}")
        for name, value in counts.items():
            total[name] = value if name == "operations" else total.get(name, 0) + value
    return code, "\n".join(outputs), total


def add(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    """Figures of two passes together (operations: the member pass already counts the staff operations)."""
    return {k: a.get(k, 0) if k == "operations" else a.get(k, 0) + b.get(k, 0) for k in a}


def rejected_codes(output: str) -> list[str]:
    """The error codes of the answers schemathesis counted as "schema-valid request rejected"."""
    return re.findall(r"Schema-valid request rejected\n(?:.*\n){1,8}?.*?\"code\": \"([A-Z_]+)\"", output)


def _call(base_url: str, method: str, path: str, body=None, token: str | None = None,
          headers: dict[str, str] | None = None) -> dict:
    import json
    import urllib.request

    request = urllib.request.Request(base_url + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def staff_token(base_url: str, role: str) -> str:
    """A sandbox staff token for `role`, acting for every city."""
    return _call(base_url, "POST", "/sandbox/staff-token", {"role": role})["token"]


def staff_resources(base_url: str, seq: int | None = None) -> dict[str, str]:
    """What the staff pass acts on, so the admin operations reach past 404: a new member (`seq`, random by default)
    who bought lishui-2021 in its window (the sandbox clock set there and given back) and filed a claim on it:
    `{policy_id, claim_id}`."""
    import random
    import uuid
    from datetime import date
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from chalicelib.domain.resident_id import make_test_id

    def call(method: str, path: str, body=None, token: str | None = None, key: bool = False) -> dict:
        headers = {"Idempotency-Key": uuid.uuid4().hex} if key else {}
        return _call(base_url, method, path, body, token, headers)

    seq = random.SystemRandom().randrange(101, 999, 2) if seq is None else seq
    phone, id_number = f"1370001{seq:04d}", make_test_id("331102", date(1960, 1, 1), seq)
    call("PUT", "/sandbox/clock", {"now": "2020-12-10T10:00:00+08:00"})
    try:
        call("POST", "/sandbox/people", {"name": "测试员", "id_number": id_number, "city": "331100",
                                         "basic_type": "employee", "status": "active", "basic_start": "2000-01-01",
                                         "account_current_fen": 100_000})
        call("POST", "/v1/auth/sms", {"phone": phone})
        code = call("GET", f"/sandbox/sms/{phone}")["code"]
        token = call("POST", "/v1/auth/sms/verify", {"phone": phone, "code": code})["token"]
        call("PUT", "/v1/me/identity", {"name": "测试员", "id_number": id_number}, token)
        order = call("POST", "/v1/orders", {"plan_id": "lishui-2021", "insured": ["self"],
                                            "payment_method": "personal_account", "auto_renew": False}, token, True)
        policy_id = order["policies"][0]["policy_id"]
        call("PUT", "/sandbox/clock", {"now": "2021-05-10T09:00:00+08:00"})
        claim = call("POST", "/v1/claims", {"policy_id": policy_id, "bills": [
            {"service_date": "2021-05-01", "setting": "inpatient", "self_pay_fen": 5_000_000}], "payee": {
            "account_name": "测试员", "bank_name": "中国工商银行", "account_number": "6222021234561234"}}, token, True)
    finally:
        call("PUT", "/sandbox/clock", {"now": None})
    return {"policy_id": policy_id, "claim_id": claim["claim_id"]}


def member_token(base_url: str, seq: int = 777) -> str:
    """A sandbox person (city 丽水, personal-account money), logged in by SMS and bound: the member's token."""
    from datetime import date
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script, tools/ heads sys.path
    from chalicelib.domain.resident_id import make_test_id

    def call(method: str, path: str, body=None, token: str | None = None) -> dict:
        return _call(base_url, method, path, body, token)

    phone, id_number = f"1370000{seq:04d}", make_test_id("331102", date(1980, 1, 1), seq)
    call("POST", "/sandbox/people", {"name": "测试员", "id_number": id_number, "city": "331100",
                                     "basic_type": "employee", "status": "active",
                                     "account_current_fen": 100_000, "account_prior_years_fen": 100_000})
    call("POST", "/v1/auth/sms", {"phone": phone})
    code = call("GET", f"/sandbox/sms/{phone}")["code"]
    token = call("POST", "/v1/auth/sms/verify", {"phone": phone, "code": code})["token"]
    call("PUT", "/v1/me/identity", {"name": "测试员", "id_number": id_number}, token)
    return token


def passed(code: int, output: str, counts: dict[str, int]) -> bool:
    """No server error, no answer outside the schema, and only rejections beyond any schema."""
    rejected = rejected_codes(output)
    only_beyond = counts["failures"] == counts["valid_rejected"] == len(rejected) and set(rejected) <= BEYOND_SCHEMA
    return code == 0 or (counts["server_errors"] == counts["schema_violations"] == 0 and only_beyond)


def serve():
    """tools/run_local.py on a free loopback port: (process, base URL) once /v1/health answers."""
    import os
    import socket
    import time
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HMB_"))} | {"PORT": str(port)}
    process = subprocess.Popen([sys.executable, "tools/run_local.py"], cwd=root, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url + "/v1/health", timeout=1):
                return process, url
        except OSError:
            time.sleep(0.2)  # polling for readiness
    process.kill()
    raise SystemExit("run_local.py did not become healthy")


def main(argv: list[str], token: str | None = None, staff: bool = False) -> int:
    if argv[1] == "--serve":
        import os
        import signal

        process, url = serve()
        try:
            return main([argv[0], url, *argv[2:]], token=member_token(url), staff=True)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
    base_url = argv[1]
    max_examples = int(argv[2]) if len(argv) > 2 else 10
    seed = int(argv[3]) if len(argv) > 3 else 1
    code, output, counts = run(base_url, max_examples, seed, token=token)
    print(output if counts["failures"] else output[-6000:])  # every failure in full, to reproduce it
    print("fuzz figures:", ", ".join(f"{k}={v}" for k, v in counts.items()), "as a member:", bool(token),
          "rejected codes:", ",".join(rejected_codes(output)) or "none")
    ok = passed(code, output, counts)
    if staff:
        staff_code, staff_output, staff_counts = staff_pass(base_url, max_examples, seed)
        print(staff_output if staff_counts["failures"] else staff_output[-3000:])
        print("staff figures:", ", ".join(f"{k}={v}" for k, v in staff_counts.items()), "roles:",
              ",".join(STAFF_ROLES), "rejected codes:", ",".join(rejected_codes(staff_output)) or "none")
        ok = ok and passed(staff_code, staff_output, staff_counts)
        print("total figures:", ", ".join(f"{k}={v}" for k, v in add(counts, staff_counts).items()))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
