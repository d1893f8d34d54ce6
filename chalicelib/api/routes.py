"""Which blueprints make up the API. Sandbox routes exist only in the local stage."""
from __future__ import annotations

import importlib

# Each module defines `bp = Blueprint(__name__)` and its thin routes. Append new modules here.
MEMBER_MODULES = [
    "chalicelib.api.meta",
    "chalicelib.api.plans",
]
SANDBOX_MODULES = [
]


def register(app, stage: str) -> None:
    modules = list(MEMBER_MODULES)
    if stage == "local":
        modules += SANDBOX_MODULES
    for name in modules:
        module = importlib.import_module(name)
        app.register_blueprint(module.bp)
    extra = getattr(app, "_hmb_after_register", None)
    if extra:
        extra()
