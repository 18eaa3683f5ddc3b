"""Provenance: the authorization chain and public authenticity verification.

Other modules use only what is named here.
"""

from ipmarket.provenance.cache import (
    configure_verification_cache,
    invalidate_after_commit,
)
from ipmarket.provenance.chain import codes_of, deactivate, record_derivation, record_product
from ipmarket.provenance.models import AuthorizationChain

__all__ = [
    "AuthorizationChain",
    "codes_of",
    "configure_verification_cache",
    "deactivate",
    "invalidate_after_commit",
    "record_derivation",
    "record_product",
]
