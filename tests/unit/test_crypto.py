"""Ciphertexts bound to their record (issue #10 item 8): AES-GCM associated data names the record; v1 still reads."""
import base64
import os

import pytest

from chalicelib.adapters.crypto import CiphertextMismatch, FieldCipher

CIPHER = FieldCipher(bytes(range(32)), b"h" * 32)
ID = "331102198005010112"


def _v1(plaintext: str, context: str) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    return base64.b64encode(b"\x01" + nonce + AESGCM(bytes(range(32))).encrypt(nonce, plaintext.encode(),
                                                                                 context.encode())).decode()


def test_a_bound_ciphertext_reads_back_under_its_record():
    token = CIPHER.encrypt(ID, "id_number", record="hash-of-zhang")
    assert CIPHER.decrypt(token, "id_number", record="hash-of-zhang") == ID


def test_a_ciphertext_moved_to_another_persons_row_is_refused():
    token = CIPHER.encrypt(ID, "id_number", record="hash-of-zhang")
    with pytest.raises(CiphertextMismatch):
        CIPHER.decrypt(token, "id_number", record="hash-of-wang")


def test_the_record_inside_the_envelope_cannot_be_rewritten():
    raw = bytearray(base64.b64decode(CIPHER.encrypt(ID, "id_number", record="hash-of-zhang")))
    raw[2:2 + len("hash-of-zhang")] = b"hash-of-wangg"
    with pytest.raises(CiphertextMismatch):
        CIPHER.decrypt(base64.b64encode(bytes(raw)).decode(), "id_number", record="hash-of-wangg")


def test_another_fields_context_is_refused():
    token = CIPHER.encrypt(ID, "id_number", record="r")
    with pytest.raises(CiphertextMismatch):
        CIPHER.decrypt(token, "bank_account", record="r")


def test_the_old_format_is_still_readable():
    assert CIPHER.decrypt(_v1(ID, "id_number"), "id_number") == ID
    assert CIPHER.decrypt(_v1(ID, "id_number"), "id_number", record="any") == ID


def test_a_reader_that_names_no_record_still_reads_a_bound_ciphertext():
    token = CIPHER.encrypt(ID, "id_number", record="hash-of-zhang")
    assert CIPHER.decrypt(token, "id_number") == ID
