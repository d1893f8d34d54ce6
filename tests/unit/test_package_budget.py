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


def test_slimming_drops_only_files_the_code_never_reads():
    from tools.slim_package import dropped

    for name in ("stdnum/oui.dat", "stdnum/at/postleitzahl.dat", "holidays/locale/en_US/LC_MESSAGES/CN.mo",
                 "holidays/locale/zh_CN/LC_MESSAGES/HK.mo", "pydantic/__pycache__/main.cpython-311.pyc",
                 "jwt-2.8.dist-info/RECORD", "typing_extensions.pyi"):
        assert dropped(name), name
    for name in ("stdnum/cn/loc.dat", "stdnum/cn/ric.py", "holidays/locale/zh_CN/LC_MESSAGES/CN.mo",
                 "holidays/countries/germany.py", "jwt-2.8.dist-info/METADATA", "jwt-2.8.dist-info/licenses/LICENSE",
                 "app.py", "chalicelib/domain/resident_id.py", "cryptography/hazmat/bindings/_rust.abi3.so"):
        assert not dropped(name), name


def test_a_slimmed_zip_is_the_same_bytes_whatever_order_and_time_it_was_written_in(tmp_path):
    from tools.slim_package import slim

    files = {"b.py": b"print(2)\n" * 50, "a/x.py": b"x = 1\n", "stdnum/oui.dat": b"0" * 1000,
             "a/__pycache__/x.cpython-311.pyc": b"\0"}
    one, two = tmp_path / "one.zip", tmp_path / "two.zip"
    for path, order, stamp in ((one, sorted(files), (2020, 1, 1, 0, 0, 0)),
                               (two, sorted(files, reverse=True), (2024, 5, 6, 7, 8, 10))):
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
            for name in order:
                info = zipfile.ZipInfo(name, stamp)
                info.external_attr = 0o100644 << 16
                z.writestr(info, files[name])
    before, after, removed = slim(one)
    slim(two)
    assert removed == 2 and after < before
    assert one.read_bytes() == two.read_bytes()
    with zipfile.ZipFile(one) as z:
        assert z.namelist() == ["a/x.py", "b.py"] and z.read("b.py") == files["b.py"]
        assert z.getinfo("b.py").external_attr >> 16 == 0o100644
