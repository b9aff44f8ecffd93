"""Receiving activities: verify, store, answer 202, then process in workers."""
