"""Every Chinese word a member reads comes from domain/messages.py (MESSAGES and TERMS): the services hold no
Chinese string literal of their own (docstrings and comments may name the Chinese terms)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from chalicelib.domain.messages import TERMS, term

ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u4e00-\u9fff]")


def chinese_literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [f"{path.name}:{node.lineno} {node.value!r}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            and CJK.search(node.value)]


def test_the_services_hold_no_chinese_text_outside_the_catalogue():
    found = [hit for path in sorted((ROOT / "chalicelib" / "services").rglob("*.py")) for hit in chinese_literals(path)]

    assert found == []


def test_the_scan_finds_a_literal_but_not_a_docstring(tmp_path):
    module = tmp_path / "probe.py"
    module.write_text('"""医保 in a docstring."""\nLABEL = "您本人"\n', encoding="utf-8")

    assert chinese_literals(module) == ["probe.py:2 '您本人'"]


def test_a_term_fills_its_placeholders():
    assert term("WHO_FAMILY_MEMBER", relation="配偶", position=2) == "您的配偶(第2位被保险人)"
    assert term("WHO_LIST_ROW", row=7) == "第 7 行人员"


def test_an_unknown_term_is_a_programming_error():
    with pytest.raises(KeyError):
        term("NO_SUCH_TERM")
    assert all(key.isupper() for key in TERMS)
