"""What only the HTTP adapter can get wrong: signing, timeouts, unreachable or confused servers."""
from __future__ import annotations

import socket
import threading
import time
from datetime import date
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from chalicelib.adapters.medical_platform import PlatformError, PlatformUnavailable
from chalicelib.adapters.medical_platform_http import HttpPlatform, canonical_request, signature, signature_problem
from chalicelib.domain.platform import PlatformPerson
from chalicelib.domain.resident_id import make_test_id

ID_NUMBER = make_test_id("331102", date(1980, 5, 1), 11)
SECRET = b"shared-secret"


def signed_headers(timestamp: int, body: bytes = b"", path: str = "/persons/query") -> dict[str, str]:
    nonce = "0" * 32
    return {"x-platform-app-id": "huiminbao", "x-platform-timestamp": str(timestamp), "x-platform-nonce": nonce,
            "x-platform-signature": signature(SECRET, canonical_request("POST", path, {}, str(timestamp), nonce,
                                                                        body))}


def test_a_fresh_request_signed_with_the_shared_secret_is_accepted():
    now = 1_700_000_000
    assert signature_problem(SECRET, "POST", "/persons/query", {}, signed_headers(now, b"{}"), b"{}", now) is None


def test_a_request_older_than_five_minutes_is_refused():
    now = 1_700_000_000
    assert signature_problem(SECRET, "POST", "/persons/query", {}, signed_headers(now - 301), b"", now) is not None


def test_a_changed_body_breaks_the_signature():
    now = 1_700_000_000
    headers = signed_headers(now, b'{"amount_fen":100}')
    assert signature_problem(SECRET, "POST", "/persons/query", {}, headers, b'{"amount_fen":999}', now) is not None


def test_the_query_is_signed_whatever_its_order():
    a = canonical_request("GET", "/settlements", {"since": "x", "page": "2"}, "1", "n", b"")
    b = canonical_request("GET", "/settlements", {"page": "2", "since": "x"}, "1", "n", b"")
    assert a == b


def test_the_sandbox_refuses_a_client_with_the_wrong_secret(served_app, simulator):
    simulator.register(PlatformPerson(id_number=ID_NUMBER, name="张三", city="331100", basic_type="employee",
                                      status="active"))
    client = HttpPlatform(served_app + "/sandbox/platform", secret=b"not-the-shared-secret")

    with pytest.raises(PlatformError) as refused:
        client.find_person(ID_NUMBER)
    assert refused.value.code == "PLATFORM_SIGNATURE_INVALID"
    assert simulator.calls == []


def test_an_unreachable_platform_is_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    with pytest.raises(PlatformUnavailable):
        HttpPlatform(f"http://127.0.0.1:{port}", secret=SECRET, timeout=(0.5, 0.5)).find_person(ID_NUMBER)


class _Scripted(BaseHTTPRequestHandler):
    status, body, delay = 200, b"{}", 0.0

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.delay:
            time.sleep(self.delay)  # the server under test is slow on purpose: that is the behaviour tested
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def scripted_server():
    servers = []

    def start(status: int, body: bytes, delay: float = 0.0) -> str:
        handler = type("Handler", (_Scripted,), {"status": status, "body": body, "delay": delay})
        server = HTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_platform_that_answers_too_slowly_is_unavailable(scripted_server):
    url = scripted_server(200, b"{}", delay=0.5)
    with pytest.raises(PlatformUnavailable):
        HttpPlatform(url, secret=SECRET, timeout=(0.5, 0.1)).find_person(ID_NUMBER)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_error_leaves_the_outcome_unknown(scripted_server, status):
    url = scripted_server(status, b'{"code": "SYSTEM_BUSY"}')
    with pytest.raises(PlatformUnavailable):
        HttpPlatform(url, secret=SECRET).deduct(ID_NUMBER, "current", 100, "order-1-pay", "ORDER-1")


def test_a_success_body_outside_the_contract_leaves_the_outcome_unknown(scripted_server):
    url = scripted_server(201, b'{"ok": true}')
    with pytest.raises(PlatformUnavailable):
        HttpPlatform(url, secret=SECRET).deduct(ID_NUMBER, "current", 100, "order-1-pay", "ORDER-1")


def test_a_refusal_without_a_code_is_named_by_its_status(scripted_server):
    url = scripted_server(403, b"<html>forbidden</html>")
    with pytest.raises(PlatformError) as refused:
        HttpPlatform(url, secret=SECRET).balances(ID_NUMBER)
    assert refused.value.code == "HTTP_403"
