"""The deployment zip the stack deploys: slimmed, within the 12 MiB budget, and the code runs from it (issue #10 item 10).

The zip is the functions' CDK asset in the synthesised assembly (what `cdk deploy` uploads). A fresh interpreter
without site-packages imports, from that zip alone, app.py, every chalicelib module and every third-party module the
code imports anywhere (also inside functions), and reads the data files the code reads; only boto3/botocore/
s3transfer may come from outside the zip (the Lambda Python runtime provides them).
"""
from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tools.package_budget import BUDGET_BYTES
from tools.slim_package import dropped

RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")

CHECK = r'''
import ast, importlib, json, pkgutil, sys
root, outside = sys.argv[1], sys.argv[2]
sys.path[:] = [root] + [p for p in sys.path if p and "site-packages" not in p] + [outside]

names = set()
for path in [f"{root}/app.py", *__import__("glob").glob(f"{root}/chalicelib/**/*.py", recursive=True)]:
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
third_party = sorted(n for n in names if n.split(".")[0] not in sys.stdlib_module_names
                     and n.split(".")[0] not in ("app", "chalicelib"))
import chalicelib
own = sorted(m.name for m in pkgutil.walk_packages(chalicelib.__path__, "chalicelib."))
for name in third_party + own + ["app"]:
    importlib.import_module(name)

# The data files the code reads at run time.
from chalicelib.domain.resident_id import region_known
from chalicelib.domain.working_days import _holidays_by_rule
from stdnum.cn import uscc
import io, openpyxl
book = openpyxl.Workbook(); book.active["A1"] = "姓名"; buffer = io.BytesIO(); book.save(buffer)
assert openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))["Sheet"]["A1"].value == "姓名"
assert region_known("110101") and not region_known("999999")
assert len(_holidays_by_rule(2031)) >= 7
uscc.is_valid("91110000600037341L")

from_outside = sorted({m.split(".")[0] for m, mod in list(sys.modules.items())
                       if getattr(mod, "__file__", None) and mod.__file__.startswith(outside)})
print(json.dumps({"third_party": third_party, "own": len(own), "from_outside": from_outside}))
'''


@pytest.fixture(scope="module")
def deployed_zip(real, tmp_path_factory) -> Path:
    """The asset the prod stack's functions run (the same bytes as dev's: the zip carries no stage setting)."""
    template = real.template("prod")
    keys = {res["Properties"]["Code"]["S3Key"] for res in template["Resources"].values()
            if res["Type"] == "AWS::Lambda::Function" and "Handler" in res["Properties"]
            and str(res["Properties"]["Handler"]).startswith("app.")}
    keys |= {res["Properties"]["CodeUri"]["Key"] for res in template["Resources"].values()
             if res["Type"] == "AWS::Serverless::Function"}
    resolved = set()
    for key in keys:
        text = json.dumps(key)
        resolved |= {p for p in real.outdir.glob("asset.*.zip") if p.name.removeprefix("asset.").removesuffix(".zip")
                     in text}
    assert len(resolved) == 1, f"expected one code asset for the app's functions, found {resolved or keys}"
    return resolved.pop()


def test_the_deployed_zip_is_slimmed_and_within_budget(deployed_zip):
    with zipfile.ZipFile(deployed_zip) as z:
        names = z.namelist()
    assert deployed_zip.stat().st_size <= BUDGET_BYTES, f"{deployed_zip.stat().st_size / 2**20:.2f} MiB"
    assert "app.py" in names and "stdnum/cn/loc.dat" in names and "holidays/countries/china.py" in names
    assert not [n for n in names if dropped(n)]
    assert not [n for n in names if n.split("/")[0] in RUNTIME_PROVIDED]


def test_every_module_the_code_imports_loads_from_the_deployed_zip(deployed_zip, tmp_path):
    root = tmp_path / "task"
    with zipfile.ZipFile(deployed_zip) as z:
        z.extractall(root)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HMB_", "AWS_", "PYTHON"))}
    env |= {"HMB_STAGE": "prod", "AWS_DEFAULT_REGION": "cn-north-1"}
    done = subprocess.run([sys.executable, "-S", "-c", CHECK, str(root), site.getsitepackages()[0]],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"holidays.countries.china", "stdnum.cn", "openpyxl", "wechatpayv3", "jwt", "cryptography"} <= {
        n.split(".")[0] if n.startswith(("jwt", "cryptography", "openpyxl", "wechatpayv3")) else n
        for n in result["third_party"]}
    assert result["own"] > 50
    assert set(result["from_outside"]) <= set(RUNTIME_PROVIDED), result["from_outside"]
