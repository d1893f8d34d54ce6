"""Schemathesis against a running API (`make fuzz`, and a bounded run in `make test`).

Seeded, every non-sandbox operation, checks: no server error, answers match the documented schema, and schema-valid
requests are not rejected (a documented 401/403/404/409/429 is an answer, not a rejection). Prints the figures and
exits non-zero on any failure.

    python tools/fuzz.py BASE_URL [MAX_EXAMPLES] [SEED]
    python tools/fuzz.py --serve [MAX_EXAMPLES] [SEED]     # starts tools/run_local.py on a free port first
"""
from __future__ import annotations

import re
import subprocess
import sys

CHECKS = "not_a_server_error,response_schema_conformance,positive_data_acceptance"


def run(base_url: str, max_examples: int = 10, seed: int = 1, workers: int = 2) -> tuple[int, str, dict[str, int]]:
    command = [sys.executable, "-m", "schemathesis.cli", "run", f"{base_url}/v1/openapi.json", "--checks", CHECKS,
               "--exclude-path-regex", "^/sandbox", "--max-examples", str(max_examples), "--seed", str(seed),
               "--phases", "examples,coverage,fuzzing", "-w", str(workers), "--no-color"]
    import os

    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tools.fuzz_hooks",
           "PYTHONPATH": os.pathsep.join(filter(None, [os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                       os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    return done.returncode, done.stdout + done.stderr, figures(done.stdout)


def figures(output: str) -> dict[str, int]:
    """{generated, failures, server_errors, schema_violations, valid_rejected} from the CLI's summary."""
    def grab(pattern: str) -> int:
        found = re.search(pattern, output)
        return int(found.group(1)) if found else 0

    counts = {"generated": grab(r"(\d+) generated"), "failures": grab(r"(\d+) unique failure"),
            "server_errors": grab(r"ST101 Server error: (\d+)"),
            "schema_violations": grab(r"Response violates schema: (\d+)"),
            "valid_rejected": grab(r"Schema-valid request rejected: (\d+)")}
    return counts


def rejected_codes(output: str) -> list[str]:
    """The error codes of the answers schemathesis counted as "schema-valid request rejected"."""
    return re.findall(r"Schema-valid request rejected\n(?:.*\n){1,8}?.*?\"code\": \"([A-Z_]+)\"", output)


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


def main(argv: list[str]) -> int:
    if argv[1] == "--serve":
        import os
        import signal

        process, url = serve()
        try:
            return main([argv[0], url, *argv[2:]])
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
    base_url = argv[1]
    max_examples = int(argv[2]) if len(argv) > 2 else 10
    seed = int(argv[3]) if len(argv) > 3 else 1
    code, output, counts = run(base_url, max_examples, seed)
    print(output[-6000:])
    print("fuzz figures:", ", ".join(f"{k}={v}" for k, v in counts.items()),
          "rejected codes:", ",".join(rejected_codes(output)) or "none")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
