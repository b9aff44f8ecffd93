"""Security headers on every response of the Quart application.

Pages get a Content-Security-Policy that allows only this origin's scripts,
styles, forms and frames, plus remote images because avatars of remote
teachers are hot-linked from their instances. Every other response (JSON,
ActivityPub documents, calendars, uploaded files) gets a policy that allows
nothing, so a browser that opens one directly runs nothing in it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# X-Frame-Options (RFC 7034) repeats the frame-ancestors directive of CSP
# Level 3 for older browsers, which know only the header.
FRAME_OPTIONS = "DENY"
# Full URLs of pages (a thread, a search) stay on this instance: hot-linked
# avatars and followed links receive no Referer.
REFERRER_POLICY = "same-origin"
# Responses that are not pages never need a script, style or frame.
API_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"
PAGE_TYPES = (b"text/html", b"application/xhtml+xml")


def page_policy(allow_http: bool) -> str:
    """Build the Content-Security-Policy of HTML pages.

    ``allow_http`` also admits plain-HTTP images, for development instances
    that federate over HTTP.
    """
    image_sources = "'self' https: data:"
    if allow_http:
        image_sources += " http:"
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src {image_sources}",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


class SecurityHeaders:
    """An ASGI layer that adds the security headers a response lacks.

    It wraps the whole application, so the inbox fast path of ``web.asgi``
    gets the same headers as Quart's views. A view may set its own value of
    any of these headers, which is kept.
    """

    def __init__(self, app: ASGIApp, allow_http: bool) -> None:
        self.app = app
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", REFERRER_POLICY.encode()),
        ]
        self.page_headers = [
            *common,
            (b"content-security-policy", page_policy(allow_http).encode()),
            (b"x-frame-options", FRAME_OPTIONS.encode()),
        ]
        self.other_headers = [
            *common,
            (b"content-security-policy", API_POLICY.encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self.add_headers(list(message.get("headers", [])))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def add_headers(
        self, headers: list[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, bytes]]:
        """Return ``headers`` with each missing security header appended."""
        present = {name.lower() for name, _value in headers}
        content_type = b""
        for name, value in headers:
            if name.lower() == b"content-type":
                content_type = value
        mimetype = content_type.split(b";", 1)[0].strip().lower()
        defaults = self.page_headers if mimetype in PAGE_TYPES else self.other_headers
        return headers + [
            (name, value) for name, value in defaults if name not in present
        ]
