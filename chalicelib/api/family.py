"""POST/GET /v1/family-members, GET/DELETE /v1/family-members/{member_id}."""
from __future__ import annotations

from datetime import date

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.http import endpoint
from chalicelib.api.schemas import ID_NUMBER_SCHEMA, NAME_SCHEMA, RequestModel, ResponseModel
from chalicelib.domain.vocabulary import Relationship

bp = Blueprint(__name__)


class AddFamilyMember(RequestModel):
    name: str = Field(json_schema_extra=NAME_SCHEMA)
    id_number: str = Field(json_schema_extra=ID_NUMBER_SCHEMA)
    relationship: Relationship


class BasicInsuranceOut(ResponseModel):
    type: str
    city: str
    status: str


class PlanOptionOut(ResponseModel):
    plan_id: str
    plan_name: str
    can_enrol: bool
    already_covered: bool
    payment_methods: list[str]
    reason_code: str | None = None
    reason: str | None = None


class FamilyMemberOut(ResponseModel):
    member_id: str
    name: str
    id_number_masked: str
    relationship: Relationship
    birth_date: date
    sex: str
    created_at: str
    basic_insurance: BasicInsuranceOut
    plans: list[PlanOptionOut]


def _out(member) -> FamilyMemberOut:
    from dataclasses import asdict

    return FamilyMemberOut.model_validate(asdict(member))


@endpoint(bp, "/v1/family-members", methods=("POST",), summary="添加家庭成员(需先实名)", request=AddFamilyMember,
          response=FamilyMemberOut, status=201, tags=("family",))
def add_family_member(ctx, body: AddFamilyMember):
    from chalicelib import deps
    from chalicelib.services import access, family

    member = family.add_member(deps.family_ports(), access.account_of(deps.accounts(), ctx.principal), body.name,
                               body.id_number, body.relationship, deps.clock().now())
    return _out(member)


@endpoint(bp, "/v1/family-members", summary="我的家庭成员及各方案可否参保", response=list[FamilyMemberOut],
          tags=("family",))
def list_family_members(ctx):
    from chalicelib import deps
    from chalicelib.services import access, family

    members = family.list_members(deps.family_ports(), access.account_of(deps.accounts(), ctx.principal),
                                  deps.clock().now())
    return [_out(m) for m in members]


@endpoint(bp, "/v1/family-members/{member_id}", summary="家庭成员详情", response=FamilyMemberOut, tags=("family",))
def get_family_member(ctx, member_id: str):
    from chalicelib import deps
    from chalicelib.services import access, family

    return _out(family.get_member(deps.family_ports(), access.account_of(deps.accounts(), ctx.principal), member_id,
                                  deps.clock().now()))


@endpoint(bp, "/v1/family-members/{member_id}", methods=("DELETE",), summary="删除家庭成员(已购保单不受影响)",
          status=204, tags=("family",))
def delete_family_member(ctx, member_id: str):
    from chalice import Response

    from chalicelib import deps
    from chalicelib.services import family

    family.remove_member(deps.family_ports(), ctx.principal.account_id, member_id)
    return Response(body="", status_code=204)
