"""Known-device cookies for sign-in rate limiting.

A successful sign-in sets a long-lived cookie that names the account and a
random nonce, signed with an HMAC-SHA256 key derived from the instance
actor's private key. This follows OWASP's device cookie scheme
(https://owasp.org/www-community/Slow_Down_Online_Guessing_Attacks_with_Device_Cookies).
A browser with a valid cookie for the account it signs in to counts its
failures under its own nonce. Guesses from other browsers behind the same
address, or against the same account elsewhere, therefore cannot lock it out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from quart import current_app, request
from werkzeug.wrappers import Response as BaseResponse

from web.app import runtime_of

# A teacher signs in from the same school computer over a school year.
DEVICE_COOKIE_DAYS = 400
_VERSION = "v1"


def device_cookie_name() -> str:
    secure = runtime_of(current_app).settings.base_url.startswith("https://")
    return "__Host-pedagogue_device" if secure else "pedagogue_device"


def _key() -> bytes:
    pem = runtime_of(current_app).instance_account["private_key_pem"].encode()
    return hashlib.sha256(b"sign-in device cookies\0" + pem).digest()


def _signature(username: str, nonce: str) -> str:
    message = f"{_VERSION}.{username.lower()}.{nonce}".encode()
    mac = hmac.new(_key(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def device_nonce(username: str) -> str | None:
    """Return the nonce of the request's device cookie when the cookie is
    validly signed and names ``username`` (case-insensitively), else None."""
    parts = request.cookies.get(device_cookie_name(), "").split(".")
    if len(parts) != 4 or parts[0] != _VERSION:
        return None
    _version, named, nonce, signature = parts
    if named.lower() != username.lower() or not nonce:
        return None
    if not hmac.compare_digest(signature, _signature(named, nonce)):
        return None
    return nonce


def set_device_cookie(response: BaseResponse, account: Any) -> None:
    """Set a new device cookie for ``account`` on ``response``.

    Every sign-in gets a new nonce, so a cookie over its failure limit is
    replaced by a fresh one once the owner signs in.
    """
    nonce = secrets.token_urlsafe(16)
    username = account["username"]
    response.set_cookie(
        device_cookie_name(),
        f"{_VERSION}.{username}.{nonce}.{_signature(username, nonce)}",
        max_age=DEVICE_COOKIE_DAYS * 86400,
        path="/",
        secure=device_cookie_name().startswith("__Host-"),
        httponly=True,
        samesite="Lax",
    )
