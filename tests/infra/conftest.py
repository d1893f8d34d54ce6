"""Synthesise the CDK app once per test session (it takes ~20 s) and share the cloud assembly.

Two assemblies are built, in parallel subprocesses, exactly as `make synth` builds them:
- `real`: this project, stages dev and prod;
- `scheduled`: a minimal Chalice project that defines one of the scheduled-job handlers (with another expression
  than chalicelib/schedules.py's), to prove the stack gives it the schedules module's rule and names the missing.
Under pytest-xdist the first worker builds them and the others wait on a file lock and reuse the result.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
INFRA_APP = PROJECT_DIR / "infra" / "app.py"
STAGES = ("dev", "prod")

SCHEDULED_APP = '''
from chalice import Chalice

app = Chalice(app_name="huiminbao")


@app.route("/v1/health")
def health():
    return {"ok": True}


@app.schedule("rate(5 minutes)")
def claim_deadline_sweep(event):
    return None
'''


def _require_infra_deps() -> None:
    for module in ("aws_cdk", "cdk_nag", "cfnlint", "chalice.cdk"):
        pytest.importorskip(module, reason=f"{module} missing: `pip install -r infra/requirements.txt` (make test does)")
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the CDK (jsii) needs it to synthesise")


def _scheduled_project(root: Path) -> Path:
    project = root / "scheduled-app"
    (project / ".chalice").mkdir(parents=True)
    shutil.copy(PROJECT_DIR / ".chalice" / "config.json", project / ".chalice" / "config.json")
    shutil.copytree(PROJECT_DIR / "chalicelib" / "adapters", project / "chalicelib" / "adapters",
                    ignore=lambda d, names: [n for n in names if n != "schema.py"])
    shutil.copy(PROJECT_DIR / "chalicelib" / "schedules.py", project / "chalicelib" / "schedules.py")
    (project / "requirements.txt").write_text("")
    (project / "app.py").write_text(SCHEDULED_APP)
    return project


def _synth(outdir: Path, context: list[str]) -> subprocess.Popen:
    args = [sys.executable, str(INFRA_APP), "-o", str(outdir)]
    for item in context:
        args += ["-c", item]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDK_", "HMB_"))}
    env["AWS_DEFAULT_REGION"] = "cn-north-1"
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _build(root: Path) -> dict:
    jobs = {
        "real": _synth(root / "real", ["stage=" + ",".join(STAGES)]),
        "scheduled": _synth(root / "scheduled", ["stage=dev", f"source_dir={_scheduled_project(root)}"]),
    }
    started, result = time.monotonic(), {}
    for name, proc in jobs.items():
        out, _ = proc.communicate(timeout=900)
        result[name] = {"returncode": proc.returncode, "output": out}
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


@dataclass
class Assembly:
    outdir: Path
    output: str

    def template(self, stage: str) -> dict:
        return json.loads((self.outdir / f"{stage}.template.json").read_text())

    def stages(self) -> list[str]:
        return sorted(p.name.removesuffix(".template.json") for p in self.outdir.glob("*.template.json"))


@pytest.fixture(scope="session")
def assemblies(tmp_path_factory, worker_id) -> dict[str, Assembly]:
    _require_infra_deps()
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent
    root = shared / "infra-synth"
    root.mkdir(exist_ok=True)
    done = root / "result.json"
    with open(root / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            done.write_text(json.dumps(_build(root)))
    result = json.loads(done.read_text())
    for name in ("real", "scheduled"):
        if result[name]["returncode"] != 0:
            pytest.fail(f"synth of the {name} app failed:\n{result[name]['output'][-4000:]}")
    return {name: Assembly(root / name, result[name]["output"]) for name in ("real", "scheduled")}


@pytest.fixture(scope="session")
def real(assemblies) -> Assembly:
    return assemblies["real"]


@pytest.fixture(scope="session")
def scheduled(assemblies) -> Assembly:
    return assemblies["scheduled"]


@pytest.fixture(scope="session")
def worker_id(request) -> str:
    """pytest-xdist's worker id, or "master" when tests run in one process (xdist not installed)."""
    workerinput = getattr(request.config, "workerinput", None)
    return workerinput["workerid"] if workerinput else "master"
