"""What each transparency-log entry asks of the contract (seed §5.2 names), as intents.

- `ip_asset.approved`: the root authorization of the asset (authId of the asset, ipHash = the
  asset's content hash, licensor = its owner).
- `license.approved`: an authorization under the license it derives from (`parentLicenseId`)
  or, for a license of an original asset, under the asset's root; ipHash = the log entry's
  leaf hash, which binds the on-chain record to the entry (terms hash, parties, expiry).
- `product.published`: an authorization under its license, for the product's
  authorization-chain record; ipHash = the entry's leaf hash.
- `authorization.revoked`: revokeAuthorization of every license named (their products and
  derivations fail verifyAuthorizationChain through their parents).
- a signed checkpoint: anchorCheckpoint(treeSize, rootHash).
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.chain.ids import ZERO_ADDRESS, ZERO_AUTH, auth_id, bytes32, user_address
from ipmarket.chain.ledger import record_intent
from ipmarket.chain.models import TxKind
from ipmarket.chain.port import AuthorizationChainPort

log = structlog.get_logger(__name__)


def _h(value: bytes) -> str:
    return "0x" + value.hex()


async def create_authorization_record(
    session: AsyncSession,
    chain: AuthorizationChainPort,
    *,
    kind: str,
    record_id: str,
    ip_hash: bytes,
    licensor: str,
    licensee: str,
    parent: bytes,
    parent_subject: str | None,
    log_position: int,
) -> str:
    """Record the creation of the authorization of (`kind`, `record_id`); returns its authId.
    `parent_subject` ("license:<id>", "ip_asset:<id>") names the parent's write, sent first."""
    auth = auth_id(kind, record_id)
    after = [TxKind.CREATE_AUTHORIZATION.value, parent_subject] if parent_subject else None
    await record_intent(
        session,
        chain,
        kind=TxKind.CREATE_AUTHORIZATION,
        subject=f"{kind}:{record_id}",
        function="createAuthorizationWithId",
        arguments=[_h(auth), _h(ip_hash), licensor, licensee, _h(parent)],
        record={"kind": kind, "subjectIds": [record_id], "authId": _h(auth), "after": after},
        log_position=log_position,
    )
    return _h(auth)


async def revoke_authorization(
    session: AsyncSession, chain: AuthorizationChainPort, *, license_id: str, log_position: int
) -> None:
    auth = auth_id("license", license_id)
    await record_intent(
        session,
        chain,
        kind=TxKind.REVOKE_AUTHORIZATION,
        subject=f"license:{license_id}",
        function="revokeAuthorization",
        arguments=[_h(auth)],
        record={
            "kind": "revocation",
            "subjectIds": [license_id],
            "authId": _h(auth),
            "after": [TxKind.CREATE_AUTHORIZATION.value, f"license:{license_id}"],
        },
        log_position=log_position,
    )


async def anchor_checkpoint(
    session: AsyncSession, chain: AuthorizationChainPort, *, tree_size: int, root_hash: str
) -> None:
    await record_intent(
        session,
        chain,
        kind=TxKind.ANCHOR_CHECKPOINT,
        subject=f"checkpoint:{tree_size}",
        function="anchorCheckpoint",
        arguments=[tree_size, "0x" + root_hash],
        record={"kind": "checkpoint", "subjectIds": []},
        log_position=2 * tree_size - 1,
        tree_size=tree_size,
        root_hash=root_hash,
    )


async def record_log_entry(
    session: AsyncSession,
    chain: AuthorizationChainPort,
    entry: dict[str, Any],
    leaf_hash: str,
    leaf_index: int,
) -> None:
    """The intents a log entry asks for (none for kinds the contract does not record)."""
    kind = entry.get("kind")
    position = 2 * leaf_index
    if kind == "ip_asset.approved":
        await create_authorization_record(
            session,
            chain,
            kind="ip_asset",
            record_id=entry["ipAssetId"],
            ip_hash=bytes32(entry["contentHash"]),
            licensor=user_address(entry["ownerId"]),
            licensee=ZERO_ADDRESS,
            parent=ZERO_AUTH,
            parent_subject=None,
            log_position=position,
        )
    elif kind == "license.approved":
        parent_license = entry.get("parentLicenseId")
        parent_kind, parent_id = (
            ("license", parent_license) if parent_license else ("ip_asset", entry["ipAssetId"])
        )
        await create_authorization_record(
            session,
            chain,
            kind="license",
            record_id=entry["licenseId"],
            ip_hash=bytes32(leaf_hash),
            licensor=user_address(entry["licensorId"]),
            licensee=user_address(entry["licenseeId"]),
            parent=auth_id(parent_kind, parent_id),
            parent_subject=f"{parent_kind}:{parent_id}",
            log_position=position,
        )
    elif kind == "product.published":
        await create_authorization_record(
            session,
            chain,
            kind="chain_record",
            record_id=entry["chainRecordId"],
            ip_hash=bytes32(leaf_hash),
            licensor=ZERO_ADDRESS,
            licensee=ZERO_ADDRESS,
            parent=auth_id("license", entry["licenseId"]),
            parent_subject=f"license:{entry['licenseId']}",
            log_position=position,
        )
    elif kind == "authorization.revoked":
        for license_id in sorted(entry["licenseIds"]):
            await revoke_authorization(session, chain, license_id=license_id, log_position=position)
    else:
        log.debug("chain.entry_not_recorded", kind=kind)
