"""POST/GET /v1/authorizations, DELETE /v1/authorizations/{authorization_id} (亲友代办)."""
from __future__ import annotations

from typing import Literal

from chalice import Blueprint
from pydantic import Field, field_validator

from chalicelib.api.http import endpoint
from chalicelib.api.schemas import PHONE_SCHEMA, RequestModel, ResponseModel
from chalicelib.domain.messages import message_for

bp = Blueprint(__name__)

Scope = Literal["view", "claims"]


class GrantAuthorization(RequestModel):
    grantee_phone: str = Field(json_schema_extra=PHONE_SCHEMA)
    scopes: list[Scope] = Field(min_length=1, max_length=2, json_schema_extra={"uniqueItems": True})

    @field_validator("scopes")
    @classmethod
    def _unique(cls, scopes: list[str]) -> list[str]:
        if len(set(scopes)) != len(scopes):
            raise ValueError(message_for("SCOPES_DUPLICATED"))
        return scopes


class AuthorizationOut(ResponseModel):
    authorization_id: str
    direction: Literal["granted", "received"]
    scopes: list[Scope]
    status: Literal["active", "revoked"]
    created_at: str
    revoked_at: str | None = None
    grantee_phone_masked: str | None = None
    grantor_name_masked: str | None = None


def _out(authorization) -> AuthorizationOut:
    from dataclasses import asdict

    return AuthorizationOut.model_validate(asdict(authorization))


@endpoint(bp, "/v1/authorizations", methods=("POST",), summary="被保险人授权亲友查看保单或代办理赔",
          request=GrantAuthorization, response=AuthorizationOut, status=201, tags=("authorizations",))
def grant_authorization(ctx, body: GrantAuthorization):
    from chalicelib import deps
    from chalicelib.services import access, authorizations

    account = access.account_of(deps.accounts(), ctx.principal)
    return _out(authorizations.grant(deps.grants(), account, body.grantee_phone, list(body.scopes),
                                     deps.clock().now()))


@endpoint(bp, "/v1/authorizations", summary="我给出的授权和我获得的授权", response=list[AuthorizationOut],
          tags=("authorizations",))
def list_authorizations(ctx):
    from chalicelib import deps
    from chalicelib.services import access, authorizations

    return [_out(a) for a in authorizations.list_for(deps.grants(), access.account_of(deps.accounts(), ctx.principal))]


@endpoint(bp, "/v1/authorizations/{authorization_id}", methods=("DELETE",), summary="取消授权(仅授权人)",
          response=AuthorizationOut, tags=("authorizations",))
def revoke_authorization(ctx, authorization_id: str):
    from chalicelib import deps
    from chalicelib.services import access, authorizations

    account = access.account_of(deps.accounts(), ctx.principal)
    return _out(authorizations.revoke(deps.grants(), account, authorization_id, deps.clock().now()))
