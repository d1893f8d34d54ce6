"""`make package`: the Lambda deployment zip against its budget (issue #10 item 10).

Prints the zipped size, the budget (12 MiB zipped, what other open issues add included) and the largest top-level
parts; exits 1 when the zip is over budget, so a dependency that blows it is noticed where it is added.
"""
from __future__ import annotations

import collections
import sys
import zipfile
from pathlib import Path

BUDGET_BYTES = 12 * 2**20
MIB = 2**20


def parts(path: Path, top: int = 8) -> list[tuple[str, int]]:
    """The largest top-level entries of the zip by compressed bytes (a package, a module, chalicelib, app.py)."""
    sizes: collections.Counter[str] = collections.Counter()
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            name = info.filename.split("/")[0]
            if name.endswith(".dist-info"):
                name = "*.dist-info"
            sizes[name] += info.compress_size
    return sizes.most_common(top)


def report(path: Path, budget: int = BUDGET_BYTES) -> tuple[bool, str]:
    size = path.stat().st_size
    with zipfile.ZipFile(path) as z:
        unzipped = sum(i.file_size for i in z.infolist())
    lines = [f"{path}: {size:,} bytes = {size / MIB:.2f} MiB zipped ({unzipped / MIB:.1f} MiB unzipped); "
             f"budget {budget / MIB:.2f} MiB zipped: {'within' if size <= budget else 'OVER'} "
             f"({(budget - size) / MIB:+.2f} MiB)",
             "largest: " + ", ".join(f"{name} {n / MIB:.2f}" for name, n in parts(path))]
    return size <= budget, "\n".join(lines)


def main(argv: list[str]) -> int:
    ok, text = report(Path(argv[1]))
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
