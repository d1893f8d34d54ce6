"""`routes.register` wires every listed blueprint; a listed module that is missing stops the app from starting
(it used to be skipped silently, so a renamed module meant a missing API, not an error)."""
from __future__ import annotations

import pytest

from chalicelib.api import routes


class _App:
    def __init__(self) -> None:
        self.blueprints: list = []

    def register_blueprint(self, bp) -> None:
        self.blueprints.append(bp)

    def register_middleware(self, *_args) -> None:
        pass


def test_every_member_module_registers_its_blueprint():
    app = _App()

    routes.register(app, "prod")

    assert len(app.blueprints) == len(routes.MEMBER_MODULES)


def test_a_listed_module_that_is_missing_is_an_error(monkeypatch):
    monkeypatch.setattr(routes, "MEMBER_MODULES", [*routes.MEMBER_MODULES, "chalicelib.api.not_written"])

    with pytest.raises(ModuleNotFoundError):
        routes.register(_App(), "prod")
