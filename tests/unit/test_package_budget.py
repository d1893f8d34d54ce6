"""`make package` reports the zip against its budget and fails over it (tools/package_budget.py)."""
import zipfile

from tools.package_budget import parts, report


def _zip(path, files):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, size in files.items():
            z.writestr(name, b"x" * size)
    return path


def test_the_largest_parts_are_summed_per_top_level_entry(tmp_path):
    z = _zip(tmp_path / "d.zip", {"cryptography/a.so": 3000, "cryptography/b.py": 1000, "pydantic/c.py": 2000,
                                   "app.py": 10, "jwt-2.8.dist-info/RECORD": 5})
    assert [name for name, _ in parts(z)][:2] == ["cryptography", "pydantic"]


def test_a_zip_over_budget_is_refused_and_says_so(tmp_path):
    z = _zip(tmp_path / "d.zip", {"big.bin": 5000})
    ok, text = report(z, budget=1000)
    assert not ok and "OVER" in text and "largest: big.bin" in text
    ok, text = report(z, budget=10_000)
    assert ok and "within" in text
