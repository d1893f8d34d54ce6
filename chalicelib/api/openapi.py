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
_STATUS_TEXT = {400: "请求有误", 401: "未登录或登录已失效", 403: "无权限", 404: "不存在", 405: "不支持的请求方法",
                409: "冲突", 415: "不支持的内容类型", 422: "业务规则不允许", 428: "须先完成安全验证",
                429: "过于频繁(details.retry_after 秒后再试,另见 Retry-After 头)", 503: "外部系统暂不可用或服务配置不完整"}
# Answers every route can give: bad input, unknown id, throttling (API Gateway / WAF), an unavailable dependency.
_EVERY_ROUTE = (400, 404, 429, 503)
# Login routes: past the per-address challenge threshold.
_CHALLENGED = {"/v1/auth/sms"}


# Request models where one of several optional fields must be given (what pydantic's schema cannot say).
_ONE_OF_REQUIRED = {"EstimateRequest": ("plan_id", "policy_id")}
# ... and fields that exclude each other (both given and not null → 400).
_NOT_TOGETHER = {"EstimateRequest": ("policy_id", "year_to_date")}
# ... and rules between fields the services enforce, as alternatives (anyOf) a body must match one of.
_NOT_NULL = {"not": {"type": "null"}}
_ALTERNATIVES = {
    # a staff decision other than approve gives the member a reason (400 CLAIM_REASON_REQUIRED, blank refused)
    "ReviewIn": [{"properties": {"decision": {"const": "approve"}}},
                 {"required": ["reason"], "properties": {"reason": {"type": "string", "pattern": "\\S"}}}],
    # a list is the rows inline or a file to upload, one of the two (400 BULK_ROWS_REQUIRED)
    "BulkIn": [{"required": ["rows"], "properties": {"rows": _NOT_NULL, "upload": {"type": "null"}}},
               {"required": ["upload"], "properties": {"upload": _NOT_NULL, "rows": {"type": "null"}}}],
}


def _raw_or_slip() -> list[dict[str, Any]]:
    """An estimate's bill is a settlement slip (no raw, hospital_level, basic_type) or a raw hospital bill (all three,
    and no slip amounts) — DOMAIN §12."""
    from chalicelib.domain.plan import CATEGORIES

    null, given = {"type": "null"}, {"not": {"type": "null"}}
    raw_fields = ("raw", "hospital_level", "basic_type")
    return [{"properties": {f: null for f in raw_fields}},
            {"required": list(raw_fields),
             "properties": {**{f: given for f in raw_fields}, **{f"{c}_fen": {"const": 0} for c in CATEGORIES}}}]


def _statuses(spec) -> list[int]:
    codes = list(_EVERY_ROUTE)
    if spec.request is not None:
        codes.append(415)
    if spec.auth in ("member", "staff", "optional", "wechat"):
        codes += [401, 403]
    if spec.auth in ("member", "staff"):
        codes += [409, 422]  # every member/staff use case can meet a business rule or a conflicting state
    if spec.auth in ("none", "optional") and any(m != "GET" for m in spec.methods):
        codes += [401, 409, 422]  # login and estimates: wrong code, expired code, rules
    if spec.idempotent:
        codes += [409, 422]
    if spec.path in _CHALLENGED:
        codes.append(428)
    return sorted(set(codes))


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = typing.get_origin(annotation)
    if origin in (list, list):
        (arg,) = typing.get_args(annotation)
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg, True
    return None, False


def _query_param(name: str, param: Any) -> dict[str, Any]:
    """A query parameter: a plain string unless the route states what it enforces (`Param`)."""
    if isinstance(param, str):
        return {"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": param}
    return {"name": name, "in": "query", "required": param.required, "schema": param.schema,
            "description": param.description}


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
    for name, alternatives in _ONE_OF_REQUIRED.items():
        if name in schemas:
            schemas[name] = {**schemas[name], "anyOf": [
                {"required": [field], "properties": {field: {"type": "string"}}} for field in alternatives]}
    if "EstimateRequestBill" in schemas:
        schemas["EstimateRequestBill"] = {**schemas["EstimateRequestBill"], "anyOf": _raw_or_slip()}
    for name, alternatives in _ALTERNATIVES.items():
        if name in schemas:
            schemas[name] = {**schemas[name], "anyOf": alternatives}
    for name, (field, other) in _NOT_TOGETHER.items():
        if name in schemas:
            schemas[name] = {**schemas[name], "not": {"required": [field, other], "properties": {
                field: {"not": {"type": "null"}}, other: {"not": {"type": "null"}}}}}

    paths: dict[str, Any] = {}
    for spec in ENDPOINTS:
        item = paths.setdefault(spec.path, {})
        for method in spec.methods:
            op: dict[str, Any] = {"operationId": f"{spec.handler_name}_{method.lower()}", "summary": spec.summary,
                                  "tags": spec.tags or ["api"], "responses": {}}
            params = [{"name": name, "in": "path", "required": True,
                       "schema": spec.path_schemas.get(name, {"type": "string"})}
                      for name in re.findall(r"{(\w+)}", spec.path)]
            params += [_query_param(name, desc) for name, desc in spec.query.items()]
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
            for code in _statuses(spec):
                op["responses"][str(code)] = {"description": _STATUS_TEXT[code], "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            if spec.auth in ("member", "staff"):
                op["security"] = [{"bearer": []}]
            elif spec.auth == "optional":
                op["security"] = [{}, {"bearer": []}]  # login is optional: anonymous or a member
            else:
                op["security"] = []
            item[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "惠民保 API", "version": "1.0.0",
                 "description": "City-customised supplementary medical insurance (惠民保): enrolment, family "
                                "purchases, estimates and claims. Money is integer fen. Requests are strict: integers are "
                                "JSON integers written without a fraction (100, not 100.0), unknown fields are refused."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }
