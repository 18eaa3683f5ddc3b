"""Licensing: license terms, applications, approvals, revocation and expiry.

Other modules use only what is named here.
"""

from ipmarket.licensing.events import AuthorizationWithdrawn
from ipmarket.licensing.fees import LicenseFees, configure_license_fees, license_fees
from ipmarket.licensing.models import LicenseApplication, LicenseStatus, LicenseTerms, LicenseType
from ipmarket.licensing.queries import pending_applications_per_asset, terms_by_ids
from ipmarket.licensing.repository import ChainLink
from ipmarket.licensing.service import LicensingService, withdraw_authorization
from ipmarket.licensing.terms import Duration, parse_duration

__all__ = [
    "AuthorizationWithdrawn",
    "ChainLink",
    "Duration",
    "LicenseApplication",
    "LicenseFees",
    "LicenseStatus",
    "LicenseTerms",
    "LicenseType",
    "LicensingService",
    "configure_license_fees",
    "license_fees",
    "parse_duration",
    "pending_applications_per_asset",
    "terms_by_ids",
    "withdraw_authorization",
]
