"""Reading the lists civil affairs and employers send: CSV (UTF-8, UTF-8 with BOM, GBK) and XLSX."""
import io
from datetime import date

import pytest

from chalicelib.adapters.list_files import read_list
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.resident_id import make_test_id

A = make_test_id("331102", date(1950, 1, 2), 11)
B = make_test_id("331121", date(1962, 7, 9), 22, female=True)
CSV = f"姓名,身份证号码,类别\r\n王小明,{A},低保\r\n,,\r\n李四,{B},特困\r\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_in_every_encoding_excel_writes(encoding):
    rows = read_list(CSV.encode(encoding), "csv")
    assert [(r.row, r.name, r.id_number, r.group) for r in rows] == [(2, "王小明", A, "低保"), (4, "李四", B, "特困")]


def test_english_headers_in_any_order_and_extra_columns():
    data = f"note,id_number,name\r\nx,{A},王小明\r\n".encode()
    rows = read_list(data, "csv")
    assert (rows[0].name, rows[0].id_number, rows[0].group) == ("王小明", A, None)


def test_a_file_without_the_header_row_is_refused_naming_the_file():
    with pytest.raises(BadRequest) as err:
        read_list(f"王小明,{A}\r\n".encode(), "csv")
    assert err.value.code == "BULK_HEADER_INVALID" and err.value.details["field"] == "file"
    with pytest.raises(BadRequest):
        read_list(b"", "csv")


def test_bytes_that_are_neither_utf8_nor_gbk_are_refused():
    with pytest.raises(BadRequest) as err:
        read_list(b"\xff\xfe\x00\x81\x30\xff", "csv")
    assert err.value.code == "BULK_FILE_UNREADABLE"


def _xlsx(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for r in rows:
        sheet.append(r)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def test_xlsx_with_ids_as_text_and_a_blank_row():
    data = _xlsx([["姓名", "身份证号码", "类别"], ["王小明", A, "低保"], [None, None, None], ["李四", B, None]])
    rows = read_list(data, "xlsx")
    assert [(r.row, r.name, r.id_number, r.group) for r in rows] == [(2, "王小明", A, "低保"), (4, "李四", B, None)]
    assert not any(r.id_was_number for r in rows)


def test_xlsx_id_stored_as_a_number_is_flagged_not_trusted():
    data = _xlsx([["姓名", "身份证号码"], ["王小明", 331102195001020111]])
    rows = read_list(data, "xlsx")
    assert rows[0].id_was_number


def test_a_file_that_is_not_xlsx_is_refused():
    with pytest.raises(BadRequest) as err:
        read_list(b"PK\x03\x04 not really a zip", "xlsx")
    assert err.value.code == "BULK_FILE_UNREADABLE"
