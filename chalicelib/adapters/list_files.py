"""Reading the lists civil affairs and employers really send (DOMAIN §10): CSV in UTF-8 (with or without BOM) or
GBK/GB18030 — what Excel writes on a Chinese Windows —, or XLSX. The header row names the columns, in Chinese
(`姓名,身份证号码,类别`) or English (`name,id_number,group`); column order is free, extra columns are ignored, blank
rows are skipped. Rows come back numbered as the sheet numbers them (header = row 1).
"""
from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterator
from typing import Literal

from chalicelib.domain.bulk import MAX_FILE_ROWS, ListRow
from chalicelib.domain.errors import BadRequest

ListFormat = Literal["csv", "xlsx"]

# Header spellings seen in real lists → our column. Matched after NFKC, trimming and case-folding.
HEADERS: dict[str, str] = {
    "姓名": "name", "name": "name", "参保人姓名": "name",
    "身份证号码": "id_number", "身份证号": "id_number", "公民身份号码": "id_number", "证件号码": "id_number",
    "id_number": "id_number",
    "类别": "group", "人员类别": "group", "困难类别": "group", "group": "group",
}
REQUIRED = ("name", "id_number")


def read_list(data: bytes, fmt: ListFormat) -> list[ListRow]:
    """Every person row of the file, or 400 BULK_FILE_UNREADABLE / BULK_HEADER_INVALID / BULK_TOO_MANY_ROWS."""
    rows = _xlsx_rows(data) if fmt == "xlsx" else _csv_rows(data)
    return list(_list_rows(rows))


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")  # a superset of GBK and GB2312
    except UnicodeDecodeError:
        raise BadRequest("BULK_FILE_UNREADABLE", field="file", reason="无法识别文件编码(支持 UTF-8 与 GBK)") from None


def _csv_rows(data: bytes) -> Iterator[list[object]]:
    text = _decode(data)
    try:
        yield from csv.reader(io.StringIO(text, newline=""))
    except csv.Error:
        raise BadRequest("BULK_FILE_UNREADABLE", field="file", reason="CSV 格式有误") from None


def _xlsx_rows(data: bytes) -> Iterator[list[object]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise BadRequest("BULK_FILE_UNREADABLE", field="file", reason="不是有效的 Excel(.xlsx)文件") from None
    try:
        sheet = book.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield list(values)
    finally:
        book.close()


def _header_key(cell: object) -> str:
    text = unicodedata.normalize("NFKC", str(cell or "")).strip().strip("\ufeff").casefold()
    return HEADERS.get(text, "")


def _list_rows(rows: Iterator[list[object]]) -> Iterator[ListRow]:
    header: dict[str, int] | None = None
    count = 0
    for number, values in enumerate(rows, start=1):
        if header is None:
            columns = [_header_key(v) for v in values]
            header = {name: columns.index(name) for name in set(columns) if name}
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                raise BadRequest("BULK_HEADER_INVALID", field="file")
            continue
        cells = {name: (values[i] if i < len(values) else None) for name, i in header.items()}
        if all(v is None or str(v).strip() == "" for v in cells.values()):
            continue  # blank rows Excel leaves behind
        count += 1
        if count > MAX_FILE_ROWS:
            raise BadRequest("BULK_TOO_MANY_ROWS", field="file", max_rows=MAX_FILE_ROWS)
        raw_id = cells.get("id_number")
        yield ListRow(row=number, name=_text(cells.get("name")), id_number=_text(raw_id),
                      group=_text(cells.get("group")) or None,
                      id_was_number=isinstance(raw_id, int | float) and not isinstance(raw_id, bool))
    if header is None:
        raise BadRequest("BULK_HEADER_INVALID", field="file")


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip()
