"""The client address of a request, behind trusted reverse proxies or not.

Each proxy appends the address of its own peer to X-Forwarded-For, so the
entries on the right were written by proxies of this instance and the entries
on the left are whatever the client sent. The client is the rightmost address
that is not a trusted proxy: everything left of it could be forged.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Sequence
from functools import lru_cache

log = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Per-address limits group IPv6 clients by this prefix, because one
# subscriber usually gets a whole /64 and can pick any address in it.
IPV6_LIMIT_PREFIX = 64


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Parse CIDR networks such as ``10.0.0.0/8``, where a bare address is one host.

    Raises ValueError naming the first value that is not a network, or that
    has bits set after the prefix (``10.0.0.1/8``), which is usually a typo.
    """
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=True))
        except ValueError as error:
            raise ValueError(f"{value!r} is not an IP network: {error}") from None
    return tuple(networks)


@lru_cache(maxsize=8)
def _cached_networks(values: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(values)


def parse_address(text: str) -> Address | None:
    """Parse one X-Forwarded-For entry, or return None when it is not an address.

    Accepts ``192.0.2.1``, ``192.0.2.1:443``, ``2001:db8::1`` and
    ``[2001:db8::1]:443``. An IPv4-mapped IPv6 address becomes its IPv4 form.
    """
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted_proxies: Sequence[str]
) -> str:
    """Return the address of the client behind ``peer``.

    ``forwarded_for`` lists the X-Forwarded-For header fields in the order
    received. It is read only when the peer is in ``trusted_proxies``.
    """
    if not peer:
        return "unknown"
    networks = _cached_networks(tuple(trusted_proxies))
    current = parse_address(peer)
    if current is None or not _trusted(current, networks):
        return peer
    entries = [entry for field in forwarded_for for entry in field.split(",")]
    for entry in reversed(entries):
        hop = parse_address(entry)
        if hop is None:
            # A trusted proxy wrote something that is no address ("unknown"
            # or an obfuscated identifier, RFC 7239 section 6.3), so the
            # last address known for sure is that proxy's.
            log.debug("X-Forwarded-For entry %r is not an address", entry[:60])
            return str(current)
        current = hop
        if not _trusted(current, networks):
            return str(current)
    return str(current)


def _trusted(address: Address, networks: Sequence[Network]) -> bool:
    return any(address in network for network in networks)


def limit_key(address: str) -> str:
    """Return the key that per-address limits count ``address`` under.

    IPv4 addresses count alone and IPv6 addresses by their /64 network.
    """
    parsed = parse_address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        network = ipaddress.IPv6Network((parsed, IPV6_LIMIT_PREFIX), strict=False)
        return str(network)
    return str(parsed) if parsed is not None else address
