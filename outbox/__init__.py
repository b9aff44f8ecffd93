"""Sending: activities from local actions, addressing and the delivery queue."""
