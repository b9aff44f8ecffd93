"""Signing one body for many requests with a digest computed once."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from federation import httpsig

URL = "https://remote.test/users/bob/inbox"
KEY_ID = "https://school-a.test/users/alice#main-key"
BODY = b'{"type":"Create","id":"https://school-a.test/a/1"}'
NOW = 1_700_000_000.0


@pytest.fixture(scope="module")
def key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@pytest.mark.parametrize("scheme", [httpsig.CAVAGE, httpsig.RFC9421])
def test_reused_digest_signs_identically(
    key: ed25519.Ed25519PrivateKey, scheme: str
) -> None:
    fresh = httpsig.sign_request("POST", URL, {}, BODY, key, KEY_ID, scheme=scheme, now=NOW)
    reused = httpsig.sign_request(
        "POST", URL, {}, BODY, key, KEY_ID, scheme=scheme, now=NOW,
        body_digest=httpsig.BodyDigest(BODY),
    )
    assert reused == fresh


@pytest.mark.parametrize("scheme", [httpsig.CAVAGE, httpsig.RFC9421])
def test_reused_digest_verifies(key: ed25519.Ed25519PrivateKey, scheme: str) -> None:
    digest = httpsig.BodyDigest(BODY)
    headers = httpsig.sign_request(
        "POST", URL, {}, BODY, key, KEY_ID, scheme=scheme, now=NOW, body_digest=digest
    )
    info = httpsig.verify_request(
        "POST", "/users/bob/inbox", headers, BODY, key.public_key(), now=NOW
    )
    assert info.key_id == KEY_ID


def test_digest_of_other_body_rejected(key: ed25519.Ed25519PrivateKey) -> None:
    other = httpsig.BodyDigest(b"{}")
    with pytest.raises(ValueError, match="another body"):
        httpsig.sign_request("POST", URL, {}, BODY, key, KEY_ID, body_digest=other)


def test_rfc9421_key_id_outside_ascii_rejected(key: ed25519.Ed25519PrivateKey) -> None:
    with pytest.raises(ValueError, match="printable ASCII"):
        httpsig.sign_request(
            "POST", URL, {}, BODY, key, "https://school-a.test/users/é#main-key",
            scheme=httpsig.RFC9421,
        )


def test_rfc9421_signature_input_shape(key: ed25519.Ed25519PrivateKey) -> None:
    headers = httpsig.sign_request(
        "POST", URL, {}, BODY, key, KEY_ID, scheme=httpsig.RFC9421, now=NOW
    )
    assert headers["Signature-Input"] == (
        'sig1=("@method" "@target-uri" "content-digest");created=1700000000;'
        f'keyid="{KEY_ID}";alg="ed25519"'
    )
