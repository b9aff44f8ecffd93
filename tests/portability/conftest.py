"""Fixtures shared with other test packages: the inbox harness (a fake peer on
loopback and an in-process runtime) and the session's Chromium."""

from tests.inbox.conftest import harness, make_harness, peer_keys, peer_pki  # noqa: F401
from tests.ui.conftest import browser  # noqa: F401
