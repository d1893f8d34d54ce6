"""Bulk-enrolment lists are deleted after their plan's retention period (DOMAIN §10.4): one S3 lifecycle rule per
plan that takes lists, on the folder the app uploads that plan's lists to."""
from __future__ import annotations

import json

import pytest

from chalicelib.adapters.list_uploads import LIST_PREFIX, list_key
from chalicelib.plans import all_plans
from infra.stacks.huiminbao import BULK_LIST_PREFIX, load_list_retention


@pytest.fixture(scope="module")
def prod(real) -> dict:
    return real.template("prod")


def _documents_rules(template: dict) -> list[dict]:
    buckets = [r for r in template["Resources"].values() if r["Type"] == "AWS::S3::Bucket"
               and r["Properties"].get("VersioningConfiguration")]
    assert len(buckets) == 1
    return buckets[0]["Properties"]["LifecycleConfiguration"]["Rules"]


def test_each_plan_taking_lists_expires_its_upload_folder_after_its_retention_period(prod):
    taking_lists = {p.plan_id: p.bulk_enrolment.retention_days for p in all_plans().values()
                    if {"subsidy", "collective"} & set(p.payment_methods)}
    assert taking_lists  # 浙丽保 takes subsidised and collective lists
    rules = {r["Prefix"]: r for r in _documents_rules(prod) if r.get("Id", "").startswith("expire-bulk-lists-")}
    assert set(rules) == {f"{BULK_LIST_PREFIX}{plan_id}/" for plan_id in taking_lists}
    for plan_id, days in taking_lists.items():
        rule = rules[f"{BULK_LIST_PREFIX}{plan_id}/"]
        assert list_key(plan_id, "BLK1", "csv").startswith(rule["Prefix"])  # where the app really uploads
        assert rule["Status"] == "Enabled" and rule["ExpirationInDays"] == days
        # the app deletes a started list at once; on the versioned bucket its old version goes a day later
        assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    assert BULK_LIST_PREFIX == LIST_PREFIX


def test_a_plan_taking_lists_must_state_its_retention_period(tmp_path):
    plans = tmp_path / "chalicelib" / "plans"
    plans.mkdir(parents=True)
    (plans / "a-2030.json").write_text(json.dumps({"plan_id": "a-2030", "payment_methods": ["wechat_pay"]}))
    (plans / "b-2030.json").write_text(json.dumps({"plan_id": "b-2030", "payment_methods": ["subsidy"],
                                                   "bulk_enrolment": {"retention_days": 90}}))
    assert load_list_retention(str(tmp_path)) == {"b-2030": 90}
    (plans / "c-2030.json").write_text(json.dumps({"plan_id": "c-2030", "payment_methods": ["collective"]}))
    with pytest.raises(ValueError, match="c-2030"):
        load_list_retention(str(tmp_path))
