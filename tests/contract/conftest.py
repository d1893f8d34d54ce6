"""The 医保 platform port's two adapters, side by side.

`served_app` serves the Chalice app over real HTTP on loopback with chalice's own local server (the code path of
`chalice local` / `make run`), so `HttpPlatform` talks to the simulator through the sandbox's contract routes.
"""
from __future__ import annotations

import os
import threading
from datetime import datetime

import pytest

PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def served_app():
    """Base URL of the app served by chalice's local HTTP server in a thread (one per test worker)."""
    from chalice.cli.factory import CLIFactory
    from chalice.local import create_local_server

    from app import app

    config = CLIFactory(PROJECT_DIR).create_config_obj(chalice_stage_name="local")
    server = create_local_server(app, config, "127.0.0.1", 0)
    thread = threading.Thread(target=server.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = server.server.server_address[:2]
    yield f"http://{host}:{port}"
    server.shutdown()
    server.server.server_close()
    thread.join(timeout=5)


@pytest.fixture()
def simulator():
    """A fresh simulated platform on a fixed sandbox clock, installed as the app's platform port."""
    from chalicelib import deps
    from chalicelib.adapters.clock import CHINA_TZ, SandboxClock
    from chalicelib.adapters.medical_platform import SimulatedPlatform

    deps.reset()
    sim = SimulatedPlatform(SandboxClock(datetime(2021, 4, 15, 10, 0, tzinfo=CHINA_TZ)))
    deps.override("platform", sim)
    yield sim
    deps.reset()


@pytest.fixture(params=["simulator", "http"])
def platform(request, simulator):
    """The port under test: the simulator itself, or HttpPlatform speaking the contract to it over HTTP."""
    if request.param == "simulator":
        return simulator
    from chalicelib.adapters.medical_platform_http import HttpPlatform

    return HttpPlatform(request.getfixturevalue("served_app") + "/sandbox/platform", timeout=(2.0, 5.0))
