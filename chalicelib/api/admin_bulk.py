"""Bulk enrolment (DOMAIN §10, API.md v1.1): staff submit a subsidised or collective list; rows run on the fan-out.

Roles: `bureau` for subsidy lists, `insurer_admin` for collective ones, each only for the cities their token names
(403 otherwise; members 403 STAFF_ONLY; claims reviewers 403). Thin routes over chalicelib/services/bulk.py.
"""
from __future__ import annotations

from typing import Literal

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.http import Param, endpoint
from chalicelib.api.schemas import RequestModel, ResponseModel
from chalicelib.domain.bulk import MAX_INLINE_ROWS, BatchRequest
from chalicelib.domain.errors import BadRequest

bp = Blueprint(__name__)

DEFAULT_PAGE = 100
MAX_PAGE = 1000


class PayerIn(RequestModel):
    name: str = Field(min_length=1, max_length=100, description="付款方:区县人民政府,或投保单位名称")
    county: str | None = Field(default=None, pattern=r"^\d{6}$", description="付款区县代码(参保资助)")
    credit_code: str | None = Field(default=None, max_length=40, description="统一社会信用代码(集体投保必填)")


class RowIn(RequestModel):
    name: str = Field(max_length=100)
    id_number: str | int = Field(description="as text; a number (a sheet's cell in number format, its last digits "
                                             "already lost) is refused for that row: ID_NUMBER_AS_NUMBER")
    group: str | None = Field(default=None, max_length=40, description="人员类别,如 特困、低保、低边")


class UploadIn(RequestModel):
    format: Literal["csv", "xlsx"] = Field(description="CSV in UTF-8 or GBK, or XLSX; header 姓名,身份证号码,类别")


class BulkIn(RequestModel):
    plan_id: str = Field(max_length=40)
    funding: Literal["subsidy", "collective"]
    programme: str | None = Field(default=None, max_length=100)
    payer: PayerIn
    rows: list[RowIn] | None = Field(default=None, min_length=1, max_length=MAX_INLINE_ROWS,
                                     description="the list inline; or `upload` for a file")
    upload: UploadIn | None = Field(default=None, description="send the list as a file instead of rows")


class UploadForm(ResponseModel):
    url: str
    fields: dict[str, str]
    expires_in: int


class BulkAccepted(ResponseModel):
    batch_id: str
    status: Literal["running", "awaiting_upload"]
    row_count: int | None = None
    upload: UploadForm | None = Field(default=None, description="POST the file here (multipart, these fields)")


class StartedOut(ResponseModel):
    status: Literal["running", "awaiting_payment", "issuing", "done", "failed"]
    row_count: int | None = Field(description="null until the job worker has read the file (then GET has it)")


class BulkCounts(ResponseModel):
    rows: int
    issued: int
    taken_over: int = Field(description="of issued: self-paid policies whose premium the payer took over "
                                        "(DOMAIN §10.4; the member's payment refunded)")
    already_covered: int
    refused: int
    awaiting_payment: int = Field(description="collective rows screened and waiting for the transfer")


class RefusedRow(ResponseModel):
    row: int
    code: str
    message: str
    id_number_masked: str


class RowError(ResponseModel):
    code: str
    message: str


class BulkOut(ResponseModel):
    batch_id: str
    plan_id: str
    funding: Literal["subsidy", "collective"]
    status: Literal["awaiting_upload", "running", "awaiting_payment", "issuing", "done", "failed"]
    error: RowError | None = Field(default=None, description="failed: why the uploaded file is no list")
    payer: dict[str, str]
    counts: BulkCounts
    amount_fen: int
    refused: list[RefusedRow]
    next: str | None = Field(description="cursor of the next page of refused rows; null on the last page")
    created_by: str
    created_at: str
    confirmed_by: str | None = None


def _ports():
    from chalicelib import deps

    return deps.bulk_ports()


def _now():
    from chalicelib import deps

    return deps.clock().now()


@endpoint(bp, "/v1/admin/bulk-enrolments", methods=("POST",), auth="staff", request=BulkIn, response=BulkAccepted,
          status=202, idempotent=True, tags=("admin",), summary="经办:提交参保资助或集体投保名单(逐行校验、出单)")
def create_batch(ctx, body: BulkIn):
    from chalicelib.services import bulk
    from chalicelib.services.idempotency import body_hash

    request = BatchRequest.model_validate(body.model_dump(mode="json"))
    status, answer = bulk.create(_ports(), ctx.principal, request, ctx.idempotency_key, body_hash(body), _now())
    return status, BulkAccepted.model_validate(answer)


@endpoint(bp, "/v1/admin/bulk-enrolments/{batch_id}", auth="staff", response=BulkOut, tags=("admin",),
          summary="经办:名单批次进度、计数与未通过行",
          query={"cursor": Param("the previous page's next (a row number)",
                                 {"type": "string", "pattern": "^[0-9]{0,9}$"}),
                 "limit": Param(f"refused rows per page 1–{MAX_PAGE}",
                                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
                 "format": Param("csv: the refused rows as a CSV file (UTF-8 with BOM, masked ID numbers)",
                                 {"type": "string", "enum": ["json", "csv"]})})
def get_batch(ctx, batch_id: str):
    from chalice import Response

    from chalicelib.services import bulk

    fmt = ctx.query.get("format")
    if fmt == "csv":
        data = bulk.refused_csv(_ports(), ctx.principal, batch_id)
        return Response(body=data.decode("utf-8"), status_code=200,  # text: the BOM stays, Excel shows Chinese
                        headers={"Content-Type": "text/csv; charset=utf-8",
                                 "Content-Disposition": f'attachment; filename="{batch_id}-refused.csv"'})
    if fmt not in (None, "json"):
        raise BadRequest("BAD_QUERY_PARAMETER", field="format")
    raw = ctx.query.get("limit")
    if raw is not None and (not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE):
        raise BadRequest("BAD_QUERY_PARAMETER", field="limit")
    limit = int(raw) if raw else DEFAULT_PAGE
    return BulkOut.model_validate(bulk.view(_ports(), ctx.principal, batch_id, ctx.query.get("cursor"), limit))


@endpoint(bp, "/v1/admin/bulk-enrolments/{batch_id}/start", methods=("POST",), auth="staff", response=StartedOut,
          status=202, tags=("admin",), summary="经办:名单文件上传后开始处理(任务队列读取 CSV/XLSX,逐行校验、出单)")
def start_batch(ctx, batch_id: str):
    from chalicelib.services import bulk

    return StartedOut.model_validate(bulk.start(_ports(), ctx.principal, batch_id, _now()))


@endpoint(bp, "/v1/admin/bulk-enrolments/{batch_id}/payment-received", methods=("POST",), auth="staff",
          response=BulkOut, tags=("admin",), summary="经办:确认集体投保款项到账(须非创建人),随后出单")
def payment_received(ctx, batch_id: str):
    from chalicelib.services import bulk

    return BulkOut.model_validate(bulk.confirm_payment(_ports(), ctx.principal, batch_id, _now()))
