"""Fixtures of these tests: the products' application and verification cache."""

from tests.provenance.support import app, verification_cache

__all__ = ["app", "verification_cache"]
