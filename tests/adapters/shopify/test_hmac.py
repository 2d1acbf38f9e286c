"""The webhook signature: Shopify's public test vector, rotation, and forged headers that must not crash."""

from __future__ import annotations

from possync.adapters.shopify.hmac import sign, verify

VECTOR_SECRET = "test_secret_key"
VECTOR_BODY = b'{"foo": "bar"}'
VECTOR_HMAC = "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="


def test_public_test_vector() -> None:
    assert sign(VECTOR_BODY, VECTOR_SECRET) == VECTOR_HMAC
    assert sign(b"{}", VECTOR_SECRET) == "XvcIOG8nFWDt7em908qMy3qjutRcuCIanacuUBx1sD8="


def test_verify_says_which_secret_matched() -> None:
    assert verify(VECTOR_BODY, VECTOR_HMAC, [VECTOR_SECRET, "old"]) == 0
    assert verify(VECTOR_BODY, VECTOR_HMAC, ["new", VECTOR_SECRET]) == 1
    assert verify(VECTOR_BODY, f"  {VECTOR_HMAC}\t", [VECTOR_SECRET]) == 0  # surrounding space is not the MAC


def test_verify_rejects() -> None:
    assert verify(VECTOR_BODY + b" ", VECTOR_HMAC, [VECTOR_SECRET]) is None  # one byte more
    assert verify(VECTOR_BODY, VECTOR_HMAC, ["other", None]) is None
    assert verify(VECTOR_BODY, None, [VECTOR_SECRET]) is None
    assert verify(VECTOR_BODY, "", [VECTOR_SECRET]) is None
    assert verify(VECTOR_BODY, VECTOR_HMAC, []) is None
    assert verify(VECTOR_BODY, VECTOR_HMAC.rstrip("="), [VECTOR_SECRET]) is None  # padding is part of it
    # Hex of the same digest is not accepted: Shopify sends base64.
    import base64

    assert verify(VECTOR_BODY, base64.b64decode(VECTOR_HMAC).hex(), [VECTOR_SECRET]) is None


def test_non_ascii_header_is_a_mismatch_not_an_exception() -> None:
    assert verify(VECTOR_BODY, "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7é=", [VECTOR_SECRET]) is None
    assert verify(VECTOR_BODY, "\u2603" * 44, [VECTOR_SECRET]) is None
