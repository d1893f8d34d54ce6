"""Bulk enrolment (DOMAIN §10): subsidised lists from civil affairs (参保资助) and collective purchase by employers.
Pure rules: the batch lifecycle, how a list row is screened, duplicates within a list, the organisation's credit
code, the refused-rows report. No I/O, no clock (days are passed in).

    subsidy:     awaiting_upload? → running (read the file?, screen + issue) → done
    collective:  awaiting_upload? → running (read the file?, screen) → awaiting_payment → issuing → done
                 a file that cannot be read as a list (no header, not UTF-8/GBK/XLSX, empty): running → failed
                 (policies issue only after a second staff member — never the creator — confirms the transfer)

Row numbers are what staff see in their own sheet: for an uploaded file the sheet's row number (the header is
row 1, so the first person is row 2); for rows sent inline, their position starting at 1.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.errors import BadRequest, DomainError, Forbidden, RuleViolation
from chalicelib.domain.messages import MESSAGES, message_for
from chalicelib.domain.plan import Plan
from chalicelib.domain.platform import PlatformPerson

Funding = Literal["subsidy", "collective"]
BatchStatus = Literal["awaiting_upload", "running", "awaiting_payment", "issuing", "done", "failed"]
STATUSES: tuple[str, ...] = ("awaiting_upload", "running", "awaiting_payment", "issuing", "done", "failed")
BatchEvent = Literal["uploaded", "unreadable", "screened", "payment_received", "issued"]

# (status, event, funding) → next status. Anything absent is refused.
TRANSITIONS: dict[tuple[str, str, str], str] = {
    ("awaiting_upload", "uploaded", "subsidy"): "running",
    ("awaiting_upload", "uploaded", "collective"): "running",
    ("running", "screened", "subsidy"): "done",  # subsidised rows issue as they are screened
    ("running", "screened", "collective"): "awaiting_payment",
    ("awaiting_payment", "payment_received", "collective"): "issuing",
    ("issuing", "issued", "collective"): "done",
    ("running", "unreadable", "subsidy"): "failed",  # the uploaded file is read by the job worker, after `start`
    ("running", "unreadable", "collective"): "failed",
}

MAX_INLINE_ROWS = 50_000
MAX_FILE_ROWS = 500_000
# Which staff role may submit which funding (their token also names the cities they act for).
ROLE_FOR_FUNDING: dict[str, str] = {"subsidy": "bureau", "collective": "insurer_admin"}

RowCode = Literal["ISSUED", "TAKEN_OVER", "ALREADY_COVERED", "DUPLICATE_ROW", "ID_NUMBER_INVALID", "ID_NUMBER_AS_NUMBER",
                  "NAME_INVALID", "PERSON_NOT_FOUND_IN_PLATFORM", "NOT_IN_PLAN_CITY", "BASIC_TYPE_NOT_ADMITTED",
                  "BASIC_INSURANCE_SUSPENDED", "EXCLUDED_PROGRAMME", "GROUP_NOT_ADMITTED", "ROW_INCOMPLETE"]


def next_status(status: str, event: str, funding: str) -> str:
    target = TRANSITIONS.get((status, event, funding))
    if target is None:
        from chalicelib.domain.errors import Conflict

        raise Conflict("BULK_STATE_CONFLICT", status=status, status_zh=MESSAGES[f"BULK_STATUS_{status.upper()}"])
    return target


def check_confirmer(created_by: str, confirmed_by: str) -> None:
    """Four eyes (DOMAIN §10.2): whoever created a collective batch can never confirm its transfer."""
    if created_by == confirmed_by:
        raise Forbidden("BULK_CONFIRMER_IS_CREATOR")


class ListRow(BaseModel):
    """One row as the list gave it, before any check (values as text; the ID number never logged)."""

    model_config = ConfigDict(frozen=True)

    row: int
    name: str
    id_number: str
    group: str | None = None
    id_was_number: bool = False  # the sheet stored the ID as a number: Excel has already lost its last digits


class ScreenedRow(BaseModel):
    """A row after the checks that need no platform: a normalised name and ID, or why it is refused."""

    model_config = ConfigDict(frozen=True)

    row: int
    name: str
    id_number: str  # normalised (ASCII, upper-case X) when valid; as given otherwise — only ever shown masked
    group: str | None = None
    refusal: RowRefusal | None = None


class RowRefusal(BaseModel):
    model_config = ConfigDict(frozen=True)

    row: int
    code: str
    message: str
    id_number_masked: str


ScreenedRow.model_rebuild()


def masked(id_number: str) -> str:
    from chalicelib.domain.resident_id import mask

    return mask(id_number.strip().upper())


def refusal(row: int, id_number: str, code: str, message: str | None = None, **details) -> RowRefusal:
    return RowRefusal(row=row, code=code, message=message or message_for(code, **details),
                      id_number_masked=masked(id_number))


def screen_rows(rows: Iterable[ListRow], today: date, groups_admitted: Iterable[str] | None = None) -> list[ScreenedRow]:
    """Shape checks for every row, in order: name, resident ID (GB 11643), group, and duplicates within the list —
    the first row of a person is kept, every later one is `DUPLICATE_ROW` naming the first."""
    from chalicelib.domain.identity import normalise_name
    from chalicelib.domain.resident_id import parse_resident_id

    admitted = set(groups_admitted) if groups_admitted is not None else None
    first_row: dict[str, int] = {}
    out: list[ScreenedRow] = []
    for r in rows:
        def refused(code: str, message: str | None = None, _r=r, **details) -> ScreenedRow:
            return ScreenedRow(row=_r.row, name=_r.name, id_number=_r.id_number, group=_r.group,
                               refusal=refusal(_r.row, _r.id_number, code, message, **details))

        if not (r.name or "").strip() or not (r.id_number or "").strip():
            out.append(refused("ROW_INCOMPLETE", row_number=r.row))
            continue
        if r.id_was_number:
            out.append(refused("ID_NUMBER_AS_NUMBER"))
            continue
        try:
            name = normalise_name(r.name)
        except DomainError as exc:
            out.append(refused(exc.code, exc.message))
            continue
        try:
            number = parse_resident_id(r.id_number, today).number
        except DomainError as exc:
            out.append(refused(exc.code, exc.message))
            continue
        group = (r.group or "").strip() or None
        if admitted is not None and group is not None and group not in admitted:
            out.append(refused("GROUP_NOT_ADMITTED", group=group))
            continue
        if number in first_row:
            out.append(ScreenedRow(row=r.row, name=name, id_number=number, group=group,
                                   refusal=refusal(r.row, number, "DUPLICATE_ROW", first_row=first_row[number])))
            continue
        first_row[number] = r.row
        out.append(ScreenedRow(row=r.row, name=name, id_number=number, group=group))
    return out


def platform_refusal(row: ScreenedRow, plan: Plan, person: PlatformPerson | None) -> RowRefusal | None:
    """The checks an order makes (DOMAIN §2), on what the 医保 platform says of this row's person."""
    from chalicelib.domain.enrolment_rules import check_eligible
    from chalicelib.domain.identity import same_person_name

    if person is None or not same_person_name(row.name, person.name):
        return refusal(row.row, row.id_number, "PERSON_NOT_FOUND_IN_PLATFORM")
    try:
        check_eligible(plan, person, who=f"第 {row.row} 行人员")
    except RuleViolation as exc:
        return refusal(row.row, row.id_number, exc.code, exc.message)
    return None


def parse_credit_code(raw: str, field: str = "payer.credit_code") -> str:
    """统一社会信用代码 (GB 32100-2015): 18 characters with its check character, or 400 naming the field."""
    import unicodedata

    from stdnum.cn import uscc
    from stdnum.exceptions import ValidationError

    code = unicodedata.normalize("NFKC", raw or "").strip().upper()
    try:
        return uscc.validate(code)
    except ValidationError:
        raise BadRequest("CREDIT_CODE_INVALID", field=field) from None


def refused_rows_csv(refusals: Iterable[RowRefusal]) -> bytes:
    """The refused rows as a CSV staff open in Excel (UTF-8 with BOM, so Chinese shows), masked IDs only."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([MESSAGES["BULK_CSV_ROW"], MESSAGES["BULK_CSV_ID"], MESSAGES["BULK_CSV_CODE"],
                     MESSAGES["BULK_CSV_REASON"]])
    for r in sorted(refusals, key=lambda r: r.row):
        writer.writerow([r.row, r.id_number_masked, r.code, r.message])
    return "\ufeff".encode() + buf.getvalue().encode("utf-8")


# ---- the batch as the services speak of it ---------------------------------------------------------------------
FUNDING_ZH: dict[str, str] = {"subsidy": "参保资助", "collective": "集体投保"}
ROLE_ZH: dict[str, str] = {"bureau": "医保局经办人员", "insurer_admin": "保险公司管理人员"}
ELIGIBLE = "ELIGIBLE"  # collective, screened and waiting for the transfer (not a final outcome)
FINAL_NOT_REFUSED = ("ISSUED", "ALREADY_COVERED")


class Payer(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    county: str | None = None  # the county government paying a subsidised list
    credit_code: str | None = None  # 统一社会信用代码 of an organisation buying collectively


class Batch(BaseModel):
    model_config = ConfigDict(frozen=True)

    batch_id: str
    plan_id: str
    funding: Funding
    programme: str | None = None
    payer: Payer
    status: BatchStatus
    row_count: int
    chunks: int
    created_by: str
    created_at: str
    accepted_on: date  # subsidy: benefits start by §4 from this day, whenever a worker reaches the row
    confirmed_by: str | None = None
    confirmed_on: date | None = None  # collective: the transfer confirmed; benefits start from here
    amount_fen: int | None = None  # collective: what the organisation owes (eligible rows × premium)
    upload_format: Literal["csv", "xlsx"] | None = None  # a list sent as a file (awaiting_upload until started)
    upload_key: str | None = None
    error: dict[str, str] | None = None  # failed: why the uploaded file could not be read ({code, message})

    @property
    def paid_on(self) -> date:
        return self.confirmed_on if self.funding == "collective" and self.confirmed_on else self.accepted_on


class PayerRequest(BaseModel):
    """Who pays, as staff named them (checked against the plan by the service: county, credit code)."""

    name: str
    county: str | None = None
    credit_code: str | None = None


class RowRequest(BaseModel):
    name: str = ""
    id_number: str | int = ""  # a number: the sheet's cell was in number format (refused: ID_NUMBER_AS_NUMBER)
    group: str | None = None


class UploadRequest(BaseModel):
    format: Literal["csv", "xlsx"]


class BatchRequest(BaseModel):
    """A bulk list as staff submit it (API.md v1.1): the rows inline, or a file to upload."""

    plan_id: str
    funding: Funding
    programme: str | None = None
    payer: PayerRequest
    rows: list[RowRequest] | None = None
    upload: UploadRequest | None = None


class StoredRow(BaseModel):
    """A screened row as the batch keeps it (its chunks) and the job's messages carry it: the ID number encrypted,
    with its keyed hash for the cover markers — or, refused by the screening, only its refusal (masked ID)."""

    model_config = ConfigDict(frozen=True)

    row: int
    name: str | None = None
    group: str | None = None
    id_hash: str | None = None
    id_enc: str | None = None
    refusal: RowRefusal | None = None


class RowOutcome(BaseModel):
    """What became of one row, recorded once: ISSUED / TAKEN_OVER (with the policy, and the refund of a takeover),
    ELIGIBLE (collective, waiting for the transfer), ALREADY_COVERED, or a refusal's code."""

    model_config = ConfigDict(frozen=True, extra="allow")

    row: int
    code: str
    policy_id: str | None = None
    refund_id: str | None = None


class BatchCounts(BaseModel):
    issued: int = 0
    already_covered: int = 0
    refused: int = 0
    eligible: int = 0  # collective rows screened and waiting for the transfer
    taken_over: int = 0  # of `issued`: self-paid policies whose premium the county government took over (§10.4)

    @property
    def screened(self) -> int:
        return self.issued + self.already_covered + self.refused + self.eligible

    @property
    def final(self) -> int:
        return self.issued + self.already_covered + self.refused


def settled_status(batch: Batch, counts: BatchCounts) -> str | None:
    """The event every row's outcome implies, if the batch has reached it: a running batch whose rows are all
    screened is `screened` (a list has at least one row: an uploaded file not yet read has none); an issuing
    (collective) batch with no row left waiting is `issued`."""
    if batch.status == "running" and batch.row_count > 0 and counts.screened >= batch.row_count:
        return "screened"
    if batch.status == "issuing" and counts.eligible == 0 and counts.final >= batch.row_count:
        return "issued"
    return None


SELF_PAID_METHODS = ("wechat_pay", "personal_account")


def takes_over(funding: str, plan: Plan, payment_method: str, already_taken_over: bool) -> bool:
    """DOMAIN §10.4: a subsidised list's person who had already paid for their own cover keeps that policy, the
    government takes over its premium and the payment is refunded — when the plan says so (on by default). A policy
    bought by an organisation, or taken over already, stays as it is (the row is ALREADY_COVERED)."""
    return (funding == "subsidy" and plan.bulk_enrolment.take_over_self_paid
            and payment_method in SELF_PAID_METHODS and not already_taken_over)


def row_counters(code: str) -> tuple[str, ...]:
    """The counts a row outcome adds to: a takeover is `issued` (the person is covered at the payer's expense:
    `rows = issued + already_covered + refused` holds and the amount counts it) and also `taken_over`."""
    if code == "TAKEN_OVER":
        return ("issued", "taken_over")
    return (row_code_counter(code),)


def row_code_counter(code: str) -> str:
    """Which count a row outcome adds to (DOMAIN §10.4: DUPLICATE_ROW and every other refusal are `refused`)."""
    return {"ISSUED": "issued", "ALREADY_COVERED": "already_covered", ELIGIBLE: "eligible"}.get(code, "refused")
