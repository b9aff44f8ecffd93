"""Tests for federation.httpsig and federation.digest.

The published vectors live in tests/federation/vectors/: draft-cavage-12
Appendix C, RFC 9421 Appendix B and the RFC 9530 digest examples. Each JSON
file there names its source.
"""

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from federation import httpsig
from federation.digest import fold_headers
from federation.errors import FederationError

VECTORS = Path(__file__).parent / "vectors"
CAVAGE = json.loads((VECTORS / "cavage.json").read_text())
RFC9421 = json.loads((VECTORS / "rfc9421.json").read_text())
DIGESTS = json.loads((VECTORS / "digests.json").read_text())


def private_key(name: str) -> Any:
    return httpsig.load_private_key((VECTORS / name).read_bytes())


def public_key(name: str) -> Any:
    return httpsig.load_public_key((VECTORS / name).read_bytes())


def rfc9421_public_key(key_id: str) -> Any:
    return public_key(RFC9421["keys"][key_id]["public"])


def rfc9421_private_key(key_id: str) -> Any:
    return private_key(RFC9421["keys"][key_id]["private"])


def rejection(call: Callable[..., Any], *args: Any, **kwargs: Any) -> FederationError:
    with pytest.raises(FederationError) as caught:
        call(*args, **kwargs)
    return caught.value


def sf_bytes(dictionary_value: str) -> bytes:
    """The byte sequence of a one-member structured-field dictionary."""
    return base64.b64decode(dictionary_value.split("=:", 1)[1].rstrip(":"))


# Round-trip fixtures: the RFC 9421 B.1.1 RSA key and B.1.4 Ed25519 key.

KEYS = {
    "rsa": (
        rfc9421_private_key("test-key-rsa"),
        rfc9421_public_key("test-key-rsa"),
    ),
    "ed25519": (
        rfc9421_private_key("test-key-ed25519"),
        rfc9421_public_key("test-key-ed25519"),
    ),
}
NOW = 1_700_000_000.0
KEY_ID = "https://remote.example/users/alice#main-key"
URL = "https://local.example/users/bob/inbox"
TARGET = "/users/bob/inbox"
BODY = b'{"type": "Follow", "id": "https://remote.example/follows/1"}'
SCHEMES = (httpsig.CAVAGE, httpsig.RFC9421)


def signed(
    scheme: str,
    key: str = "rsa",
    *,
    method: str = "POST",
    url: str = URL,
    body: bytes | None = BODY,
    now: float = NOW,
) -> dict[str, str]:
    headers = {"Content-Type": "application/activity+json"}
    new = httpsig.sign_request(
        method, url, headers, body, KEYS[key][0], KEY_ID, scheme=scheme, now=now
    )
    return headers | new


def verify(
    headers: dict[str, str],
    *,
    key: str = "rsa",
    method: str = "POST",
    target: str = TARGET,
    body: bytes | None = BODY,
    now: float = NOW,
    **options: Any,
) -> httpsig.SignatureInfo:
    return httpsig.verify_request(
        method, target, headers, body, KEYS[key][1], now=now, **options
    )


def both_schemes_and_keys() -> list[tuple[str, str]]:
    return [(scheme, key) for scheme in SCHEMES for key in KEYS]


# draft-cavage-http-signatures-12 Appendix C


def cavage_headers(case: str) -> dict[str, str]:
    signature = CAVAGE["cases"][case]["signature_header"]
    return CAVAGE["request"]["headers"] | {"Signature": signature}


@pytest.mark.parametrize("case", ["default", "basic", "all"])
def test_cavage_vector_signing_string_exact(case: str) -> None:
    request = CAVAGE["request"]
    base = httpsig.signature_base(
        request["method"], request["target"], cavage_headers(case)
    )
    assert base.decode() == CAVAGE["cases"][case]["signing_string"]


@pytest.mark.parametrize("case", ["default", "basic", "all"])
def test_cavage_vector_signature_exact(case: str) -> None:
    request = CAVAGE["request"]
    base = httpsig.signature_base(
        request["method"], request["target"], cavage_headers(case)
    )
    key = private_key(CAVAGE["key"])
    signature = key.sign(base, padding.PKCS1v15(), hashes.SHA256())
    published = CAVAGE["cases"][case]["signature_header"].split('signature="')[1]
    assert base64.b64encode(signature).decode() + '"' == published


def test_cavage_vector_key_is_1024_bits() -> None:
    assert public_key(CAVAGE["public_key"]).key_size == 1024


@pytest.mark.parametrize(("case", "require_digest"), [("basic", False), ("all", True)])
def test_cavage_vector_verifies(case: str, require_digest: bool) -> None:
    request = CAVAGE["request"]
    info = httpsig.verify_request(
        request["method"],
        request["target"],
        cavage_headers(case),
        request["body"].encode(),
        public_key(CAVAGE["public_key"]),
        now=CAVAGE["now"],
        require_digest=require_digest,
    )
    assert info.key_id == "Test"
    assert info.algorithm == "rsa-sha256"
    assert info.scheme == httpsig.CAVAGE


def test_cavage_default_vector_lacks_request_target() -> None:
    request = CAVAGE["request"]
    error = rejection(
        httpsig.verify_request,
        request["method"],
        request["target"],
        cavage_headers("default"),
        request["body"].encode(),
        public_key(CAVAGE["public_key"]),
        now=CAVAGE["now"],
    )
    assert error.status == 401
    assert error.message == "Signature does not cover (request-target)"


def test_cavage_default_headers_is_date() -> None:
    request = CAVAGE["request"]
    info = httpsig.parse_signature(
        request["method"], request["target"], cavage_headers("default")
    )
    assert info.covered == ("date",)


# RFC 9421 Appendix B


def rfc9421_headers(case: str) -> dict[str, str]:
    vector = RFC9421["request_cases"][case]
    return RFC9421["request"]["headers"] | {
        "Signature-Input": vector["signature_input"],
        "Signature": vector["signature"],
    }


def rfc9421_base(case: str) -> bytes:
    request = RFC9421["request"]
    return httpsig.signature_base(
        request["method"], request["target"], rfc9421_headers(case)
    )


@pytest.mark.parametrize("case", ["B.2.1", "B.2.2", "B.2.3", "B.2.5", "B.2.6"])
def test_rfc9421_vector_signature_base_exact(case: str) -> None:
    expected = RFC9421["request_cases"][case]["signature_base"]
    assert rfc9421_base(case).decode() == expected


@pytest.mark.parametrize("case", ["B.2.1", "B.2.2", "B.2.3", "B.2.6"])
def test_rfc9421_vector_signature_verifies(case: str) -> None:
    vector = RFC9421["request_cases"][case]
    httpsig.verify_signature_bytes(
        vector["algorithm"],
        rfc9421_public_key(vector["key_id"]),
        rfc9421_base(case),
        sf_bytes(vector["signature"]),
    )


def test_rfc9421_ecdsa_response_vector_verifies() -> None:
    vector = RFC9421["response_cases"]["B.2.4"]
    httpsig.verify_signature_bytes(
        vector["algorithm"],
        rfc9421_public_key(vector["key_id"]),
        vector["signature_base"].encode(),
        sf_bytes(vector["signature"]),
    )


def test_rfc9421_ecdsa_vector_other_base_rejected() -> None:
    vector = RFC9421["response_cases"]["B.2.4"]
    error = rejection(
        httpsig.verify_signature_bytes,
        vector["algorithm"],
        rfc9421_public_key(vector["key_id"]),
        vector["signature_base"].replace("200", "201").encode(),
        sf_bytes(vector["signature"]),
    )
    assert error.status == 401


def test_rfc9421_hmac_vector_exact() -> None:
    secret = base64.b64decode(RFC9421["shared_secret_base64"])
    mac = hmac.new(secret, rfc9421_base("B.2.5"), hashlib.sha256).digest()
    assert mac == sf_bytes(RFC9421["request_cases"]["B.2.5"]["signature"])


def test_rfc9421_ed25519_vector_exact() -> None:
    key = rfc9421_private_key("test-key-ed25519")
    signature = key.sign(rfc9421_base("B.2.6"))
    assert signature == sf_bytes(RFC9421["request_cases"]["B.2.6"]["signature"])


def test_rfc9421_full_coverage_vector_accepted() -> None:
    request = RFC9421["request"]
    info = httpsig.verify_request(
        request["method"],
        request["target"],
        rfc9421_headers("B.2.3"),
        request["body"].encode(),
        rfc9421_public_key("test-key-rsa-pss"),
        now=RFC9421["created"],
    )
    assert info.scheme == httpsig.RFC9421
    assert info.key_id == "test-key-rsa-pss"
    assert info.algorithm is None


def test_rfc9421_minimal_vector_rejected() -> None:
    request = RFC9421["request"]
    error = rejection(
        httpsig.verify_request,
        request["method"],
        request["target"],
        rfc9421_headers("B.2.1"),
        request["body"].encode(),
        rfc9421_public_key("test-key-rsa-pss"),
        now=RFC9421["created"],
    )
    assert error.status == 401
    assert error.message == "Signature does not cover @method"


def test_rfc9421_path_without_query_rejected() -> None:
    request = RFC9421["request"]
    error = rejection(
        httpsig.verify_request,
        request["method"],
        request["target"],
        rfc9421_headers("B.2.6"),
        request["body"].encode(),
        rfc9421_public_key("test-key-ed25519"),
        now=RFC9421["created"],
        require_digest=False,
    )
    assert error.status == 401
    assert "@path with @query" in error.message


def test_rfc9421_parse_query_param_component() -> None:
    request = RFC9421["request"]
    info = httpsig.parse_signature(
        request["method"], request["target"], rfc9421_headers("B.2.2")
    )
    assert info.covered == ("@authority", "content-digest", '@query-param;name="Pet"')
    assert info.key_id == "test-key-rsa-pss"


# RFC 3230 and RFC 9530 digests


def test_digest_header_matches_cavage_example() -> None:
    case = DIGESTS["cases"][4]
    assert httpsig.digest_header(case["body"].encode()) == case["digest"]


def test_content_digest_header_matches_rfc9530_example() -> None:
    case = DIGESTS["cases"][0]
    assert (
        httpsig.content_digest_header(case["body"].encode()) == case["content_digest"]
    )


@pytest.mark.parametrize("case", DIGESTS["cases"], ids=lambda case: case["name"])
def test_check_body_digest_published_example(case: dict[str, str]) -> None:
    field = "Digest" if "digest" in case else "Content-Digest"
    value = case.get("digest") or case["content_digest"]
    httpsig.check_body_digest({field: value}, case["body"].encode())


@pytest.mark.parametrize("case", DIGESTS["cases"], ids=lambda case: case["name"])
def test_check_body_digest_changed_body(case: dict[str, str]) -> None:
    field = "Digest" if "digest" in case else "Content-Digest"
    value = case.get("digest") or case["content_digest"]
    error = rejection(httpsig.check_body_digest, {field: value}, b"{}")
    assert error.status == 401
    assert error.message == f"{field} header does not match the body"


def test_check_body_digest_missing_rejected() -> None:
    error = rejection(httpsig.check_body_digest, {"Host": "a.example"}, BODY)
    assert error.status == 401
    assert error.message == "Digest header missing"


def test_check_body_digest_md5_only_rejected() -> None:
    error = rejection(httpsig.check_body_digest, {"Digest": "MD5=abc="}, BODY)
    assert error.status == 401
    assert error.message == "Digest header offers no SHA-256 or SHA-512 digest"


def test_check_body_digest_malformed_content_digest_rejected() -> None:
    error = rejection(httpsig.check_body_digest, {"Content-Digest": "sha-256=("}, BODY)
    assert error.status == 401
    assert error.message == "Content-Digest header is malformed"


def test_check_body_digest_any_mismatch() -> None:
    headers = {
        "Digest": httpsig.digest_header(BODY),
        "Content-Digest": httpsig.content_digest_header(b"other"),
    }
    error = rejection(httpsig.check_body_digest, headers, BODY)
    assert error.message == "Content-Digest header does not match the body"


# Round trips: sign, verify, change one thing, expect 401.


@pytest.mark.parametrize(("scheme", "key"), both_schemes_and_keys())
def test_round_trip_verifies(scheme: str, key: str) -> None:
    info = verify(signed(scheme, key), key=key)
    assert info.scheme == scheme
    assert info.key_id == KEY_ID


@pytest.mark.parametrize(("scheme", "key"), both_schemes_and_keys())
def test_round_trip_changed_body_byte_rejected(scheme: str, key: str) -> None:
    changed = BODY.replace(b"1", b"2")
    error = rejection(verify, signed(scheme, key), key=key, body=changed)
    assert error.status == 401
    assert "does not match the body" in error.message


@pytest.mark.parametrize(("scheme", "key"), both_schemes_and_keys())
def test_round_trip_recomputed_digest_rejected(scheme: str, key: str) -> None:
    changed = BODY.replace(b"1", b"2")
    headers = signed(scheme, key)
    if scheme == httpsig.CAVAGE:
        headers["Digest"] = httpsig.digest_header(changed)
    else:
        headers["Content-Digest"] = httpsig.content_digest_header(changed)
    error = rejection(verify, headers, key=key, body=changed)
    assert error.status == 401
    assert error.message == "Signature verification failed"


@pytest.mark.parametrize(("scheme", "key"), both_schemes_and_keys())
def test_round_trip_changed_host_rejected(scheme: str, key: str) -> None:
    headers = signed(scheme, key) | {"Host": "other.example"}
    error = rejection(verify, headers, key=key)
    assert error.status == 401
    assert error.message == "Signature verification failed"


@pytest.mark.parametrize(("scheme", "key"), both_schemes_and_keys())
def test_round_trip_changed_target_rejected(scheme: str, key: str) -> None:
    error = rejection(verify, signed(scheme, key), key=key, target="/inbox")
    assert error.status == 401
    assert error.message == "Signature verification failed"


@pytest.mark.parametrize(("scheme", "key"), both_schemes_and_keys())
def test_round_trip_changed_method_rejected(scheme: str, key: str) -> None:
    error = rejection(verify, signed(scheme, key), key=key, method="PUT")
    assert error.status == 401
    assert error.message == "Signature verification failed"


def test_cavage_round_trip_changed_date_rejected() -> None:
    headers = signed(httpsig.CAVAGE)
    headers["Date"] = headers["Date"].replace(":20 GMT", ":21 GMT")
    error = rejection(verify, headers)
    assert error.status == 401
    assert error.message == "Signature verification failed"


@pytest.mark.parametrize(("scheme", "key"), both_schemes_and_keys())
def test_round_trip_other_key_rejected(scheme: str, key: str) -> None:
    other = public_key("rfc9421-test-key-rsa-pss.pub.pem")
    error = rejection(
        httpsig.verify_request, "POST", TARGET, signed(scheme), BODY, other, now=NOW
    )
    assert error.status == 401
    assert error.message == "Signature verification failed"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_round_trip_get_without_body_verifies(scheme: str) -> None:
    url = "https://local.example/users/bob/outbox?page=true"
    headers = signed(scheme, method="GET", url=url, body=None)
    info = verify(headers, method="GET", target="/users/bob/outbox?page=true", body=b"")
    assert info.scheme == scheme


@pytest.mark.parametrize("scheme", SCHEMES)
def test_round_trip_changed_query_rejected(scheme: str) -> None:
    url = "https://local.example/users/bob/outbox?page=true"
    headers = signed(scheme, method="GET", url=url, body=None)
    target = "/users/bob/outbox?page=false"
    error = rejection(verify, headers, method="GET", target=target, body=b"")
    assert error.status == 401


def test_round_trip_lower_case_names() -> None:
    headers = {name.lower(): value for name, value in signed(httpsig.RFC9421).items()}
    assert verify(headers).scheme == httpsig.RFC9421


# What sign_request produces


def test_sign_cavage_headers_match_mastodon() -> None:
    new = httpsig.sign_request("POST", URL, {}, BODY, KEYS["rsa"][0], KEY_ID, now=NOW)
    assert set(new) == {"Host", "Date", "Digest", "Signature"}
    assert new["Host"] == "local.example"
    assert new["Date"] == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert 'algorithm="rsa-sha256"' in new["Signature"]
    assert 'headers="(request-target) host date digest"' in new["Signature"]


def test_sign_cavage_ed25519_uses_hs2019() -> None:
    headers = signed(httpsig.CAVAGE, "ed25519")
    assert 'algorithm="hs2019"' in headers["Signature"]


def test_sign_rfc9421_returns_signature_input() -> None:
    new = httpsig.sign_request(
        "POST", URL, {}, BODY, KEYS["rsa"][0], KEY_ID, scheme=httpsig.RFC9421, now=NOW
    )
    assert set(new) == {
        "Host",
        "Date",
        "Content-Digest",
        "Signature-Input",
        "Signature",
    }
    assert new["Signature-Input"] == (
        'sig1=("@method" "@target-uri" "content-digest");created=1700000000;'
        f'keyid="{KEY_ID}";alg="rsa-v1_5-sha256"'
    )


def test_sign_rfc9421_ed25519_names_alg() -> None:
    headers = signed(httpsig.RFC9421, "ed25519")
    assert headers["Signature-Input"].endswith(';alg="ed25519"')


@pytest.mark.parametrize("scheme", SCHEMES)
def test_sign_without_body_adds_no_digest(scheme: str) -> None:
    headers = signed(scheme, method="GET", body=None)
    assert "Digest" not in headers
    assert "Content-Digest" not in headers


def test_sign_request_mutates_nothing() -> None:
    headers = {"Accept": "application/activity+json"}
    httpsig.sign_request("GET", URL, headers, None, KEYS["rsa"][0], KEY_ID, now=NOW)
    assert headers == {"Accept": "application/activity+json"}


def test_sign_request_keeps_given_host_and_date() -> None:
    existing = {"host": "local.example", "date": "Tue, 14 Nov 2023 22:13:19 GMT"}
    new = httpsig.sign_request("POST", URL, existing, BODY, KEYS["rsa"][0], KEY_ID)
    assert "Host" not in new
    assert "Date" not in new
    assert verify(existing | new).key_id == KEY_ID


def test_sign_request_puts_non_default_port_in_host() -> None:
    url = "https://local.example:8443/inbox"
    new = httpsig.sign_request("POST", url, {}, BODY, KEYS["rsa"][0], KEY_ID, now=NOW)
    assert new["Host"] == "local.example:8443"


def test_sign_request_unknown_scheme_raises() -> None:
    with pytest.raises(ValueError, match="unknown signature scheme"):
        httpsig.sign_request("GET", URL, {}, None, KEYS["rsa"][0], KEY_ID, scheme="jws")


# The Date window: MAX_AGE_SECONDS old to MAX_FUTURE_SECONDS ahead.

WINDOW_MESSAGES = {
    httpsig.CAVAGE: "Date outside the accepted window",
    httpsig.RFC9421: "Signature created time outside the accepted window",
}


@pytest.mark.parametrize("scheme", SCHEMES)
def test_stale_date_rejected(scheme: str) -> None:
    later = NOW + httpsig.MAX_AGE_SECONDS + 1
    error = rejection(verify, signed(scheme), now=later)
    assert error.status == 401
    assert error.message == WINDOW_MESSAGES[scheme]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_future_date_rejected(scheme: str) -> None:
    earlier = NOW - httpsig.MAX_FUTURE_SECONDS - 1
    error = rejection(verify, signed(scheme), now=earlier)
    assert error.status == 401
    assert error.message == WINDOW_MESSAGES[scheme]


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize(
    "offset", [httpsig.MAX_AGE_SECONDS, -httpsig.MAX_FUTURE_SECONDS]
)
def test_date_at_window_edge_accepted(scheme: str, offset: float) -> None:
    assert verify(signed(scheme), now=NOW + offset).scheme == scheme


def test_custom_window_applies() -> None:
    error = rejection(verify, signed(httpsig.CAVAGE), now=NOW + 61, max_age=60)
    assert error.message == "Date outside the accepted window"


def test_missing_date_header_rejected() -> None:
    headers = signed(httpsig.CAVAGE)
    del headers["Date"]
    error = rejection(verify, headers)
    assert error.status == 401
    assert error.message == "Date header missing"


def test_invalid_date_header_rejected() -> None:
    headers = signed(httpsig.CAVAGE) | {"Date": "yesterday"}
    error = rejection(verify, headers)
    assert error.status == 401
    assert error.message == "Date header is not a valid HTTP date"


def test_date_without_zone_read_as_utc() -> None:
    headers = signed(httpsig.CAVAGE)
    assert headers["Date"].endswith(" GMT")
    headers["Date"] = headers["Date"].replace(" GMT", " -0000")
    error = rejection(verify, headers, now=NOW + httpsig.MAX_AGE_SECONDS + 1)
    assert error.message == "Date outside the accepted window"


def test_rfc9421_expired_signature_rejected() -> None:
    headers = {
        "Host": "local.example",
        "Content-Digest": httpsig.content_digest_header(BODY),
    }
    headers["Signature-Input"] = (
        'sig1=("@method" "@target-uri" "content-digest");'
        f'created={int(NOW) - 60};expires={int(NOW) - 1};keyid="k";alg="ed25519"'
    )
    headers["Signature"] = "sig1=:AA==:"
    base = httpsig.signature_base("POST", TARGET, headers)
    signature = base64.b64encode(KEYS["ed25519"][0].sign(base)).decode()
    headers["Signature"] = f"sig1=:{signature}:"
    error = rejection(verify, headers, key="ed25519")
    assert error.status == 401
    assert error.message == "Signature has expired"


# Digest coverage on verification


def test_missing_digest_header_rejected() -> None:
    headers = signed(httpsig.CAVAGE)
    del headers["Digest"]
    error = rejection(verify, headers)
    assert error.status == 401
    assert error.message == "Digest header missing"


def test_missing_content_digest_header_rejected() -> None:
    headers = signed(httpsig.RFC9421)
    del headers["Content-Digest"]
    error = rejection(verify, headers)
    assert error.status == 401
    assert error.message == "Digest header missing"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_unsigned_digest_rejected(scheme: str) -> None:
    headers = signed(scheme, body=None)
    error = rejection(verify, headers)
    assert error.status == 401
    assert error.message == "Signature does not cover digest or content-digest"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_unsigned_digest_allowed_when_optional(scheme: str) -> None:
    headers = signed(scheme, body=None)
    assert verify(headers, require_digest=False).scheme == scheme


# Malformed headers are 400, missing or invalid signatures 401.


def test_missing_signature_rejected() -> None:
    error = rejection(httpsig.parse_signature, "POST", TARGET, {"Host": "a.example"})
    assert error.status == 401
    assert error.message == "Signature header missing"


def test_signature_input_without_signature_rejected() -> None:
    headers = {"Signature-Input": 'sig1=("@method");keyid="k"'}
    error = rejection(httpsig.parse_signature, "POST", TARGET, headers)
    assert error.status == 401
    assert error.message == "Signature header missing"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('keyId=Test,signature="AA=="', "Signature header is malformed"),
        ('keyId="Test",headers="date"', "Signature header needs keyId and signature"),
        (
            'keyId="Test",keyId="Other",signature="AA=="',
            "Signature header repeats keyId",
        ),
        (
            'keyId="Test",signature="not base64!"',
            "Signature header has an invalid base64 signature",
        ),
        (
            'keyId="Test",headers="",signature="AA=="',
            "Signature header lists no headers",
        ),
    ],
)
def test_malformed_cavage_header_is_400(value: str, message: str) -> None:
    error = rejection(httpsig.parse_signature, "POST", TARGET, {"Signature": value})
    assert error.status == 400
    assert error.message == message


@pytest.mark.parametrize(
    ("signature_input", "signature", "message"),
    [
        ('sig1=("@method"', "sig1=:AA==:", "Signature-Input header is malformed"),
        ('sig1=("@method");keyid="k"', "sig1=((", "Signature header is malformed"),
        (
            'sig1=("@method");keyid="k"',
            "sig2=:AA==:",
            "Signature-Input and Signature share no label",
        ),
        (
            'sig1=("@method");keyid="k"',
            'sig1="text"',
            "Signature-Input or Signature member sig1 has the wrong type",
        ),
        ('sig1=("@method")', "sig1=:AA==:", "Signature-Input has no keyid"),
        (
            'sig1=("@method");keyid=5',
            "sig1=:AA==:",
            "Signature-Input parameter keyid must be a string",
        ),
        (
            'sig1=("@method");keyid="k";created="now"',
            "sig1=:AA==:",
            "Signature-Input parameter created must be an integer",
        ),
        (
            'sig1=("@method" "@method");keyid="k"',
            "sig1=:AA==:",
            "Signature-Input covers a component twice",
        ),
        (
            'sig1=("Host");keyid="k"',
            "sig1=:AA==:",
            "Signature-Input component names must be lower-case strings",
        ),
    ],
)
def test_malformed_rfc9421_header_is_400(
    signature_input: str, signature: str, message: str
) -> None:
    headers = {"Signature-Input": signature_input, "Signature": signature}
    error = rejection(httpsig.parse_signature, "POST", TARGET, headers)
    assert error.status == 400
    assert error.message == message


def test_authorization_signature_header_accepted() -> None:
    headers = signed(httpsig.CAVAGE)
    headers["Authorization"] = "Signature " + headers.pop("Signature")
    assert verify(headers).scheme == httpsig.CAVAGE


# Algorithms


def test_cavage_unknown_algorithm_rejected() -> None:
    headers = signed(httpsig.CAVAGE)
    headers["Signature"] = headers["Signature"].replace("rsa-sha256", "hmac-sha256")
    error = rejection(verify, headers)
    assert error.status == 401
    assert error.message == "Signature algorithm 'hmac-sha256' is not supported"


def test_rfc9421_unknown_algorithm_rejected() -> None:
    headers = signed(httpsig.RFC9421)
    headers["Signature-Input"] = headers["Signature-Input"].replace(
        "rsa-v1_5-sha256", "hmac-sha256"
    )
    error = rejection(verify, headers)
    assert error.status == 401
    assert error.message == "Signature algorithm 'hmac-sha256' is not supported"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_algorithm_not_matching_key_rejected(scheme: str) -> None:
    error = rejection(verify, signed(scheme, "rsa"), key="ed25519")
    assert error.status == 401
    assert "does not match the key type" in error.message


def test_cavage_hs2019_with_rsa_pss_verifies() -> None:
    # draft-cavage-12 resolves hs2019 with an RSA key to RSASSA-PSS with SHA-512.
    headers = signed(httpsig.CAVAGE)
    headers["Signature"] = headers["Signature"].replace("rsa-sha256", "hs2019")
    base = httpsig.signature_base("POST", TARGET, headers)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)
    signature = KEYS["rsa"][0].sign(base, pss, hashes.SHA512())
    encoded = base64.b64encode(signature).decode()
    headers["Signature"] = headers["Signature"].split('signature="')[0]
    headers["Signature"] += f'signature="{encoded}"'
    assert verify(headers).algorithm == "hs2019"


def test_cavage_created_with_rsa_sha256_rejected() -> None:
    headers = signed(httpsig.CAVAGE)
    headers["Signature"] = headers["Signature"].replace(
        'headers="(request-target)',
        f'created={int(NOW)},headers="(request-target) (created)',
    )
    error = rejection(verify, headers)
    assert error.status == 401
    assert error.message == "Signature covers (created), which needs algorithm hs2019"


def test_verify_signature_bytes_unknown_algorithm() -> None:
    error = rejection(
        httpsig.verify_signature_bytes, "hmac-sha256", KEYS["rsa"][1], b"x", b"y"
    )
    assert error.status == 401


def test_should_fall_back_on_400_401_and_500() -> None:
    assert httpsig.should_fall_back(400)
    assert httpsig.should_fall_back(401)
    assert httpsig.should_fall_back(500)
    assert not httpsig.should_fall_back(202)
    assert not httpsig.should_fall_back(403)
    assert not httpsig.should_fall_back(503)


# Keys and headers


def test_load_public_key_reads_pkcs1_rsa() -> None:
    pem = (VECTORS / "rfc9421-test-key-rsa.pub.pem").read_text()
    assert pem.startswith("-----BEGIN RSA PUBLIC KEY-----")
    assert httpsig.load_public_key(pem).key_size == 2048


def test_load_private_key_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        httpsig.load_private_key("-----BEGIN PRIVATE KEY-----\nAAAA\n")


def test_load_private_key_rejects_ecdsa() -> None:
    with pytest.raises(ValueError, match="unsupported private key type"):
        httpsig.load_private_key(
            (VECTORS / "rfc9421-test-key-ecc-p256.pem").read_bytes()
        )


class FieldLines:
    """A header mapping whose items() yields repeated names, like werkzeug's."""

    def __init__(self, lines: list[tuple[str, str]]) -> None:
        self.lines = lines

    def items(self) -> list[tuple[str, str]]:
        return self.lines


def test_fold_headers_joins_repeated_fields() -> None:
    lines = FieldLines(
        [("Cache-Control", "max-age=60"), ("cache-control", " must-revalidate ")]
    )
    assert fold_headers(lines) == {"cache-control": "max-age=60, must-revalidate"}  # type: ignore[arg-type]
