"""The synthesised templates pass cfn-lint and cdk-nag's AwsSolutions pack."""
from __future__ import annotations

import csv
import json

import pytest

# China regions are where a 惠民保 runs; us-east-1 is the reference region for prices in docs/deploy.md.
LINT_REGIONS = ["cn-north-1", "cn-northwest-1", "us-east-1"]


@pytest.mark.parametrize("assembly_name,stage", [("real", "dev"), ("real", "prod"), ("scheduled", "dev")])
def test_cfn_lint_finds_no_errors(assemblies, assembly_name, stage):
    from cfnlint.api import ManualArgs, lint_file

    path = assemblies[assembly_name].outdir / f"{stage}.template.json"
    matches = lint_file(path, config=ManualArgs(regions=LINT_REGIONS))
    errors = [str(m) for m in matches if m.rule.id.startswith("E")]
    assert errors == []


def nag_rows(assembly) -> list[dict]:
    rows = []
    for report in sorted(assembly.outdir.glob("AwsSolutions-*-NagReport.csv")):
        with open(report, newline="") as f:
            rows += list(csv.DictReader(f))
    return rows


@pytest.mark.parametrize("assembly_name", ["real", "scheduled"])
def test_cdk_nag_has_no_unsuppressed_findings(assemblies, assembly_name):
    assembly = assemblies[assembly_name]
    rows = nag_rows(assembly)
    assert rows, "cdk-nag wrote no report: is the AwsSolutions aspect still applied?"
    open_findings = [(r["Rule ID"], r["Resource ID"]) for r in rows if r["Compliance"] == "Non-Compliant"]
    assert open_findings == []
    errors = []
    for metadata in assembly.outdir.glob("*.metadata.json"):
        for path, entries in json.loads(metadata.read_text()).items():
            errors += [(path, e["data"]) for e in entries if e["type"] == "aws:cdk:error"]
    assert errors == []


def test_every_nag_suppression_gives_a_real_reason(assemblies):
    suppressed = [r for name in ("real", "scheduled") for r in nag_rows(assemblies[name]) if r["Compliance"] == "Suppressed"]
    assert suppressed
    for row in suppressed:
        reason = row["Exception Reason"].split("] ", 1)[-1]  # granular findings prefix the finding id
        assert len(reason.split()) >= 12, (row["Rule ID"], row["Resource ID"], reason)


def test_only_the_reviewed_rules_are_suppressed(assemblies):
    rules = {r["Rule ID"] for name in ("real", "scheduled") for r in nag_rows(assemblies[name])
             if r["Compliance"] == "Suppressed"}
    assert rules <= {"AwsSolutions-SMG4", "AwsSolutions-IAM5", "AwsSolutions-IAM4", "AwsSolutions-SQS3"}
