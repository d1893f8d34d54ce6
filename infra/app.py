#!/usr/bin/env python3
"""CDK app: `python infra/app.py [-c stage=dev|prod|dev,prod] [-o OUTDIR]`, or `npx cdk ...` from infra/.

Synthesises without an AWS account (env-agnostic stacks). cdk-nag's AwsSolutions pack runs on every synth;
its findings land in OUTDIR/AwsSolutions-*-NagReport.csv and as errors in the cloud assembly.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

INFRA_DIR = os.path.dirname(os.path.abspath(__file__))
PROJECT_DIR = os.path.dirname(INFRA_DIR)
# Run as a script, infra/ heads sys.path and this file would shadow the Chalice app's own `app` module when
# chalice.cdk imports it: put the project root first instead (the stacks import as the `infra` package).
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) not in (INFRA_DIR, PROJECT_DIR)]
sys.path.insert(0, PROJECT_DIR)

# The machine's node works for jsii; its end-of-life banner would bury the synth output.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infra.stacks.huiminbao import HuiminbaoStack  # noqa: E402
from infra.stacks.params import stage_params  # noqa: E402


def cdk_json_context() -> dict:
    """cdk.json's feature flags, which the CDK CLI would pass; a plain `python infra/app.py` must read them."""
    if "CDK_CONTEXT_JSON" in os.environ:
        return {}
    with open(os.path.join(INFRA_DIR, "cdk.json")) as f:
        return json.load(f).get("context", {})


def build_app(outdir: str, context: dict | None = None) -> cdk.App:
    app = cdk.App(outdir=outdir, context={**cdk_json_context(), **(context or {})})
    stages = str(app.node.try_get_context("stage") or "dev").split(",")
    source_dir = app.node.try_get_context("source_dir") or PROJECT_DIR
    # `chalice package` needs a region to build a template even though the template itself is region-free.
    os.environ.setdefault("AWS_DEFAULT_REGION", os.environ.get("CDK_DEFAULT_REGION", "cn-north-1"))
    all_context = app.node.get_all_context()
    for stage in stages:
        stack = HuiminbaoStack(app, stage_params(stage.strip(), all_context), source_dir=source_dir)
        if stack.unscheduled:
            names = ", ".join(job.handler for job in stack.unscheduled)
            print(f"[{stack.stack_name}] no schedule rule for handlers app.py does not define yet: {names}",
                  file=sys.stderr)
    cdk.Aspects.of(app).add(AwsSolutionsChecks(reports=True, verbose=True))
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("-o", "--outdir", default=os.path.join(INFRA_DIR, "cdk.out"))
    args = parser.parse_args(argv)
    context = dict(item.split("=", 1) for item in args.context)
    # Under the CDK CLI, CDK_OUTDIR and CDK_CONTEXT_JSON are set and take precedence.
    outdir = os.path.abspath(os.environ.get("CDK_OUTDIR") or args.outdir)
    # chalice.cdk packages into ./chalice.out (10 MB per stage per synth) and the stack slims that zip in place:
    # each synth works in a directory of its own under infra/chalice.out, so synths running side by side (the
    # infra tests build several assemblies at once) never remove or rewrite each other's packages. The assets are
    # copied into the assembly, so the directory goes when the synth ends.
    work = os.path.join(INFRA_DIR, "chalice.out", f"synth-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.chdir(work)
    if "CDK_OUTDIR" not in os.environ and os.path.isfile(os.path.join(outdir, "manifest.json")):
        shutil.rmtree(outdir)  # a previous cloud assembly: drop stages no longer synthesised
    started = time.monotonic()
    try:
        build_app(outdir, context).synth()
    finally:
        os.chdir(INFRA_DIR)
        shutil.rmtree(work, ignore_errors=True)
    print(f"synthesised into {outdir} in {time.monotonic() - started:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
