"""Domain errors: a stable code, an HTTP-ish kind, and details. Messages live in messages.py."""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a member or client may see. `status` follows API.md's conventions."""

    status = 400

    def __init__(self, code: str, message: str | None = None, **details: Any) -> None:
        from chalicelib.domain.messages import message_for

        self.code = code
        self.details = details
        self.message = message or message_for(code, **details)
        super().__init__(f"{code}: {self.message}")


class BadRequest(DomainError):
    status = 400


class Unauthorized(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class RuleViolation(DomainError):
    """A business rule said no (not eligible, window closed, balance too low...)."""

    status = 422


class TooManyRequests(DomainError):
    status = 429


class UpstreamUnavailable(DomainError):
    """An external system (医保 platform, WeChat) did not answer; safe to retry with the same key."""

    status = 503


class ChallengeRequired(DomainError):
    """The client must solve a captcha before this is tried again (API.md v1.1: 428 CHALLENGE_REQUIRED)."""

    status = 428
