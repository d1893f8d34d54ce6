"""Field protection for sensitive personal data (PIPL): AES-256-GCM encryption and keyed hashing.

Locally the data key comes from settings; in deployed stages `KmsFieldCipher` unwraps a data key with KMS once per
container (envelope encryption), so ciphertexts are the same format everywhere: base64(version|nonce|ciphertext).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os

_VERSION = b"\x01"


class FieldCipher:
    def __init__(self, data_key: bytes, hash_key: bytes) -> None:
        if len(data_key) != 32 or len(hash_key) < 16:
            raise ValueError("AES-256 data key and a hash key of 16+ bytes are required")
        self._data_key = data_key
        self._hash_key = hash_key

    def lookup_hash(self, value: str, purpose: str = "id") -> str:
        """Keyed hash (HMAC-SHA256) used to find a record by an ID number without storing the number in a key."""
        return hmac.new(self._hash_key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()

    def encrypt(self, plaintext: str, context: str) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(12)
        ct = AESGCM(self._data_key).encrypt(nonce, plaintext.encode(), context.encode())
        return base64.b64encode(_VERSION + nonce + ct).decode()

    def decrypt(self, token: str, context: str) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        raw = base64.b64decode(token)
        if raw[:1] != _VERSION:
            raise ValueError("unknown ciphertext version")
        return AESGCM(self._data_key).decrypt(raw[1:13], raw[13:], context.encode()).decode()


def kms_field_cipher(kms_key_id: str, wrapped_data_key_b64: str, hash_key: bytes, region: str) -> FieldCipher:
    """Deployed stages: the data key is stored wrapped by the customer-managed KMS key and unwrapped once."""
    import boto3

    kms = boto3.client("kms", region_name=region)
    plain = kms.decrypt(CiphertextBlob=base64.b64decode(wrapped_data_key_b64), KeyId=kms_key_id)["Plaintext"]
    return FieldCipher(plain, hash_key)
