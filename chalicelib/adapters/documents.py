"""Documents port: claim documents in the private S3 bucket, reached only through short-lived pre-signed URLs.

- `upload_form(key, content_type, size_bytes)` — a pre-signed POST whose policy pins the key, the Content-Type and
  the exact length (`content-length-range`), so S3 refuses anything else. The local S3 (moto) does not enforce
  these conditions, which is why the service also `head`s each object before accepting it.
- `download_url(key)` — a pre-signed GET valid for a few minutes.
- `head(key)` — the stored object's content type and length, or None if nothing was uploaded.

The member's browser/mini-program talks to S3 directly; the API never proxies file bytes. `AWS_ENDPOINT_URL_S3`
points the client at the local S3 in the sandbox (the pre-signed URLs then point there too).
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass

UPLOAD_EXPIRES_SECONDS = 15 * 60
DOWNLOAD_EXPIRES_SECONDS = 5 * 60
DEFAULT_MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class StoredObject:
    content_type: str | None
    size_bytes: int


@dataclass(frozen=True)
class UploadForm:
    url: str
    fields: dict[str, str]
    expires_in: int


class S3Documents:
    def __init__(self, settings, max_bytes: int | None = None) -> None:
        self.bucket = settings.bucket_name
        self.region = settings.region
        # The size limit is a deployment setting (HMB_DOCUMENT_MAX_BYTES), read when the port is built.
        self.max_bytes = max_bytes or int(settings.get("HMB_DOCUMENT_MAX_BYTES") or DEFAULT_MAX_BYTES)
        self._client = None
        self._lock = threading.Lock()

    def _s3(self):
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                self._client = boto3.session.Session().client(
                    "s3", region_name=self.region, endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3"),
                    config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                  retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=2,
                                  read_timeout=5))
            return self._client

    def upload_form(self, key: str, content_type: str, size_bytes: int) -> UploadForm:
        post = self._s3().generate_presigned_post(
            Bucket=self.bucket, Key=key, Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", size_bytes, size_bytes]],
            ExpiresIn=UPLOAD_EXPIRES_SECONDS)
        return UploadForm(url=post["url"], fields=dict(post["fields"]), expires_in=UPLOAD_EXPIRES_SECONDS)

    def download_url(self, key: str) -> str:
        return self._s3().generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": key},
                                                 ExpiresIn=DOWNLOAD_EXPIRES_SECONDS)

    def head(self, key: str) -> StoredObject | None:
        from botocore.exceptions import ClientError

        try:
            meta = self._s3().head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return StoredObject(content_type=meta.get("ContentType"), size_bytes=int(meta["ContentLength"]))
