"""Slim the Lambda deployment zip `chalice package` wrote (issue #10 item 10), in place and deterministically.

`make package` runs it before tools/package_budget.py, and the CDK stack runs it on the zip chalice.cdk packaged
before the zip becomes the functions' asset (infra/stacks/huiminbao.py `SlimChalice`), so what is measured is what
is deployed. Only files the code can never read are dropped; no dependency is:

- bytecode caches, type stubs and `RECORD` files (pip's uninstall list; nothing reads it at run time);
- `holidays` translations of holiday names other than China's (domain/working_days.py needs only the dates of
  `holidays.countries.china.China`; every country module stays, as `holidays.countries` imports them all);
- `python-stdnum` data files other than the Chinese division codes (`stdnum/cn/loc.dat`, read by
  domain/resident_id.py): the MAC vendor list, IMSI, IBAN, ISBN, foreign bank and postcode tables are read only by
  number formats this service never validates; their modules stay and would raise if ever called without them.

The zip is rewritten with sorted entries, a fixed timestamp and maximum deflate, so the same input gives the same
bytes (and the same CDK asset hash). tests/unit/test_slim_package.py imports every module the code imports from the
slimmed zip in a fresh interpreter.

    python tools/slim_package.py dist/chalice-package/deployment.zip
"""
from __future__ import annotations

import os
import re
import sys
import zipfile
from pathlib import Path

MIB = 2**20
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_DROP = re.compile(
    r"(^|/)__pycache__/"
    r"|\.py[co]$"
    r"|\.pyi$"
    r"|\.dist-info/RECORD$"
    r"|^holidays/locale/(?!zh_CN/LC_MESSAGES/CN\.mo$)"
    r"|^stdnum/(?!cn/loc\.dat$)([^/]+/)*[^/]+\.dat$"
)


def dropped(name: str) -> bool:
    """Whether an entry of the zip is one the deployed code never reads."""
    return bool(_DROP.search(name))


def slim(path: Path) -> tuple[int, int, int]:
    """Rewrite the zip at `path` without the dropped entries: (bytes before, bytes after, entries dropped)."""
    before = path.stat().st_size
    kept: list[tuple[zipfile.ZipInfo, bytes]] = []
    removed = 0
    with zipfile.ZipFile(path) as source:
        for info in source.infolist():
            if info.is_dir() or dropped(info.filename):
                removed += not info.is_dir()
                continue
            kept.append((info, source.read(info)))
    kept.sort(key=lambda item: item[0].filename)
    temporary = path.with_suffix(".slim.tmp")
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info, data in kept:
            entry = zipfile.ZipInfo(info.filename, FIXED_TIME)
            entry.external_attr = info.external_attr  # keeps the files' modes (an .so stays readable)
            entry.create_system = 3  # unix, so the modes are honoured when Lambda unpacks the zip
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, data, compresslevel=9)
    os.replace(temporary, path)
    return before, path.stat().st_size, removed


def main(argv: list[str]) -> int:
    before, after, removed = slim(Path(argv[1]))
    print(f"{argv[1]}: slimmed {before / MIB:.2f} → {after / MIB:.2f} MiB zipped ({removed} unread files dropped)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
