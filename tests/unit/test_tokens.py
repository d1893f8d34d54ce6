"""Member and staff tokens are signed with different keys: neither can be minted with the other's key."""
import time

import jwt
import pytest

from chalicelib.api.auth import MEMBER_AUDIENCE, STAFF_AUDIENCE, _decode, issue_member_token, issue_staff_token
from chalicelib.config import get_settings, reset_settings
from chalicelib.domain.errors import Unauthorized


@pytest.fixture(autouse=True)
def fresh_settings():
    reset_settings()
    yield
    reset_settings()


def test_staff_token_signed_with_the_member_key_is_refused():
    s = get_settings()
    forged = jwt.encode({"sub": "x", "aud": STAFF_AUDIENCE, "iss": s.staff_token_issuer, "role": "insurer_admin",
                         "exp": int(time.time()) + 60}, s.token_secret, algorithm="HS256")
    with pytest.raises(Unauthorized):
        _decode(forged)


def test_member_token_signed_with_the_staff_key_is_refused():
    s = get_settings()
    forged = jwt.encode({"sub": "acct", "aud": MEMBER_AUDIENCE, "exp": int(time.time()) + 60},
                        s.staff_token_secret, algorithm="HS256")
    with pytest.raises(Unauthorized):
        _decode(forged)


def test_genuine_tokens_decode_to_their_principal():
    assert _decode(issue_member_token("acct-1")[0]).subject == "acct-1"
    staff = _decode(issue_staff_token("s-1", "claims_reviewer"))
    assert (staff.kind, staff.subject, staff.role) == ("staff", "s-1", "claims_reviewer")
