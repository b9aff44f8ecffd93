"""Pedagogue: a federated professional-development network for teachers."""

__version__ = "0.1.0"

# Mastodon clients parse the instance version as a Mastodon release number, so the
# client API reports a compatible version with our own in brackets.
MASTODON_COMPAT_VERSION = "4.3.0"
