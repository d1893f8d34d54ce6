"""Which blueprints make up the API. Sandbox routes exist only in the local stage."""
from __future__ import annotations

import importlib

# Each module defines `bp = Blueprint(__name__)` and its thin routes.
MEMBER_MODULES = [
    "chalicelib.api.meta",
    "chalicelib.api.plans",
    "chalicelib.api.identity",  # auth (wechat, sms), /v1/me, /v1/me/identity
    "chalicelib.api.family",  # /v1/family-members
    "chalicelib.api.authorizations",  # /v1/authorizations
    "chalicelib.api.orders",  # /v1/orders, /v1/payments/wechat/notify
    "chalicelib.api.policies",  # /v1/policies...
    "chalicelib.api.estimates",  # /v1/estimates
    "chalicelib.api.claims",  # /v1/claims...
    "chalicelib.api.admin_claims",  # /v1/admin/claims...
    "chalicelib.api.admin_bulk",  # /v1/admin/bulk-enrolments...
    "chalicelib.api.admin_renewals",  # /v1/admin/policies/{policy_id}/auto-renewal (stop at a counter)
    "chalicelib.api.admin_reconciliation",  # /v1/admin/reconciliation-differences (对账 staff tasks)
    "chalicelib.api.disclosure",  # /v1/disclosure/{plan_id}
    "chalicelib.api.h5",  # /h5, /h5/{file}: the H5 page
]
SANDBOX_MODULES = [
    "chalicelib.api.sandbox",  # clock, sms, staff tokens, notifications
    "chalicelib.api.sandbox_platform",  # people and the simulated 医保 platform's HTTP face
    "chalicelib.api.sandbox_wechat",  # WeChat Pay simulator
    "chalicelib.api.sandbox_payout",  # the payout gateway simulator (claims paid by bank transfer)
    "chalicelib.api.sandbox_jobs",  # POST /sandbox/jobs/{job}: a job run through the local queue
]


def register(app, stage: str) -> None:
    modules = list(MEMBER_MODULES)
    if stage == "local":
        modules += SANDBOX_MODULES
    for name in modules:  # a module listed here and missing is an error at start, never a silently absent API
        app.register_blueprint(importlib.import_module(name).bp)
    _register_error_shape(app, stage)


def _register_error_shape(app, stage: str) -> None:
    """One error body everywhere: chalice's own 405/415 answers (middleware); in the local stage also chalice's
    local gateway's unknown-route answer (API Gateway's, in deployed stages, are gateway responses in the stack)."""
    from chalicelib.api.http import framework_errors

    app.register_middleware(framework_errors, "http")
    if stage == "local":
        from chalicelib.api.local_gateway import install

        install()
