"""The OpenAPI document is as precise as the code (issue #10 item 9): every status a route can answer, optional
login where login is optional, patterns on phone / ID / account numbers, list limits as enforced."""
from __future__ import annotations

import json
import re

import pytest

from chalicelib.domain.plan import MAX_INSURED_PER_ORDER

PATTERNED = {"phone", "grantee_phone", "id_number", "account_number"}
# A bulk list's rows are checked one by one and refused per row in the batch's report, not with a 400 for the list.
PER_ROW = {"RowIn"}


@pytest.fixture()
def doc(client):
    return json.loads(client.http.get("/v1/openapi.json").body)


def operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield f"{method.upper()} {path}", op


def test_every_route_documents_bad_input_unknown_ids_throttling_and_an_unavailable_dependency(doc):
    missing = {name: sorted({"400", "404", "429", "503"} - set(op["responses"])) for name, op in operations(doc)}
    assert {k: v for k, v in missing.items() if v} == {}


def test_every_route_that_takes_a_token_documents_401_and_403_and_a_body_415(doc):
    for name, op in operations(doc):
        if {"bearer": []} in op["security"]:
            assert {"401", "403"} <= set(op["responses"]), name
        if "requestBody" in op:
            assert "415" in op["responses"], name


def test_every_documented_error_has_the_contracts_error_shape(doc):
    for name, op in operations(doc):
        for status, answer in op["responses"].items():
            if int(status) >= 400:
                assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, \
                    (name, status)


def test_estimates_take_a_token_but_do_not_require_one(doc):
    assert doc["paths"]["/v1/estimates"]["post"]["security"] == [{}, {"bearer": []}]


def test_member_routes_require_a_token_and_login_routes_do_not(doc):
    assert doc["paths"]["/v1/me"]["get"]["security"] == [{"bearer": []}]
    assert doc["paths"]["/v1/auth/sms"]["post"]["security"] == []
    assert "428" in doc["paths"]["/v1/auth/sms"]["post"]["responses"]


def _request_models(doc):
    """The API's (not the sandbox's) request bodies' models and every model they nest (responses mask these numbers, so carry no pattern)."""
    schemas, names = doc["components"]["schemas"], set()
    pending = [op["requestBody"]["content"]["application/json"]["schema"] for name, op in operations(doc)
               if "requestBody" in op and not name.split()[1].startswith("/sandbox")]
    while pending:
        for ref in re.findall(r'"#/components/schemas/(\w+)"', json.dumps(pending.pop())):
            if ref not in names:
                names.add(ref)
                pending.append(schemas[ref])
    return {name: schemas[name] for name in names}


def _properties(schemas):
    for model, schema in schemas.items():
        for field, spec in schema.get("properties", {}).items():
            yield model, field, spec


def _patterns(spec):
    return [spec["pattern"]] if "pattern" in spec else [p for alt in spec.get("anyOf", []) for p in _patterns(alt)]


def test_phone_id_and_account_numbers_carry_the_patterns_the_code_enforces(doc):
    found = {}
    for model, field, spec in _properties(_request_models(doc)):
        if field in PATTERNED and model not in PER_ROW:
            assert _patterns(spec), f"{model}.{field} has no pattern"
            found.setdefault(field, set()).update(_patterns(spec))
    assert set(found) == PATTERNED
    (phone,) = found["phone"] | found["grantee_phone"]
    assert re.fullmatch(phone, "13800138000") and not re.fullmatch(phone, "12800138000")
    (id_number,) = found["id_number"]
    assert re.fullmatch(id_number, "11010519491231002X") and not re.fullmatch(id_number, "1101051949123100")


def test_an_order_lists_at_most_as_many_insured_as_any_plan_allows(doc):
    from chalicelib.plans import all_plans

    insured = doc["components"]["schemas"]["OrderIn"]["properties"]["insured"]
    assert insured["maxItems"] == MAX_INSURED_PER_ORDER
    assert max(p.max_insured_per_order for p in all_plans().values()) == MAX_INSURED_PER_ORDER


def test_names_are_documented_as_the_code_accepts_them(doc):
    from chalicelib.domain.identity import normalise_name

    schemas = doc["components"]["schemas"]
    for model in ("IdentityIn", "AddFamilyMember"):
        name = schemas[model]["properties"]["name"]
        assert (name["minLength"], name["maxLength"]) == (2, 30), model
        for good in ("王小明", "\uf900三", "阿依古丽·买买提", "Smith"):
            assert re.fullmatch(name["pattern"], good) and normalise_name(good), good
        for bad in ("", "王", "王1", "·王", "王 小"):
            assert not (re.fullmatch(name["pattern"], bad) and len(bad) >= 2), bad


def test_an_orders_insured_are_distinct_and_not_empty(doc):
    insured = doc["components"]["schemas"]["OrderIn"]["properties"]["insured"]
    assert insured["uniqueItems"] is True and insured["items"]["minLength"] == 1


def test_grant_scopes_are_distinct_and_auto_renewal_is_documented_as_personal_account_only(doc):
    schemas = doc["components"]["schemas"]
    assert schemas["GrantAuthorization"]["properties"]["scopes"]["uniqueItems"] is True
    refused = schemas["OrderIn"]["not"]
    assert refused["properties"] == {"auto_renew": {"const": True}, "payment_method": {"const": "wechat_pay"}}


def test_order_requests_keep_their_strictness(client):
    from chalicelib.api.orders import OrderIn

    assert OrderIn.model_config["extra"] == "forbid" and OrderIn.model_config["strict"] is True
