"""The local stage only: chalice's local gateway (behind `chalice local`, `make run` and `chalice.test.Client`)
answers an unknown route with API Gateway's 403 `{"message": "Missing Authentication Token"}`, before the app is
called, so no middleware can see it. This wraps that one answer into the contract's 404 ROUTE_NOT_FOUND body;
deployed stages get the same from the stack's gateway responses (infra/stacks/huiminbao.py `_error_shape`).
"""
from __future__ import annotations

import json

_installed: list[bool] = []


def install() -> None:
    if _installed:
        return
    from chalice import local

    from chalicelib.domain.messages import message_for

    class RouteNotFound(local.LocalGatewayException):
        CODE = 404

    original = local.LocalGateway.handle_request

    def handle_request(self, method, path, headers, body):
        try:
            return original(self, method, path, headers, body)
        except local.ForbiddenError as exc:
            if b"Missing Authentication Token" not in (exc.body or b"") and \
                    b"Authorization header requires" not in (exc.body or b""):
                raise
            payload = {"code": "ROUTE_NOT_FOUND", "message": message_for("ROUTE_NOT_FOUND"), "details": {}}
            raise RouteNotFound({"Content-Type": "application/json; charset=utf-8",
                                 "Cache-Control": "no-store"},
                                json.dumps(payload, ensure_ascii=False).encode()) from None

    local.LocalGateway.handle_request = handle_request
    # Methods chalice's local HTTP handler does not implement (TRACE, QUERY, anything) reach the app like any other,
    # which answers 405 METHOD_NOT_ALLOWED, instead of http.server's HTML 501.
    def any_method(self, name):
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)

    local.ChaliceRequestHandler.__getattr__ = any_method
    _installed.append(True)
