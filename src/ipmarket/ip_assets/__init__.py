"""IP assets: original works and derivatives, their review and search.

Other modules use only what is named here.
"""

from ipmarket.ip_assets.events import (
    AssetDeleting,
    AssetLeftReview,
    DerivativeApproving,
    DerivativeProposed,
)
from ipmarket.ip_assets.locks import lock_asset
from ipmarket.ip_assets.models import AssetStatus, IPAsset, VerificationStatus
from ipmarket.ip_assets.queries import ip_assets_per_creator
from ipmarket.ip_assets.repository import AssetFilters, IPAssetRepository
from ipmarket.ip_assets.service import IPAssetService, licensable, suspend_derivatives

__all__ = [
    "AssetDeleting",
    "AssetFilters",
    "AssetLeftReview",
    "AssetStatus",
    "DerivativeApproving",
    "DerivativeProposed",
    "IPAsset",
    "IPAssetRepository",
    "IPAssetService",
    "VerificationStatus",
    "ip_assets_per_creator",
    "licensable",
    "lock_asset",
    "suspend_derivatives",
]
