"""What the sandbox's simulated partners share when they serve their own HTTP contract (sandbox_platform.py: the 医保
platform, docs/medical-platform.md; sandbox_payout.py: the payout gateway, docs/payouts.md): the simulator behind
the port, the HMAC check of each contract request (adapters/signed_http.py), and the partner's refusals and
simulated timeouts turned into the contract's answers."""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.signed_http import SignatureHeaders, signature_problem
from chalicelib.domain.errors import Conflict, DomainError, RuleViolation, Unauthorized, UpstreamUnavailable
from chalicelib.domain.messages import message_for


@dataclass(frozen=True)
class SimulatedPartner:
    """One partner's simulator as its contract routes see it."""

    port: Callable[[], Any]  # deps.platform / deps.payouts
    simulator_type: type
    not_simulated: str  # 409 code when the port is a real adapter
    headers: SignatureHeaders
    secret: Callable[[], bytes]
    signature_invalid: str  # 401 code
    refused: type[Exception]  # the port's stated refusal (has .code)
    unavailable: type[Exception]  # the port's "outcome unknown"
    timeout: str  # 503 code for a simulated timeout
    statuses: Mapping[str, type[DomainError]]  # refusal code → HTTP error class (default 422)
    message_prefix: str  # catalogue key of a refusal: f"{prefix}_{code}"

    def simulator(self) -> Any:
        port = self.port()
        if not isinstance(port, self.simulator_type):
            raise Conflict(self.not_simulated)
        return port

    def verify_signature(self, ctx, contract_path: str) -> None:
        problem = signature_problem(self.headers, self.secret(), ctx.request.method, contract_path, ctx.query,
                                    ctx.headers, ctx.raw_body, time.time())
        if problem is not None:
            raise Unauthorized(self.signature_invalid, reason=problem)

    def call(self, operation: Callable[[Any], Any]) -> Any:
        """Run one port operation on the simulator; its refusals and simulated timeouts become HTTP answers."""
        try:
            return operation(self.simulator())
        except self.refused as exc:
            raise self.http_error(exc.code) from None  # type: ignore[attr-defined]
        except self.unavailable:
            raise UpstreamUnavailable(self.timeout) from None

    def http_error(self, code: str) -> DomainError:
        """The partner's code goes on the wire unchanged; its message comes from the catalogue."""
        return self.statuses.get(code, RuleViolation)(code, message_for(f"{self.message_prefix}_{code}"))
