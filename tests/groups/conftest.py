"""Fixtures for group tests: the inbox harness of tests/inbox, shared here."""

from tests.inbox.conftest import harness, make_harness, peer_keys, peer_pki

__all__ = ["harness", "make_harness", "peer_keys", "peer_pki"]
