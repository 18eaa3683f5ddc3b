"""Provenance: the authorization chain and public authenticity verification.

Other modules use only what is named here.
"""

from ipmarket.provenance.cache import (
    bump_epoch,
    configure_verification_cache,
    forget_product_after_commit,
    invalidate_after_commit,
)
from ipmarket.provenance.models import AuthorizationChain, Unit, UnitScan
from ipmarket.provenance.queries import verify, verify_with_evidence
from ipmarket.provenance.reach import Dependent, Reach, resting_on
from ipmarket.provenance.repository import codes_of, deactivate, record_derivation, record_product
from ipmarket.provenance.units import (
    POSSIBLE_COPY_CLIENTS,
    Scan,
    UnitLine,
    client_fingerprint,
    is_unit_code,
    scan_of,
    units_of_order,
    verify_unit,
    watched_units,
)

__all__ = [
    "POSSIBLE_COPY_CLIENTS",
    "AuthorizationChain",
    "Dependent",
    "Reach",
    "Scan",
    "Unit",
    "UnitLine",
    "UnitScan",
    "bump_epoch",
    "client_fingerprint",
    "codes_of",
    "configure_verification_cache",
    "deactivate",
    "forget_product_after_commit",
    "invalidate_after_commit",
    "is_unit_code",
    "record_derivation",
    "record_product",
    "resting_on",
    "scan_of",
    "units_of_order",
    "verify",
    "verify_unit",
    "verify_with_evidence",
    "watched_units",
]
