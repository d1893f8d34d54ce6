"""Uploaded bulk-enrolment lists (DOMAIN §10, API.md v1.1) in the private bucket, under `bulk-lists/{plan_id}/`.

Staff upload the file civil affairs sent straight to S3 with a pre-signed POST (the API never proxies the bytes);
`start` reads it once, and it is deleted as soon as its rows are stored encrypted — the file holds ID numbers in
clear (the bucket is versioned: the noncurrent version goes a day later, and a file never started expires after
the plan's retention period — the stack's lifecycle rules). Same client settings as the claim documents
(adapters/documents.py); `AWS_ENDPOINT_URL_S3` locally.
"""
from __future__ import annotations

import os
import threading

from chalicelib.adapters.documents import UploadForm

LIST_PREFIX = "bulk-lists/"  # the CDK stack's lifecycle rules expire it per plan (infra BULK_LIST_PREFIX)
UPLOAD_EXPIRES_SECONDS = 30 * 60
MAX_LIST_BYTES = 50 * 1024 * 1024  # 500 000 rows of CSV are ~25 MB
CONTENT_TYPES = {"csv": "text/csv",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def list_key(plan_id: str, batch_id: str, fmt: str) -> str:
    """One folder per plan, so each plan's retention period is a lifecycle rule on its prefix (DOMAIN §10.4)."""
    return f"{LIST_PREFIX}{plan_id}/{batch_id}.{fmt}"


class S3ListUploads:
    def __init__(self, settings) -> None:
        self.bucket = settings.bucket_name
        self.region = settings.region
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
                                  read_timeout=30))
            return self._client

    def upload_form(self, key: str, fmt: str) -> UploadForm:
        content_type = CONTENT_TYPES[fmt]
        post = self._s3().generate_presigned_post(
            Bucket=self.bucket, Key=key, Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, MAX_LIST_BYTES]],
            ExpiresIn=UPLOAD_EXPIRES_SECONDS)
        return UploadForm(url=post["url"], fields=dict(post["fields"]), expires_in=UPLOAD_EXPIRES_SECONDS)

    def read(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            return self._s3().get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._s3().head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def delete(self, key: str) -> None:
        self._s3().delete_object(Bucket=self.bucket, Key=key)
