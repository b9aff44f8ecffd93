"""The client address behind trusted reverse proxies, and the keys that
per-address limits count under."""

from __future__ import annotations

import pytest

from pedagogue.config import ConfigError, load_settings
from web.forwarded import client_address, limit_key, parse_address

TRUSTED = ["10.0.0.0/8", "::1/128"]


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        # No trusted proxies configured: the peer, whatever the header contains.
        ("198.51.100.7", ["192.0.2.1"], "198.51.100.7"),
        # A trusted proxy: the address it appended.
        ("10.0.0.2", ["192.0.2.1"], "192.0.2.1"),
        # Entries the client wrote itself are left of the proxy's.
        ("10.0.0.2", ["6.6.6.6, 192.0.2.1"], "192.0.2.1"),
        # Two trusted proxies in a row: the rightmost untrusted address.
        ("10.0.0.2", ["192.0.2.1, 10.0.0.3"], "192.0.2.1"),
        # Header fields sent as separate lines are one list.
        ("10.0.0.2", ["6.6.6.6", "192.0.2.1"], "192.0.2.1"),
        # Ports and brackets that some proxies add.
        ("10.0.0.2", ["192.0.2.1:5555"], "192.0.2.1"),
        ("10.0.0.2", ["[2001:db8::5]:443"], "2001:db8::5"),
        # A trusted proxy without the header: the proxy.
        ("10.0.0.2", [], "10.0.0.2"),
        # Every entry trusted: the leftmost.
        ("10.0.0.2", ["10.0.0.5, 10.0.0.4"], "10.0.0.5"),
        # An entry that is no address stops the walk at the last known hop.
        ("10.0.0.2", ["192.0.2.1, unknown"], "10.0.0.2"),
        # IPv6 loopback proxy.
        ("::1", ["192.0.2.1"], "192.0.2.1"),
    ],
)
def test_client_address(peer: str, forwarded_for: list[str], expected: str) -> None:
    trusted = TRUSTED if peer != "198.51.100.7" else []
    assert client_address(peer, forwarded_for, trusted) == expected


def test_untrusted_peer_ignores_header_with_proxies_configured() -> None:
    assert client_address("198.51.100.7", ["192.0.2.1"], TRUSTED) == "198.51.100.7"


def test_missing_peer_is_unknown() -> None:
    assert client_address(None, ["192.0.2.1"], TRUSTED) == "unknown"


def test_ipv4_mapped_address_becomes_ipv4() -> None:
    assert str(parse_address("::ffff:192.0.2.1")) == "192.0.2.1"


def test_limit_key_groups_ipv6_by_64() -> None:
    assert limit_key("2001:db8:1:2::1") == limit_key("2001:db8:1:2:ffff::9")
    assert limit_key("2001:db8:1:2::1") != limit_key("2001:db8:1:3::1")


def test_limit_key_keeps_ipv4_address() -> None:
    assert limit_key("192.0.2.1") == "192.0.2.1"


# Configuration


def test_trusted_proxies_default_empty() -> None:
    assert load_settings(None, environ={}).server.trusted_proxies == []


def test_trusted_proxies_from_environment() -> None:
    environ = {"PEDAGOGUE_SERVER__TRUSTED_PROXIES": "127.0.0.1/32, ::1/128"}
    settings = load_settings(None, environ=environ)

    assert settings.server.trusted_proxies == ["127.0.0.1/32", "::1/128"]


def test_trusted_proxies_from_file(tmp_path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[server]\ntrusted_proxies = ["10.0.0.0/8"]\n')

    assert load_settings(path, environ={}).server.trusted_proxies == ["10.0.0.0/8"]


@pytest.mark.parametrize("value", ["proxy.example", "10.0.0.1/8", "10.0.0.0/33"])
def test_invalid_trusted_proxy_rejected(value: str) -> None:
    environ = {"PEDAGOGUE_SERVER__TRUSTED_PROXIES": value}
    with pytest.raises(ConfigError, match="server.trusted_proxies"):
        load_settings(None, environ=environ)


def test_non_string_trusted_proxy_rejected(tmp_path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[server]\ntrusted_proxies = [10]\n")
    with pytest.raises(ConfigError, match="list of strings"):
        load_settings(path, environ={})


@pytest.mark.parametrize(
    "key",
    [
        "sign_in_failures_per_pair",
        "sign_in_failures_per_address",
        "sign_in_failures_per_account",
    ],
)
def test_sign_in_limit_below_one_rejected(key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        load_settings(None, environ={f"PEDAGOGUE_WEB__{key.upper()}": "0"})
