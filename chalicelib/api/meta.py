"""Service metadata: health and the generated OpenAPI document."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import endpoint

bp = Blueprint(__name__)


@endpoint(bp, "/v1/health", summary="存活检查", auth="none", tags=("meta",))
def health(ctx):
    from chalicelib import deps
    from chalicelib.adapters.clock import iso

    return {"status": "ok", "now": iso(deps.clock().now())}


@endpoint(bp, "/v1/openapi.json", summary="OpenAPI 3 文档(由路由与 pydantic 模型生成)", auth="none", tags=("meta",))
def openapi(ctx):
    from chalicelib.api.openapi import build_openapi

    return build_openapi()
