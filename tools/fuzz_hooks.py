"""Schemathesis hooks for tools/fuzz.py (loaded through SCHEMATHESIS_HOOKS).

JSON Schema counts 45029962.0 as an integer; this API's request models are strict and take integers only as JSON
integers (money is integer fen, written without a fraction — the OpenAPI document says so). Generated bodies are
written that way.
"""
from __future__ import annotations

import schemathesis


def _integers(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integers(v) for v in value]
    if isinstance(value, dict):
        return {k: _integers(v) for k, v in value.items()}
    return value


@schemathesis.hook
def map_body(context, body):
    return _integers(body)
