"""Field protection for sensitive personal data (PIPL): AES-256-GCM encryption and keyed hashing.

Locally the data key comes from settings; in deployed stages `KmsFieldCipher` unwraps a data key with KMS once per
container (envelope encryption), so ciphertexts are the same format everywhere.

Formats (base64):
- v1 `01 | nonce | ciphertext`, associated data = the field's context ("id_number"): still read, no longer written
  when a record is named;
- v2 `02 | len | record | nonce | ciphertext`, associated data = context + "|" + record, where the record names
  what the value belongs to (for an ID number: the person's keyed hash, which every row holding it carries —
  account.person_hash, member.id_hash, order.payer_hash, policy.insured_hash). A reader that names the record it
  expects gets ValueError for a ciphertext moved from another person's row; one that does not still reads it.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os

_VERSION = b"\x01"
_VERSION_BOUND = b"\x02"


class CiphertextMismatch(ValueError):
    """The ciphertext belongs to another record (moved between rows) or was altered."""


class FieldCipher:
    def __init__(self, data_key: bytes, hash_key: bytes) -> None:
        if len(data_key) != 32 or len(hash_key) < 16:
            raise ValueError("AES-256 data key and a hash key of 16+ bytes are required")
        self._data_key = data_key
        self._hash_key = hash_key

    def lookup_hash(self, value: str, purpose: str = "id") -> str:
        """Keyed hash (HMAC-SHA256) used to find a record by an ID number without storing the number in a key."""
        return hmac.new(self._hash_key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()

    def encrypt(self, plaintext: str, context: str, record: str | None = None) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(12)
        if record is None:
            ct = AESGCM(self._data_key).encrypt(nonce, plaintext.encode(), context.encode())
            return base64.b64encode(_VERSION + nonce + ct).decode()
        name = record.encode()
        if not 0 < len(name) < 256:
            raise ValueError("a record name is 1-255 bytes")
        ct = AESGCM(self._data_key).encrypt(nonce, plaintext.encode(), _bound(context, name))
        return base64.b64encode(_VERSION_BOUND + bytes([len(name)]) + name + nonce + ct).decode()

    def decrypt(self, token: str, context: str, record: str | None = None) -> str:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        raw = base64.b64decode(token)
        try:
            if raw[:1] == _VERSION:
                return AESGCM(self._data_key).decrypt(raw[1:13], raw[13:], context.encode()).decode()
            if raw[:1] == _VERSION_BOUND:
                size = raw[1]
                name, rest = raw[2:2 + size], raw[2 + size:]
                if record is not None and name != record.encode():
                    raise CiphertextMismatch("the ciphertext belongs to another record")
                return AESGCM(self._data_key).decrypt(rest[:12], rest[12:], _bound(context, name)).decode()
        except InvalidTag:
            raise CiphertextMismatch("the ciphertext was altered or belongs to another field") from None
        raise ValueError("unknown ciphertext version")


def _bound(context: str, record: bytes) -> bytes:
    return context.encode() + b"|" + record


def kms_field_cipher(kms_key_id: str, wrapped_data_key_b64: str, hash_key: bytes, region: str) -> FieldCipher:
    """Deployed stages: the data key is stored wrapped by the customer-managed KMS key and unwrapped once."""
    import boto3

    kms = boto3.client("kms", region_name=region)
    plain = kms.decrypt(CiphertextBlob=base64.b64decode(wrapped_data_key_b64), KeyId=kms_key_id)["Plaintext"]
    return FieldCipher(plain, hash_key)
