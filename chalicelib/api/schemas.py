"""Request/response models shared by several route modules. Requests are strict and forbid unknown fields."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    """Base of every request body: unknown fields and wrong JSON types are refused (400 naming the field)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(extra="ignore")
