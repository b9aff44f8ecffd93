"""Shared test machinery: databases, certificates, live instances, remote actors."""
