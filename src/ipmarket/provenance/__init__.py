"""Provenance: the authorization chain and public authenticity verification.

Other modules use only what is named here.
"""

from ipmarket.provenance.cache import (
    bump_epoch,
    configure_verification_cache,
    forget_product_after_commit,
    invalidate_after_commit,
)
from ipmarket.provenance.models import AuthorizationChain
from ipmarket.provenance.queries import verify, verify_with_evidence
from ipmarket.provenance.reach import Dependent, Reach, resting_on
from ipmarket.provenance.repository import codes_of, deactivate, record_derivation, record_product

__all__ = [
    "AuthorizationChain",
    "Dependent",
    "Reach",
    "bump_epoch",
    "codes_of",
    "configure_verification_cache",
    "deactivate",
    "forget_product_after_commit",
    "invalidate_after_commit",
    "record_derivation",
    "record_product",
    "resting_on",
    "verify",
    "verify_with_evidence",
]
