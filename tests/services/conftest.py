"""Service tests on the repositories' in-memory twins (issue 9): `twins` is the world they run in."""
from __future__ import annotations

import pytest


@pytest.fixture()
def twins():
    """A fresh TwinWorld (tests/helpers.py) and freshly built simulators (platform, WeChat Pay, sandbox clock); while
    the test runs, `deps.order_ports()` — what the tests and the API's notification handler ask for — answers the
    order ports over the twins. No moto."""
    from chalicelib import deps
    from chalicelib.config import reset_settings
    from tests.helpers import TwinWorld

    reset_settings()
    deps.reset()
    world = TwinWorld()
    patch = pytest.MonkeyPatch()  # its own: a test's `monkeypatch.undo()` must not undo the world
    patch.setattr(deps, "order_ports", world.order_ports)
    yield world
    patch.undo()
    deps.reset()
