"""e2e: the real `make run` process (tools/run_local.py: moto + chalice's local server) driven over HTTP.

One server per test worker, started once per session on a free port and stopped with its whole process group.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest

PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STARTUP_TIMEOUT_SECONDS = 60
POLL_INTERVAL_SECONDS = 0.1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(base_url + "/v1/health", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def base_url(tmp_path_factory):
    """Start tools/run_local.py, wait until /v1/health answers, yield its URL; terminate it afterwards."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("e2e") / "run_local.log"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "HMB_"))} | {"PORT": str(port), "PYTHONUNBUFFERED": "1"}
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "tools/run_local.py"], cwd=PROJECT_DIR, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
            while not _healthy(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"run_local.py did not become healthy:\n{log_path.read_text(errors='replace')}")
                time.sleep(POLL_INTERVAL_SECONDS)  # polling for readiness, not waiting for timing
            yield url
        finally:
            _stop(process)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the process group (as Ctrl-C / a supervisor would); `make run` must stop cleanly, moto included."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        returncode = process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        raise RuntimeError("run_local.py ignored SIGTERM for 10 s") from None
    if returncode != 0:
        raise RuntimeError(f"run_local.py exited with {returncode} on SIGTERM")


@dataclass
class Reply:
    status: int
    body: object
    headers: dict[str, str]


class Api:
    """A phone's view of the API: JSON in and out, an optional bearer token."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.token: str | None = None

    def call(self, method: str, path: str, body: object | None = None,
             headers: dict[str, str] | None = None) -> Reply:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return Reply(response.status, _json(response.read()), dict(response.headers))
        except urllib.error.HTTPError as error:
            return Reply(error.code, _json(error.read()), dict(error.headers))

    def get(self, path: str, **kw) -> Reply:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: object | None = None, **kw) -> Reply:
        return self.call("POST", path, body if body is not None else {}, **kw)

    def put(self, path: str, body: object, **kw) -> Reply:
        return self.call("PUT", path, body, **kw)


def _json(raw: bytes) -> object:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")


@pytest.fixture()
def api(base_url) -> Api:
    return Api(base_url)


@pytest.fixture()
def another_api(base_url) -> Api:
    """A second phone (another account) against the same server."""
    return Api(base_url)
