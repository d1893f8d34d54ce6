"""Thin-route machinery: one decorator parses the request into a model, resolves the caller, calls the handler,
serialises the response model, and maps every error to API.md's error body. Also records each route's models
for the generated OpenAPI document.
"""
from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from chalicelib.domain.errors import BadRequest, DomainError
from chalicelib.domain.messages import FIELD_LABELS, message_for


@dataclass(frozen=True)
class Param:
    """A query parameter as the handler enforces it, for the OpenAPI document: its JSON Schema (a plain string
    otherwise) and whether it is required."""

    description: str
    schema: dict[str, Any]
    required: bool = False


@dataclass
class EndpointSpec:
    path: str
    methods: list[str]
    handler_name: str
    summary: str
    auth: str  # "none" | "member" | "optional" | "staff" | "sandbox" | "wechat"
    request: type[BaseModel] | None = None
    response: Any = None  # a model, list[Model], or None
    status: int = 200
    query: dict[str, str | Param] = field(default_factory=dict)  # name → description (a string) or Param
    idempotent: bool = False
    path_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)  # path parameter → its JSON Schema
    tags: list[str] = field(default_factory=list)


ENDPOINTS: list[EndpointSpec] = []

_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_\-]{8,64}$")


@dataclass
class Ctx:
    """What a handler gets besides its body and path parameters."""

    request: Any  # chalice.app.Request
    principal: Any = None  # chalicelib.api.auth.Principal
    idempotency_key: str | None = None

    @property
    def query(self) -> dict[str, str]:
        return dict(self.request.query_params or {})

    @property
    def headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in (self.request.headers or {}).items()}

    @property
    def raw_body(self) -> bytes:
        return self.request.raw_body or b""

    @property
    def request_id(self) -> str:
        ctx = self.request.context or {}
        return str(ctx.get("requestId") or "")


def error_response(exc: DomainError):
    from chalice import Response

    body = {"code": exc.code, "message": exc.message, "details": _jsonable(exc.details)}
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if exc.status == 429 and "retry_after" in exc.details:
        headers["Retry-After"] = str(exc.details["retry_after"])
    return Response(body=json.dumps(body, ensure_ascii=False), status_code=exc.status, headers=headers)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


_TYPE_HINTS = {
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "string_type": "应为文本",
    "bool_type": "应为 true 或 false",
    "list_type": "应为列表",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "date_type": "日期格式应为 YYYY-MM-DD",
    "date_parsing": "日期格式应为 YYYY-MM-DD",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD,且须是真实存在的日期",
    "date_from_datetime_inexact": "日期格式应为 YYYY-MM-DD",
    "datetime_parsing": "时间格式应为 ISO 8601,例如 2021-04-15T10:00:00+08:00",
    "datetime_type": "时间格式应为 ISO 8601",
    "literal_error": "取值应为 {expected}",
    "enum": "取值应为 {expected}",
    "greater_than_equal": "不能小于 {ge}",
    "greater_than": "应大于 {gt}",
    "less_than_equal": "不能大于 {le}",
    "less_than": "应小于 {lt}",
    "too_short": "至少需要 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "string_too_short": "长度至少为 {min_length}",
    "string_too_long": "长度最多为 {max_length}",
    "string_pattern_mismatch": "格式不正确",
    "uuid_parsing": "格式不正确",
}


def validation_error(exc: ValidationError) -> BadRequest:
    errors = exc.errors(include_url=False)
    first = errors[0]
    etype = first.get("type", "")
    loc = [str(p) for p in first.get("loc", ())]
    field_path = ".".join(loc) or "body"
    listed = [{"field": ".".join(str(p) for p in e.get("loc", ())), "type": e.get("type")} for e in errors[:20]]
    if etype == "json_invalid":
        return BadRequest("MALFORMED_JSON", field="body", errors=listed)
    if etype == "extra_forbidden":
        return BadRequest("UNKNOWN_FIELD", field=field_path, errors=listed)
    if etype == "missing":
        return BadRequest("MISSING_FIELD", message_for("MISSING_FIELD", field=_label(loc)), field=field_path,
                          errors=listed)
    if etype in ("model_type", "model_attributes_type") and not loc:
        return BadRequest("MALFORMED_JSON", "请求内容应为 JSON 对象。", field="body", errors=listed)
    ctx = first.get("ctx") or {}
    if etype == "value_error" and ctx.get("error") is not None:
        hint = str(ctx["error"])
    else:
        hint = _TYPE_HINTS.get(etype, first.get("msg", "格式不正确")).format_map(
            {k: str(v) for k, v in ctx.items()} | {"expected": str(ctx.get("expected", ""))})
    return BadRequest("VALIDATION_FAILED", message_for("VALIDATION_FAILED", field_label=f"{_label(loc)}{hint}"),
                      field=field_path, errors=listed)


def _label(loc: list[str]) -> str:
    """'bills.0.self_pay_fen' → '费用明细第1项的 self_pay_fen '."""
    parts = []
    for p in loc:
        if p.isdigit():
            parts.append(f"第{int(p) + 1}项")
        else:
            parts.append(FIELD_LABELS.get(p, p))
    return "".join(parts) + " " if parts else ""


def parse_body(model: type[BaseModel], raw: bytes | None) -> BaseModel:
    """Strict JSON → model. An empty body is read as {} so the answer names the first missing field."""
    if not raw or not raw.strip():
        raw = b"{}"
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise validation_error(exc) from None


def dump(result: Any) -> Any:
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    if isinstance(result, list):
        return [dump(r) for r in result]
    return result


def endpoint(bp, path: str, *, methods: tuple[str, ...] = ("GET",), summary: str, auth: str = "member",
             request: type[BaseModel] | None = None, response: Any = None, status: int = 200,
             query: dict[str, str | Param] | None = None, idempotent: bool = False, tags: tuple[str, ...] = (),
             path_schemas: dict[str, dict[str, Any]] | None = None):
    """Register a thin route on blueprint/app `bp`. The handler is called as handler(ctx, body?, **path_params)."""

    def decorate(fn: Callable[..., Any]):
        spec = EndpointSpec(path=path, methods=list(methods), handler_name=fn.__name__, summary=summary, auth=auth,
                            request=request, response=response, status=status, query=dict(query or {}),
                            idempotent=idempotent, tags=list(tags), path_schemas=dict(path_schemas or {}))
        ENDPOINTS.append(spec)

        @functools.wraps(fn)
        def view(**path_params: str):
            from chalice import Response

            app_request = bp.current_request
            ctx = Ctx(request=app_request)
            try:
                from chalicelib.api import auth as auth_mod

                _require_valid_settings()
                ctx.principal = auth_mod.resolve(app_request, auth)
                if idempotent:
                    key = ctx.headers.get("idempotency-key")
                    if not key:
                        raise BadRequest("IDEMPOTENCY_KEY_REQUIRED", field="Idempotency-Key")
                    if not _IDEMPOTENCY_KEY.match(key):
                        raise BadRequest("IDEMPOTENCY_KEY_INVALID", field="Idempotency-Key")
                    ctx.idempotency_key = key
                args: list[Any] = [ctx]
                if request is not None:
                    args.append(parse_body(request, app_request.raw_body))
                result = fn(*args, **path_params)
            except DomainError as exc:
                _log_error(ctx, exc)
                return error_response(exc)
            except Exception as exc:  # noqa: BLE001 — the last line of defence: log, answer 500, leak nothing
                from chalicelib.adapters.dynamodb import TransientStorageError
                from chalicelib.observability import logger

                if isinstance(exc, TransientStorageError):
                    from chalicelib.domain.errors import UpstreamUnavailable

                    return error_response(UpstreamUnavailable("UPSTREAM_UNAVAILABLE", system="数据服务"))
                logger().exception("unhandled error", extra={"path": path, "error_type": type(exc).__name__})
                return _internal()
            if isinstance(result, Response):
                return result
            code = status
            if isinstance(result, tuple):
                code, result = result
            headers = {"Content-Type": "application/json; charset=utf-8"}
            if _personal(auth, methods):
                headers["Cache-Control"] = NO_STORE
            return Response(body=json.dumps(dump(result), ensure_ascii=False), status_code=code, headers=headers)

        bp.route(path, methods=list(methods), cors=cors_config())(view)
        return view

    return decorate


# ---- account security: fail closed, headers, CORS, one error shape (issue #10) ---------------------------------
NO_STORE = "no-store"
ALLOWED_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key")


def _personal(auth: str, methods) -> bool:
    """Answers that may carry personal data (or a session token) must not be cached: everything except public
    reads (plans, disclosure, health, the OpenAPI document, the H5 page)."""
    return not (auth == "none" and all(m == "GET" for m in methods))


def _require_valid_settings() -> None:
    """A process started with settings it must not serve with answers 503 to every request (fail closed)."""
    from chalicelib.config import SettingsError, get_settings

    try:
        get_settings()
    except SettingsError as exc:
        from chalicelib.domain.errors import UpstreamUnavailable
        from chalicelib.observability import logger

        logger().error("refusing to serve: settings invalid", extra={"reason": str(exc)})  # names, never values
        raise UpstreamUnavailable("SERVICE_MISCONFIGURED") from None


_cors: list = []


def cors_config():
    """CORS for every route, from the stage's HMB_CORS_ORIGIN: chalice writes it into the API's OPTIONS answers
    when the app is packaged, so it is read when routes are registered (like HMB_STAGE in app.py). Empty: no
    cross-origin calls; never `*` outside the local stage (config.py refuses to serve)."""
    if not _cors:
        import os

        from chalice import CORSConfig

        origin = os.environ.get("HMB_CORS_ORIGIN", "*" if os.environ.get("HMB_STAGE") == "local" else "")
        _cors.append(CORSConfig(allow_origin=origin, allow_headers=list(ALLOWED_HEADERS), max_age=600,
                                expose_headers=["Retry-After"]) if origin else False)
    return _cors[0]


_FRAMEWORK_ERRORS = {405: "METHOD_NOT_ALLOWED", 415: "UNSUPPORTED_MEDIA_TYPE", 404: "ROUTE_NOT_FOUND",
                     403: "ROUTE_NOT_FOUND", 400: "MALFORMED_JSON", 500: "INTERNAL_ERROR"}


def framework_errors(event, get_response):
    """Chalice middleware: answers chalice produces itself (405 wrong method, 415 wrong content type, its 500)
    get API.md's error body — `{code, message, details}` — instead of `{"Code": ..., "Message": ...}`."""
    response = get_response(event)
    body = response.body
    if response.status_code in _FRAMEWORK_ERRORS and isinstance(body, dict) and "Code" in body:
        from chalicelib.domain.messages import message_for

        code = _FRAMEWORK_ERRORS[response.status_code]
        details = {"allow": response.headers["Allow"]} if "Allow" in (response.headers or {}) else {}
        response.body = json.dumps({"code": code, "message": message_for(code), "details": details},
                                   ensure_ascii=False)
        response.headers = {**(response.headers or {}), "Content-Type": "application/json; charset=utf-8"}
    return response


def _internal():
    exc = DomainError("INTERNAL_ERROR")
    exc.status = 500
    return error_response(exc)


def _log_error(ctx: Ctx, exc: DomainError) -> None:
    from chalicelib.observability import logger

    # Details may name fields but never carry personal data (domain errors are built without it).
    logger().info("request refused", extra={"code": exc.code, "status": exc.status})
