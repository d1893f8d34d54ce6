"""GET /h5 and GET /h5/{file}: the phone-sized H5 page (zh-CN), served by the same function as the API.

Why plain HTML/CSS/ES modules with no build step: the page is a reference client of a JSON API, a few screens of
forms; a bundler would add a toolchain (node, a lock file, committed output that can drift from its source) for no
gain at this size. Browsers on the phones we serve (WeChat's X5/XWeb, iOS Safari ≥ 14, Chrome) all load ES modules.

Serving rules:
- Only the files in `_FILES` exist (a whitelist: a name not in it is 404, so no path can escape the folder; chalice's
  `{file}` cannot hold a `/` anyway). Every file is text, so API Gateway passes the body through as it is (none of
  these content types is a binary media type, nothing is base64-encoded).
- `index.html` carries the stage (`<meta name="hmb-stage">`: the sandbox panel loads only in the local stage) and
  versioned asset URLs, so it is `no-store`. An asset asked for with its own version (`?v=<hash>`) is immutable for a
  year; asked for without one (ES module imports), it is cached 5 minutes and revalidated by ETag (304).
- All URLs in the page are relative, so it works under a deployed stage's prefix (`/api/h5`); the scripts find the
  API root from their own URL. No CDN, web font or other host: the Content-Security-Policy says so too.
"""
from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from chalice import Blueprint

from chalicelib.api.http import endpoint

bp = Blueprint(__name__)

H5_DIR = Path(__file__).resolve().parent.parent / "h5"
_FILES = {
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "ui.js": "text/javascript; charset=utf-8",
    "screens.js": "text/javascript; charset=utf-8",
    "claims.js": "text/javascript; charset=utf-8",
    "sandbox.js": "text/javascript; charset=utf-8",
    "icon.svg": "image/svg+xml",
}
_ASSET_MAX_AGE = 300
# Uploads of claim documents go straight to S3 with a pre-signed POST; locally that is the moto server on loopback.
_UPLOAD_ORIGINS = {"local": "http://127.0.0.1:* http://localhost:*"}
_S3_ORIGINS = "https://*.amazonaws.com https://*.amazonaws.com.cn"


@cache
def _asset(name: str) -> tuple[str, str]:
    """(text, etag) of a whitelisted file, read once per container."""
    text = (H5_DIR / name).read_text(encoding="utf-8")
    return text, hashlib.sha256(text.encode()).hexdigest()[:16]


def _stage() -> str:
    from chalicelib.config import get_settings

    return get_settings().stage


def _csp(stage: str) -> str:
    connect = " ".join(filter(None, ["'self'", _S3_ORIGINS, _UPLOAD_ORIGINS.get(stage, "")]))
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src {connect}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def render_index(stage: str) -> str:
    html, _ = _asset("index.html")
    for name in _FILES:
        html = html.replace("{{v:" + name + "}}", _asset(name)[1])
    return html.replace("{{stage}}", stage)


@endpoint(bp, "/h5", summary="H5 页面(手机网页:测算、投保、家庭、保单、理赔,含长辈模式)", auth="none", tags=("h5",))
def h5_index(ctx):
    from chalice import Response

    stage = _stage()
    return Response(body=render_index(stage), status_code=200, headers={
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-store",
        "Content-Security-Policy": _csp(stage),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    })


@endpoint(bp, "/h5/{file}", summary="H5 页面的静态文件(白名单内的 CSS、JS、图标)", auth="none", tags=("h5",))
def h5_file(ctx, file: str):
    from chalice import Response

    from chalicelib.domain.errors import NotFound

    content_type = _FILES.get(file)
    if content_type is None:
        raise NotFound("NOT_FOUND", field="file")
    text, etag = _asset(file)
    quoted = f'"{etag}"'
    versioned = ctx.query.get("v") == etag
    headers = {
        "Content-Type": content_type,
        "ETag": quoted,
        "Cache-Control": "public, max-age=31536000, immutable" if versioned else f"public, max-age={_ASSET_MAX_AGE}",
        "X-Content-Type-Options": "nosniff",
    }
    if quoted in [t.strip() for t in ctx.headers.get("if-none-match", "").split(",")]:
        return Response(body="", status_code=304, headers=headers)
    return Response(body=text, status_code=200, headers=headers)
