"""Fixtures of these tests: one application and a verification cache of their own."""

from tests.provenance.support import app, verification_cache

__all__ = ["app", "verification_cache"]
