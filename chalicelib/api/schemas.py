"""Request/response models shared by several route modules. Requests are strict and forbid unknown fields."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    """Base of every request body: unknown fields and wrong JSON types are refused (400 naming the field)."""

    # defer_build: validators are built on first use, not at import (cold start is product quality)
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)
