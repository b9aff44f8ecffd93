"""Scope rules: top-level scopes, granular ones, follow and profile."""

from __future__ import annotations

from web.oauth_scopes import (
    SUPPORTED_SCOPES,
    grants,
    grants_any,
    parent_scope,
    parse_scopes,
    unknown_scopes,
    within,
)


def test_top_level_scope_grants_granular():
    assert grants(["read"], "read:statuses")
    assert grants(["write"], "write:media")
    assert grants(["admin:read"], "admin:read:accounts")
    assert grants(["admin:write"], "admin:write:domain_blocks")


def test_granular_scope_grants_only_itself():
    assert grants(["read:statuses"], "read:statuses")
    assert not grants(["read:statuses"], "read:accounts")
    assert not grants(["read:statuses"], "read")
    assert not grants(["admin:read:accounts"], "admin:read:reports")


def test_read_does_not_grant_write():
    assert not grants(["read"], "write:statuses")
    assert not grants(["admin:read"], "admin:write:accounts")
    assert not grants(["write"], "admin:write:accounts")


def test_follow_grants_relationship_scopes():
    for scope in (
        "read:follows",
        "write:follows",
        "read:blocks",
        "write:blocks",
        "read:mutes",
        "write:mutes",
    ):
        assert grants(["follow"], scope), scope
    assert not grants(["follow"], "write:statuses")
    assert not grants(["follow"], "read:accounts")


def test_profile_grants_only_verify_credentials():
    verify_credentials = ("profile", "read:accounts")

    assert grants_any(["profile"], verify_credentials)
    assert not grants(["profile"], "read:accounts")
    assert not grants(["profile"], "read:statuses")


def test_parent_scope_of_each_form():
    assert parent_scope("read") is None
    assert parent_scope("read:lists") == "read"
    assert parent_scope("admin:read") is None
    assert parent_scope("admin:write:reports") == "admin:write"


def test_parse_scopes_splits_and_deduplicates():
    assert parse_scopes("read  write\tread") == ["read", "write"]
    assert parse_scopes("") == []


def test_unknown_scopes_named():
    assert unknown_scopes(["read", "sudo", "write:everything"]) == [
        "sudo",
        "write:everything",
    ]
    assert unknown_scopes(SUPPORTED_SCOPES) == []


def test_within_app_registration():
    assert within(["read:statuses", "write"], ["read", "write"])
    assert not within(["read"], ["read:statuses"])
    assert within(["write:follows"], ["follow"])
