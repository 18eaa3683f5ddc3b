"""IP assets: original works and derivatives, their review and search.

Other modules use only what is named here.
"""

from ipmarket.ip_assets.hooks import (
    AssetDeleting,
    AssetLeftReview,
    DerivativeApproving,
    DerivativeProposed,
)
from ipmarket.ip_assets.locks import lock_asset
from ipmarket.ip_assets.models import AssetStatus, IPAsset, VerificationStatus
from ipmarket.ip_assets.repository import IPAssetRepository
from ipmarket.ip_assets.rules import Duration, Territory, parse_duration, parse_territory
from ipmarket.ip_assets.service import licensable, suspend_derivatives

__all__ = [
    "AssetDeleting",
    "AssetLeftReview",
    "AssetStatus",
    "DerivativeApproving",
    "DerivativeProposed",
    "Duration",
    "IPAsset",
    "IPAssetRepository",
    "Territory",
    "VerificationStatus",
    "licensable",
    "lock_asset",
    "parse_duration",
    "parse_territory",
    "suspend_derivatives",
]
