"""Licensing: license terms, applications, approvals, revocation and expiry.

Other modules use only what is named here.
"""

from ipmarket.licensing.events import (
    AuthorizationWithdrawn,
    LicenseFeeAuthorizing,
    LicenseFeeCapturing,
    LicenseFeeReleasing,
)
from ipmarket.licensing.models import LicenseApplication, LicenseStatus, LicenseTerms, LicenseType
from ipmarket.licensing.repository import ChainLink
from ipmarket.licensing.service import LicensingService, withdraw_authorization

__all__ = [
    "AuthorizationWithdrawn",
    "ChainLink",
    "LicenseApplication",
    "LicenseFeeAuthorizing",
    "LicenseFeeCapturing",
    "LicenseFeeReleasing",
    "LicenseStatus",
    "LicenseTerms",
    "LicenseType",
    "LicensingService",
    "withdraw_authorization",
]
