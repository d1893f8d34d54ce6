"""OpenAPI 3.1 built from the registered routes and pydantic v2 models (chalice's own generators do not
understand pydantic v2)."""
from __future__ import annotations

import re
import typing
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.api.http import ENDPOINTS

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string", "description": "stable UPPER_SNAKE code"},
        "message": {"type": "string", "description": "plain Chinese for the member"},
        "details": {"type": "object"},
    },
}
_STATUS_TEXT = {400: "请求有误", 401: "未登录", 403: "无权限", 404: "不存在", 409: "冲突", 422: "业务规则不允许",
                429: "过于频繁", 503: "外部系统暂不可用"}


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = typing.get_origin(annotation)
    if origin in (list, list):
        (arg,) = typing.get_args(annotation)
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg, True
    return None, False


@lru_cache(maxsize=1)
def build_openapi() -> dict[str, Any]:
    models: list[tuple[type[BaseModel], str]] = []
    for spec in ENDPOINTS:
        if spec.request is not None:
            models.append((spec.request, "validation"))
        model, _ = _model_of(spec.response)
        if model is not None:
            models.append((model, "serialization"))
    seen: set[tuple[type, str]] = set()
    unique = [m for m in models if not (m in seen or seen.add(m))]
    refs, defs = models_json_schema(unique, ref_template="#/components/schemas/{model}")
    schemas = dict(defs.get("$defs", {}))
    schemas["Error"] = _ERROR_SCHEMA

    paths: dict[str, Any] = {}
    for spec in ENDPOINTS:
        item = paths.setdefault(spec.path, {})
        for method in spec.methods:
            op: dict[str, Any] = {"operationId": f"{spec.handler_name}_{method.lower()}", "summary": spec.summary,
                                  "tags": spec.tags or ["api"], "responses": {}}
            params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                      for name in re.findall(r"{(\w+)}", spec.path)]
            params += [{"name": name, "in": "query", "required": False, "schema": {"type": "string"},
                        "description": desc} for name, desc in spec.query.items()]
            if spec.idempotent:
                params.append({"name": "Idempotency-Key", "in": "header", "required": True,
                               "schema": {"type": "string", "pattern": "^[A-Za-z0-9_\\-]{8,64}$"}})
            if params:
                op["parameters"] = params
            if spec.request is not None:
                op["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": refs[(spec.request, "validation")]}}}
            model, is_list = _model_of(spec.response)
            if model is not None:
                schema = refs[(model, "serialization")]
                content_schema = {"type": "array", "items": schema} if is_list else schema
            else:
                content_schema = {"type": "object"}
            op["responses"][str(spec.status)] = {"description": "成功",
                                                 "content": {"application/json": {"schema": content_schema}}}
            codes = [400, 404]
            if spec.auth in ("member", "staff"):
                codes += [401, 403]
            if spec.idempotent:
                codes += [409, 422]
            for code in sorted(set(codes)):
                op["responses"][str(code)] = {"description": _STATUS_TEXT[code], "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            if spec.auth in ("member", "staff", "optional"):
                op["security"] = [{"bearer": []}]
            item[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "惠民保 API", "version": "1.0.0",
                 "description": "City-customised supplementary medical insurance (惠民保): enrolment, family "
                                "purchases, estimates and claims. Money is integer fen."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }
