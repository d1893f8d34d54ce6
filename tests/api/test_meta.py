import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_openapi_document_is_valid_and_lists_every_route(client, app):
    from openapi_spec_validator import validate

    resp = client.http.get("/v1/openapi.json")
    assert resp.status_code == 200
    doc = json.loads(resp.body)
    validate(doc)
    for path, methods in app.routes.items():
        for method in methods:
            if method == "OPTIONS":
                continue
            assert method.lower() in doc["paths"].get(path, {}), f"{method} {path} missing from OpenAPI"


def test_deployed_stage_has_no_sandbox_routes():
    code = ("import app, json; print(json.dumps(sorted(app.app.routes)))")
    env = dict(os.environ, HMB_STAGE="prod", HMB_TOKEN_SECRET="x" * 32, HMB_STAFF_TOKEN_SECRET="y" * 32,
               HMB_ID_HASH_KEY="11" * 32, HMB_ID_DATA_KEY="22" * 32)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    routes = json.loads(out.stdout)
    assert routes, "the deployed app has routes"
    assert not [r for r in routes if r.startswith("/sandbox")]


def test_importing_the_app_builds_no_aws_client():
    code = ("import sys, app; bad=[m for m in ('boto3','botocore') if m in sys.modules]; print(','.join(bad))")
    env = dict(os.environ, HMB_STAGE="local")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
