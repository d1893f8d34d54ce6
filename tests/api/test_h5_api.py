"""GET /h5 and GET /h5/{file}: content types, cache headers, the whitelist, relative URLs, the asset budget."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

H5_DIR = Path(__file__).resolve().parents[2] / "chalicelib" / "h5"
ASSET_BUDGET_BYTES = 100 * 1024


def test_the_page_is_html_not_cached_and_names_its_stage(client):
    resp = client.http.get("/h5")

    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert resp.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    html = resp.body.decode()
    assert '<html lang="zh-CN">' in html
    assert '<meta name="hmb-stage" content="local">' in html
    assert "{{" not in html


def test_a_deployed_stage_page_does_not_load_the_sandbox_panel():
    from chalicelib.api.h5 import _csp, render_index

    html = render_index("prod")
    assert '<meta name="hmb-stage" content="prod">' in html
    assert "127.0.0.1" not in _csp("prod")
    # app.js loads sandbox.js only when the stage is local (deployed stages have no /sandbox routes at all)
    assert "if (api.SANDBOX) import('./sandbox.js')" in (H5_DIR / "app.js").read_text()
    assert "export const SANDBOX = STAGE === 'local';" in (H5_DIR / "api.js").read_text()


def test_every_url_in_the_page_is_relative_and_no_other_host_is_named(client):
    html = client.http.get("/h5").body.decode()
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and all(not u.startswith(("/", "http:", "https:")) for u in urls), urls
    for path in sorted(H5_DIR.iterdir()):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), f"{path.name} names a host"
        assert "@import" not in text and "fonts.googleapis" not in text


@pytest.mark.parametrize(("name", "content_type"), [
    ("app.js", "text/javascript; charset=utf-8"), ("app.css", "text/css; charset=utf-8"),
    ("icon.svg", "image/svg+xml"), ("sandbox.js", "text/javascript; charset=utf-8"),
])
def test_assets_have_their_content_type_an_etag_and_a_short_cache(client, name, content_type):
    resp = client.http.get(f"/h5/{name}")

    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == content_type
    assert resp.headers["Cache-Control"] == "public, max-age=300"
    assert re.fullmatch(r'"[0-9a-f]{16}"', resp.headers["ETag"])
    assert resp.body.decode() == (H5_DIR / name).read_text(encoding="utf-8")


def test_an_asset_asked_for_by_its_version_is_immutable_and_revalidates_to_304(client):
    etag = client.http.get("/h5/app.css").headers["ETag"]
    html = client.http.get("/h5").body.decode()
    version = etag.strip('"')
    assert f"h5/app.css?v={version}" in html

    versioned = client.http.get(f"/h5/app.css?v={version}")
    assert versioned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    stale = client.http.get("/h5/app.css?v=0000000000000000")
    assert stale.headers["Cache-Control"] == "public, max-age=300"

    again = client.http.get("/h5/app.css", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.body in (b"", "")


@pytest.mark.parametrize("name", ["index.html", "app.py", "..%2Fh5.py", "%2e%2e", "APP.JS", "app.js.map", "x"])
def test_only_whitelisted_files_are_served(client, name):
    resp = client.http.get(f"/h5/{name}")

    assert resp.status_code == 404
    assert resp.json_body["code"] == "NOT_FOUND"
    assert resp.json_body["message"]


def test_the_whitelist_and_the_folder_agree_and_fit_the_budget():
    from chalicelib.api.h5 import _FILES

    on_disk = {p.name for p in H5_DIR.iterdir() if p.is_file()}
    assert on_disk == set(_FILES) | {"index.html"}
    total = sum(p.stat().st_size for p in H5_DIR.iterdir() if p.is_file())
    assert total < ASSET_BUDGET_BYTES, f"{total} bytes of H5 assets"
