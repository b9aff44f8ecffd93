"""Signed outgoing requests, choosing the signature scheme per host.

For a host whose support is unknown, the request is signed with RFC 9421 first;
an answer that ``httpsig.should_fall_back`` accepts (400, 401 or 500) makes the
client sign again with draft-cavage and remember that the host wants
draft-cavage. A success with RFC 9421 is remembered too, so the next request to
that host is signed right the first time. The same answer to a remembered
RFC 9421 falls back the same way, and a draft-cavage success then replaces what
was remembered.
"""

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from federation import httpsig
from federation.fetch import ACCEPT_ACTIVITY, Fetcher, Response

log = logging.getLogger(__name__)

SchemeListener = Callable[[str, str], Awaitable[None]]


class SchemeMemory:
    """The signature scheme each host accepted, with a hook to persist it."""

    def __init__(self, known: dict[str, str] | None = None) -> None:
        self._schemes: dict[str, str] = dict(known or {})
        self.listener: SchemeListener | None = None

    def get(self, host: str) -> str | None:
        return self._schemes.get(host)

    def learn(self, host: str, scheme: str) -> bool:
        """Remember ``scheme`` for ``host`` in memory only; True when it changed."""
        previous = self._schemes.get(host)
        if previous == scheme:
            return False
        self._schemes[host] = scheme
        # A first response is routine and comes once per host, so at INFO a
        # fan-out to many new hosts would log a line per delivery. A host that
        # changed its response is worth noticing.
        level = logging.INFO if previous else logging.DEBUG
        log.log(level, "host %s accepts %s signatures", host, scheme)
        return True

    async def remember(self, host: str, scheme: str) -> None:
        """Remember ``scheme`` for ``host`` and persist it through the listener."""
        if self.learn(host, scheme) and self.listener is not None:
            await self.listener(host, scheme)


class SignedClient:
    """Send requests signed with an actor's key, falling back between schemes."""

    def __init__(self, fetcher: Fetcher, schemes: SchemeMemory) -> None:
        self.fetcher = fetcher
        self.schemes = schemes

    async def request(
        self,
        method: str,
        url: str,
        *,
        key_id: str,
        private_key: Any,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        on_learned: Callable[[str, str], None] | None = None,
        body_digest: httpsig.BodyDigest | None = None,
    ) -> Response:
        """Send a signed request; raise FederationError on transport failures.

        A scheme the host accepted for the first time is persisted through the
        memory's listener, or, when ``on_learned`` is given, handed to it as
        (host, scheme) for the caller to persist with its own writes. A caller
        that sends one body to many hosts passes its ``body_digest`` (made from
        that body object) so the body is hashed once.
        """
        host = urlsplit(url).netloc.lower()
        known = self.schemes.get(host)
        scheme = known or httpsig.RFC9421

        def signer(
            m: str, u: str, h: dict[str, str], b: bytes | None
        ) -> dict[str, str]:
            return httpsig.sign_request(
                m, u, h, b, private_key, key_id, scheme=scheme, body_digest=body_digest
            )

        response = await self.fetcher.request(
            method, url, body=body, headers=headers, signer=signer
        )
        # A remembered RFC 9421 is retried too: it may have been learned from a
        # 2xx to a public GET whose signature the host never checked.
        if scheme == httpsig.RFC9421 and httpsig.should_fall_back(response.status):
            log.debug(
                "host %s answered %s to RFC 9421, trying cavage", host, response.status
            )
            scheme = httpsig.CAVAGE
            response = await self.fetcher.request(
                method, url, body=body, headers=headers, signer=signer
            )
        if scheme != known and 200 <= response.status < 300:
            if on_learned is None:
                await self.schemes.remember(host, scheme)
            elif self.schemes.learn(host, scheme):
                on_learned(host, scheme)
        return response

    async def get_json(self, url: str, *, key_id: str, private_key: Any) -> Any:
        """GET an ActivityPub document with a signed request.

        Raises FederationError: 404/410 when the document is gone, 502 otherwise.
        """
        response = await self.request(
            "GET",
            url,
            key_id=key_id,
            private_key=private_key,
            headers={"Accept": ACCEPT_ACTIVITY},
        )
        return checked_json(response, url)


def checked_json(response: Response, url: str) -> Any:
    """Return the JSON body of a 2xx response or raise FederationError."""
    from federation.errors import FederationError

    if response.status in (404, 410):
        raise FederationError(response.status, f"{url} answered {response.status}")
    if not 200 <= response.status < 300:
        raise FederationError(502, f"{url} answered {response.status}")
    return response.json()
