"""Outgoing HTTP for federation, behind an address guard.

Every connection goes through a resolver that checks each address a host name
resolves to. aiohttp connects to exactly the addresses the resolver returned,
so the address checked is the address connected to (no DNS rebinding between
check and connect). Redirects are followed by hand, at most a few, and each hop
is checked again. Every request has timeouts and a response size cap.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from federation import strict_json
from federation.errors import FederationError

log = logging.getLogger(__name__)

ACTIVITY_JSON = "application/activity+json"
LD_JSON = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
ACCEPT_ACTIVITY = f"{ACTIVITY_JSON}, {LD_JSON}"
MAX_REDIRECTS = 3

# A signer adds signature headers: (method, url, headers, body) -> new headers.
Signer = Callable[[str, str, dict[str, str], bytes | None], dict[str, str]]


# RFC 6052 well-known NAT64 prefix: the last 32 bits are an IPv4 address.
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")


# Ranges that FetchPolicy.allow_private opens: loopback, RFC 1918 and RFC 4193
# unique local addresses. Link-local ranges stay closed, because they hold the
# cloud metadata services (169.254.169.254 and others) and nothing federates there.
DEV_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "::1/128",
        "fc00::/7",
    )
)

# Metadata services inside the ranges above, closed even when they are open:
# AWS's IPv6 instance metadata address.
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("fd00:ec2::254")})


class BlockedAddress(FederationError):
    """The destination resolves to an address outgoing requests may not reach."""

    def __init__(self, host: str, address: str | None = None) -> None:
        cause = f"{host} resolved to {address}" if address else f"{host} is not public"
        super().__init__(502, f"destination {host} is not allowed", cause)


class DisallowedUrl(FederationError):
    """The URL itself is not allowed: its scheme, a missing host or credentials."""


@dataclass
class FetchPolicy:
    """Limits on the destinations, duration and size of outgoing requests."""

    allow_http: bool = False
    # Also allow loopback and private addresses (see DEV_NETWORKS), for
    # development and tests. Link-local and metadata addresses stay blocked.
    allow_private: bool = False
    # Host name -> IP address; mapped hosts skip DNS and the private-address
    # check, because the operator named them on purpose (tests, split DNS).
    host_map: dict[str, str] = field(default_factory=dict)
    ca_file: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0
    max_response_bytes: int = 1_048_576
    user_agent: str = "Pedagogue"


def is_public_address(address: str) -> bool:
    """Return True when ``address`` is a global unicast address.

    Loopback, private (RFC 1918, RFC 4193), link-local (which contains the cloud
    metadata address 169.254.169.254), multicast, reserved, site-local and
    unspecified addresses are not public. An IPv6 address that carries an IPv4
    address (IPv4-mapped, 6to4, NAT64) is judged by that IPv4 address. Raises
    ValueError when ``address`` is not an IP address.
    """
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            ip = embedded
        elif ip.is_reserved or ip.is_site_local:
            # ::/8 contains the deprecated IPv4-compatible and IPv4-translated
            # forms, and fec0::/10 is deprecated site-local (RFC 3879). None
            # of them is a destination on the public internet.
            return False
    return ip.is_global and not ip.is_multicast


def is_dev_address(address: str) -> bool:
    """Return True when ``address`` is one that FetchPolicy.allow_private opens.

    Those are loopback, RFC 1918 and unique local addresses, judged like
    is_public_address by the IPv4 address an IPv6 address carries. Link-local
    and metadata addresses are never among them. Raises ValueError when
    ``address`` is not an IP address.
    """
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        # A zone index ("fe80::1%eth0") does not change the address class.
        ip = ipaddress.IPv6Address(ip.packed)
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            ip = embedded
    if ip in METADATA_ADDRESSES:
        return False
    return any(ip in network for network in DEV_NETWORKS)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _is_allowed_address(policy: FetchPolicy, address: str) -> bool:
    """Return True when ``policy`` lets requests reach ``address``.

    Raises ValueError when ``address`` is not an IP address.
    """
    if is_public_address(address):
        return True
    return policy.allow_private and is_dev_address(address)


def _is_allowed_literal(policy: FetchPolicy, host: str) -> bool:
    """Return False for a disallowed or malformed IP address, True otherwise."""
    try:
        return _is_allowed_address(policy, host)
    except ValueError:
        # A host name never contains a colon nor is all digits and dots, so a
        # host like that is a malformed or legacy-form address ("127.1").
        return ":" not in host and not host.replace(".", "").isdigit()


class GuardedResolver(AbstractResolver):
    """Resolve host names and reject those that land on non-public addresses.

    ``lookup`` is the resolver asked for the addresses, aiohttp's threaded
    getaddrinfo resolver unless given. Each answer is checked when it arrives,
    and the connector connects only to addresses from a checked answer.
    """

    def __init__(
        self, policy: FetchPolicy, lookup: AbstractResolver | None = None
    ) -> None:
        self._policy = policy
        self._inner = lookup or aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        mapped = self._policy.host_map.get(host.lower())
        if mapped is not None:
            return [self._result(host, mapped, port)]
        results = await self._inner.resolve(host, port, family)
        for result in results:
            if not _is_allowed_address(self._policy, result["host"]):
                log.warning("blocked %s: resolves to %s", host, result["host"])
                raise BlockedAddress(host, result["host"])
        return results

    @staticmethod
    def _result(host: str, address: str, port: int) -> ResolveResult:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return {
            "hostname": host,
            "host": address,
            "port": port,
            "family": family,
            "proto": 0,
            "flags": socket.AI_NUMERICHOST,
        }

    async def close(self) -> None:
        await self._inner.close()


@dataclass
class Response:
    """A finished response with its body read under the size cap."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str

    def json(self) -> Any:
        """Parse the body as JSON; raise FederationError(502) when it is not.

        NaN, infinities and numbers out of float range count as invalid JSON.
        """
        try:
            return strict_json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as error:
            raise FederationError(502, f"invalid JSON from {self.url}", str(error))


class Fetcher:
    """An aiohttp session with the address guard, timeouts and size cap."""

    def __init__(
        self, policy: FetchPolicy, *, lookup: AbstractResolver | None = None
    ) -> None:
        self.policy = policy
        # The name resolver under the guard; tests pass one that answers
        # differently on each call.
        self._lookup = lookup
        self._session: aiohttp.ClientSession | None = None

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.policy.ca_file:
            context.load_verify_locations(self.policy.ca_file)
        return context

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(self.policy, self._lookup),
                ssl=self._ssl_context(),
                limit=256,
                limit_per_host=8,
                ttl_dns_cache=60,
            )
            timeout = aiohttp.ClientTimeout(
                total=self.policy.total_timeout,
                sock_connect=self.policy.connect_timeout,
                sock_read=self.policy.read_timeout,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=timeout,
                headers={"User-Agent": self.policy.user_agent},
                auto_decompress=True,
                # Signed requests carry no session state: cookies a remote
                # sets are neither kept nor sent to anyone, and no jar is
                # searched per request.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def close(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def check_url(self, url: str, *, status: int = 400) -> None:
        """Raise unless ``url`` may be requested at all.

        Raises DisallowedUrl with ``status`` for a scheme other than https (and
        http when allowed), a missing host or credentials in the URL, and
        BlockedAddress (502) for a non-public IP address written as the host.
        """
        try:
            parts = urlsplit(url)
        except ValueError:
            raise DisallowedUrl(status, f"invalid URL: {url}") from None
        allowed = ("https", "http") if self.policy.allow_http else ("https",)
        if parts.scheme not in allowed:
            raise DisallowedUrl(status, f"URL scheme not allowed: {url}")
        if not parts.hostname:
            raise DisallowedUrl(status, f"URL has no host: {url}")
        if parts.username or parts.password:
            raise DisallowedUrl(status, f"URL must not carry credentials: {url}")
        # aiohttp connects to an IP address written in the URL without calling
        # the resolver, so GuardedResolver cannot check it and this check must.
        if not _is_allowed_literal(self.policy, parts.hostname):
            log.warning("blocked %s: the host is a disallowed IP address", url)
            raise BlockedAddress(parts.hostname)

    async def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        signer: Signer | None = None,
        follow_redirects: bool = True,
    ) -> Response:
        """Send a request, following up to three redirects for GET.

        Every hop passes check_url. Raises DisallowedUrl(400) when ``url`` is
        not allowed, and DisallowedUrl(502) when a redirect leads to such a URL.
        Raises BlockedAddress(502) for a non-public destination and
        FederationError(504) on a timeout. Raises FederationError(502) on a
        connection failure, a body over the size cap or too many redirects.
        Non-2xx responses are returned, redirects of other methods included.
        """
        for hop in range(MAX_REDIRECTS + 1):
            # A redirect to a disallowed URL is the remote's fault, hence 502.
            self.check_url(url, status=502 if hop else 400)
            request_headers = dict(headers or {})
            if signer is not None:
                request_headers.update(signer(method, url, request_headers, body))
            response = await self._send(method, url, body, request_headers)
            location = response.headers.get("Location")
            redirect = response.status in (301, 302, 303, 307, 308) and location
            if not (redirect and follow_redirects and method == "GET"):
                return response
            url = urljoin(url, location)
        raise FederationError(502, f"too many redirects from {url}")

    async def _send(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> Response:
        try:
            async with self.session.request(
                method, url, data=body, headers=headers, allow_redirects=False
            ) as response:
                content = await self._read_capped(response, url)
                return Response(response.status, response.headers, content, url)
        except FederationError:
            raise
        except TimeoutError as error:
            raise FederationError(504, f"request to {url} timed out", repr(error))
        except (aiohttp.ClientError, OSError, ssl.SSLError) as error:
            raise FederationError(502, f"request to {url} failed", repr(error))

    async def _read_capped(self, response: aiohttp.ClientResponse, url: str) -> bytes:
        cap = self.policy.max_response_bytes
        declared = response.content_length
        if declared is not None and declared > cap:
            raise FederationError(502, f"response from {url} is over {cap} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(65536):
            size += len(chunk)
            if size > cap:
                raise FederationError(502, f"response from {url} is over {cap} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def get_json(
        self, url: str, *, signer: Signer | None = None, accept: str = ACCEPT_ACTIVITY
    ) -> Any:
        """GET a JSON document; raise FederationError unless it answers 2xx JSON.

        A 404 or 410 raises with that status, so callers can tell "gone" apart
        from "unreachable" (502/504).
        """
        response = await self.request(
            "GET", url, headers={"Accept": accept}, signer=signer
        )
        if response.status in (404, 410):
            raise FederationError(response.status, f"{url} answered {response.status}")
        if not 200 <= response.status < 300:
            raise FederationError(502, f"{url} answered {response.status}")
        return response.json()
