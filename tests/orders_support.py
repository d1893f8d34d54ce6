"""Scenario builders shared by the order and payment tests: a payer with relatives, orders placed over the API."""
from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any

from chalicelib.adapters.clock import CHINA_TZ
from tests.helpers import FamilyRelatives, bind_identity, login, new_id, register_person

IN_WINDOW = datetime(2020, 12, 15, 10, 0, tzinfo=CHINA_TZ)  # 浙丽保 2021 central enrolment window


def add_member(client, headers: dict[str, str], name: str, id_number: str, relationship: str) -> str:
    resp = client.http.post("/v1/family-members", headers=headers,
                            body=json.dumps({"name": name, "id_number": id_number, "relationship": relationship}))
    assert resp.status_code == 201, resp.body
    return json.loads(resp.body)["member_id"]


class Family(FamilyRelatives):
    """An employee payer in 丽水 (personal account) and relatives registered on the simulated platform."""

    def __init__(self, client, phone: str = "13800000001", current_fen: int = 50000, prior_years_fen: int = 100000,
                 name: str = "王建国", **payer_fields: Any) -> None:
        self.client = client
        self.id_number = new_id("331102", date(1980, 3, 1))
        self.person = register_person(name, self.id_number, current_fen=current_fen,
                                      prior_years_fen=prior_years_fen, **payer_fields)
        self.headers = login(client, phone)
        bind_identity(client, self.headers, name, self.id_number)
        self.members: dict[str, str] = {}  # label → member id
        self.ids: dict[str, str] = {"self": self.id_number}

    def add_member(self, name: str, id_number: str, relationship: str) -> str:
        return add_member(self.client, self.headers, name, id_number, relationship)

    def order(self, insured: list[str], payment_method: str = "personal_account", plan_id: str = "lishui-2021",
              key: str | None = None, headers: dict[str, str] | None = None, **extra: Any):
        refs = [self.members.get(i, i) for i in insured]
        body = {"plan_id": plan_id, "insured": refs, "payment_method": payment_method, **extra}
        return post_order(self.client, headers or self.headers, body, key)

    def balances(self, label: str = "self") -> dict[str, Any]:
        from chalicelib import deps

        return deps.platform().statement(self.ids[label])


def post_order(client, headers: dict[str, str], body: dict[str, Any], key: str | None = None):
    resp = client.http.post("/v1/orders", headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex},
                            body=json.dumps(body))
    return resp.status_code, json.loads(resp.body)
