"""The inbox harness (a fake peer on loopback and an in-process runtime)."""

from tests.inbox.conftest import harness, make_harness, peer_keys, peer_pki  # noqa: F401
