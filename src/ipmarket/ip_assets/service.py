"""IP asset use cases: register, edit, delete, submit for review, review.

Services flush but never commit: the request owns the transaction.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket import audit, content_credentials, provenance
from ipmarket.eventbus import publish
from ipmarket.files import file_hashes, resolve_owned_files
from ipmarket.identity import Permission, Principal
from ipmarket.ip_assets.events import (
    AssetDeleting,
    AssetLeftReview,
    DerivativeApproving,
    DerivativeProposed,
    IPAssetApproved,
    IPAssetCreated,
    IPAssetRejected,
    IPAssetSuspended,
)
from ipmarket.ip_assets.locks import lock_asset, lock_derived_from
from ipmarket.ip_assets.models import AssetStatus, IPAsset, VerificationStatus
from ipmarket.ip_assets.repository import AssetFilters, IPAssetRepository
from ipmarket.ip_assets.schemas import IPAssetCreate, IPAssetUpdate
from ipmarket.kit.clock import utcnow
from ipmarket.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from ipmarket.kit.hooks import dispatch
from ipmarket.kit.ids import new_id
from ipmarket.settings import get_platform_settings

MATERIAL_FIELDS = ("title", "description", "file_ids", "content_type")


def content_hash(title: str, description: str, hashes: list[str]) -> str:
    """SHA-256 of what the asset is: its title, description and files' hashes, in order."""
    canonical = json.dumps(
        {"title": title, "description": description, "files": hashes},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def snapshot(asset: IPAsset) -> dict[str, Any]:
    return {
        "title": asset.title,
        "category": asset.category,
        "contentType": asset.content_type,
        "fileIds": [str(f) for f in asset.file_ids],
        "metadata": asset.metadata_,
        "verificationStatus": asset.verification_status,
        "status": asset.status,
        "contentHash": asset.content_hash,
        "parentLicenseId": str(asset.parent_license_id) if asset.parent_license_id else None,
    }


def licensable(asset: IPAsset) -> bool:
    return (
        asset.status == AssetStatus.ACTIVE
        and asset.verification_status == VerificationStatus.APPROVED
    )


class IPAssetService:
    def __init__(self, session: AsyncSession, *, base_url: str) -> None:
        self.session = session
        self.base_url = base_url
        self.assets = IPAssetRepository(session)

    # --- reading --------------------------------------------------------------------------

    async def visible(self, asset_id: uuid.UUID, viewer: Principal | None) -> IPAsset:
        """The asset as `viewer` may see it: the public sees approved, active assets; the
        owner and reviewers see it in any state but deleted."""
        asset = await self.assets.get(asset_id)
        if asset is None or asset.status == AssetStatus.DELETED:
            raise NotFound("IP asset not found")
        if licensable(asset):
            return asset
        if viewer is not None and (
            viewer.id == asset.creator_id or viewer.can(Permission.VERIFY_IP)
        ):
            return asset
        raise NotFound("IP asset not found")

    async def owned(
        self, asset_id: uuid.UUID, owner: Principal, *, for_update: bool = True
    ) -> IPAsset:
        asset = (
            await lock_asset(self.session, asset_id)
            if for_update
            else await self.assets.get(asset_id)
        )
        if asset is None or asset.status == AssetStatus.DELETED:
            raise NotFound("IP asset not found")
        if asset.creator_id != owner.id:
            raise Forbidden("Only the asset's owner may do this")
        return asset

    async def search(
        self, filters: AssetFilters, *, sort: str, offset: int, limit: int
    ) -> tuple[list[IPAsset], int]:
        return await self.assets.search(filters, sort=sort, offset=offset, limit=limit)

    async def facets(self, *, limit: int = 30) -> dict[str, list[tuple[str, int]]]:
        """What the catalogue of licensable assets can be narrowed by: its categories and
        content types, each with how many assets it has, most first."""
        return {
            "category": await self.assets.licensable_counts("category", limit=limit),
            "contentType": await self.assets.licensable_counts("content_type", limit=limit),
        }

    # --- writing --------------------------------------------------------------------------

    async def create(self, principal: Principal, data: IPAssetCreate) -> IPAsset:
        if data.parent_license_id is None:
            if not principal.can(Permission.CREATE_IP):
                raise Forbidden(
                    "Only creators register original IP; a derivative names the license "
                    "it is made under",
                    details={"field": "parentLicenseId"},
                )
        else:
            await dispatch(
                self.session,
                DerivativeProposed(
                    creator_id=principal.id, parent_license_id=data.parent_license_id
                ),
            )
        files = await resolve_owned_files(
            self.session, data.file_urls, principal.id, base_url=self.base_url
        )
        file_ids = [f.id for f in files]
        await content_credentials.record_credentials(self.session, files)
        asset = IPAsset(
            id=new_id(),
            creator_id=principal.id,
            title=data.title,
            description=data.description,
            category=data.category,
            content_type=data.content_type,
            file_ids=file_ids,
            metadata_=data.metadata,
            verification_status=VerificationStatus.PENDING.value,
            status=AssetStatus.ACTIVE.value,
            content_hash=content_hash(data.title, data.description, [f.sha256 for f in files]),
            parent_license_id=data.parent_license_id,
        )
        await self.assets.add(asset)
        await audit.record(
            self.session,
            actor_id=principal.id,
            action="ip_asset.created",
            resource_type="ip_asset",
            resource_id=asset.id,
            new_values=snapshot(asset),
        )
        await publish(
            self.session,
            IPAssetCreated(
                ip_asset_id=asset.id,
                creator_id=asset.creator_id,
                title=asset.title,
                parent_license_id=asset.parent_license_id,
            ),
        )
        return asset

    async def update(
        self, principal: Principal, asset_id: uuid.UUID, data: IPAssetUpdate
    ) -> IPAsset:
        asset = await self.owned(asset_id, principal)
        fields = data.model_fields_set
        if not fields:
            raise ValidationFailed("Nothing to update")
        if asset.status == AssetStatus.SUSPENDED:
            raise Conflict(
                "The IP asset is suspended and cannot be edited",
                details={"reason": asset.status_reason},
            )
        before = snapshot(asset)
        if data.title is not None:
            asset.title = data.title
        if data.description is not None:
            asset.description = data.description
        if data.category is not None:
            asset.category = data.category
        if data.content_type is not None:
            asset.content_type = data.content_type
        if data.metadata is not None:
            asset.metadata_ = data.metadata
        if data.file_urls is not None:
            files = await resolve_owned_files(
                self.session, data.file_urls, principal.id, base_url=self.base_url
            )
            asset.file_ids = [f.id for f in files]
            await content_credentials.record_credentials(self.session, files)
        hashes = await file_hashes(self.session, asset.file_ids)
        asset.content_hash = content_hash(
            asset.title, asset.description, [hashes[f] for f in asset.file_ids]
        )
        material = (
            asset.content_hash != before["contentHash"]
            or asset.content_type != before["contentType"]
        )
        if material and asset.verification_status != VerificationStatus.PENDING:
            # What was reviewed is no longer what is offered: review it again.
            was_approved = asset.verification_status == VerificationStatus.APPROVED
            asset.verification_status = VerificationStatus.PENDING.value
            asset.submitted_at = utcnow()
            asset.reviewed_at = None
            asset.reviewed_by = None
            asset.rejection_reason = None
            if was_approved:
                await dispatch(self.session, AssetLeftReview(ip_asset_id=asset.id))
            if (await get_platform_settings(self.session)).content.auto_approve_ips:
                await self._approve(asset, reviewer=None)
        asset.updated_at = utcnow()
        await self.session.flush()
        after = snapshot(asset)
        await audit.record(
            self.session,
            actor_id=principal.id,
            action="ip_asset.updated",
            resource_type="ip_asset",
            resource_id=asset.id,
            old_values={k: v for k, v in before.items() if after[k] != v},
            new_values={k: v for k, v in after.items() if before[k] != v},
        )
        return asset

    async def delete(self, principal: Principal, asset_id: uuid.UUID) -> None:
        asset = await self.owned(asset_id, principal)
        await dispatch(self.session, AssetDeleting(ip_asset_id=asset.id))
        now = utcnow()
        asset.status = AssetStatus.DELETED.value
        asset.deleted_at = now
        asset.updated_at = now
        await audit.record(
            self.session,
            actor_id=principal.id,
            action="ip_asset.deleted",
            resource_type="ip_asset",
            resource_id=asset.id,
            old_values={"status": AssetStatus.ACTIVE.value},
            new_values={"status": AssetStatus.DELETED.value},
        )

    async def submit(self, principal: Principal, asset_id: uuid.UUID) -> IPAsset:
        """Submit for review, or approve at once when `content.autoApproveIPs` is on."""
        asset = await self.owned(asset_id, principal)
        if asset.status != AssetStatus.ACTIVE:
            raise Conflict(f"IP asset is {asset.status}")
        if asset.verification_status == VerificationStatus.APPROVED:
            raise Conflict("IP asset is already approved")
        if (
            asset.verification_status == VerificationStatus.PENDING
            and asset.submitted_at is not None
        ):
            raise Conflict("IP asset is already waiting for review")
        asset.verification_status = VerificationStatus.PENDING.value
        asset.submitted_at = utcnow()
        asset.rejection_reason = None
        await audit.record(
            self.session,
            actor_id=principal.id,
            action="ip_asset.submitted",
            resource_type="ip_asset",
            resource_id=asset.id,
        )
        platform = await get_platform_settings(self.session)
        if platform.content.auto_approve_ips:
            await self._approve(asset, reviewer=None)
        await self.session.flush()
        return asset

    async def review(
        self, reviewer: Principal, asset_id: uuid.UUID, decision: str, reason: str | None
    ) -> IPAsset:
        asset = await lock_asset(self.session, asset_id)
        if asset is None or asset.status == AssetStatus.DELETED:
            raise NotFound("IP asset not found")
        if asset.verification_status != VerificationStatus.PENDING or asset.submitted_at is None:
            raise Conflict("IP asset is not waiting for review")
        if asset.creator_id == reviewer.id:
            raise Forbidden("Nobody reviews their own IP asset")
        if decision == VerificationStatus.APPROVED:
            await self._approve(asset, reviewer=reviewer.id)
        else:
            if not reason:
                raise ValidationFailed.for_field(
                    "A reason is required to reject", field="reason", problem="required"
                )
            asset.verification_status = VerificationStatus.REJECTED.value
            asset.rejection_reason = reason
            asset.reviewed_at = utcnow()
            asset.reviewed_by = reviewer.id
            await audit.record(
                self.session,
                actor_id=reviewer.id,
                action="ip_asset.rejected",
                resource_type="ip_asset",
                resource_id=asset.id,
                old_values={"verificationStatus": VerificationStatus.PENDING.value},
                new_values={"verificationStatus": asset.verification_status, "reason": reason},
            )
            await publish(
                self.session,
                IPAssetRejected(
                    ip_asset_id=asset.id,
                    creator_id=asset.creator_id,
                    reviewed_by=reviewer.id,
                    reason=reason,
                ),
            )
        await self.session.flush()
        return asset

    async def _approve(self, asset: IPAsset, *, reviewer: uuid.UUID | None) -> None:
        if asset.parent_license_id is not None:
            await dispatch(
                self.session,
                DerivativeApproving(
                    ip_asset_id=asset.id,
                    creator_id=asset.creator_id,
                    parent_license_id=asset.parent_license_id,
                ),
            )
        asset.verification_status = VerificationStatus.APPROVED.value
        asset.reviewed_at = utcnow()
        asset.reviewed_by = reviewer
        # Answers cached while the asset was in review said "not approved".
        provenance.invalidate_after_commit(self.session)
        await audit.record(
            self.session,
            actor_id=reviewer,
            action="ip_asset.approved",
            resource_type="ip_asset",
            resource_id=asset.id,
            old_values={"verificationStatus": VerificationStatus.PENDING.value},
            new_values={
                "verificationStatus": VerificationStatus.APPROVED.value,
                "contentHash": asset.content_hash,
            },
        )
        await publish(
            self.session,
            IPAssetApproved(
                ip_asset_id=asset.id,
                creator_id=asset.creator_id,
                reviewed_by=reviewer,
                content_hash=asset.content_hash,
            ),
        )


async def suspend_derivatives(
    session: AsyncSession, license_ids: list[uuid.UUID], *, reason: str
) -> list[IPAsset]:
    """Suspend the derivative assets made under any of `license_ids`; returns them."""
    repo = IPAssetRepository(session)
    derived = await lock_derived_from(session, license_ids)
    suspended = [a.id for a in derived if a.status == AssetStatus.ACTIVE]
    await repo.suspend(suspended, reason=reason, now=utcnow())
    if suspended:
        await publish(session, IPAssetSuspended(ip_asset_ids=sorted(suspended), reason=reason))
    return derived
