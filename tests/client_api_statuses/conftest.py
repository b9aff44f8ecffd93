"""Fixtures of the status and account tests: the shared instance of
tests/client_api, one per test module."""

from tests.client_api.conftest import school, teachers

__all__ = ["school", "teachers"]
