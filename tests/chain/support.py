"""Log entries and checkpoints as the transparency log publishes them, and a chain that can
be taken down."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.chain.models import ChainTransaction
from ipmarket.chain.port import ChainUnavailable, Fees, Receipt
from ipmarket.eventbus import publish
from ipmarket.kit.db import Database
from ipmarket.transparency import CheckpointSigned, EntryAppended
from tests.support import deliver_events


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def leaf_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(b"\x00" + canonical(entry)).hexdigest()


def entry(kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "v": 1,
        "kind": kind,
        "eventId": str(uuid.uuid4()),
        "occurredAt": "2026-12-04T12:00:00.000000Z",
        **fields,
    }


def new_id() -> str:
    return str(uuid.uuid4())


class Story:
    """An original asset, a license of it and a product under the license, as log entries."""

    def __init__(self) -> None:
        self.asset_id, self.license_id, self.record_id = new_id(), new_id(), new_id()
        self.entries = [
            entry(
                "ip_asset.approved",
                ipAssetId=self.asset_id,
                ownerId=new_id(),
                contentHash=hashlib.sha256(b"art").hexdigest(),
            ),
            entry(
                "license.approved",
                licenseId=self.license_id,
                ipAssetId=self.asset_id,
                licensorId=new_id(),
                licenseeId=new_id(),
                termsHash=hashlib.sha256(b"terms").hexdigest(),
                parentLicenseId=None,
                expiresAt=None,
            ),
            entry(
                "product.published",
                productId=new_id(),
                chainRecordId=self.record_id,
                licenseId=self.license_id,
                ipAssetId=self.asset_id,
                verificationCodeHash=hashlib.sha256(b"code").hexdigest(),
            ),
        ]


async def append(db: Database, entries: list[dict[str, Any]], first_index: int = 0) -> None:
    """Publishes the entries as the log would, and delivers them to the consumers."""
    async with db.sessionmaker() as session:
        for offset, e in enumerate(entries):
            await publish(
                session,
                EntryAppended(leaf_index=first_index + offset, leaf_hash=leaf_hash(e), entry=e),
            )
        await session.commit()
    await deliver_events(db)


async def sign_checkpoint(db: Database, tree_size: int, root_hash: str | None = None) -> str:
    root = root_hash or hashlib.sha256(f"root-{tree_size}".encode()).hexdigest()
    async with db.sessionmaker() as session:
        await publish(
            session,
            CheckpointSigned(
                tree_size=tree_size,
                root_hash=root,
                timestamp=1_796_000_000_000,
                signature="00" * 64,
                key_id="11" * 32,
            ),
        )
        await session.commit()
    await deliver_events(db)
    return root


async def rows(session: AsyncSession) -> list[ChainTransaction]:
    session.expire_all()
    return list(
        await session.scalars(select(ChainTransaction).order_by(ChainTransaction.created_at))
    )


class Switchable:
    """A chain adapter whose node can be switched off: every call then fails as a
    connection refused does."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.down = False
        self.chain_id: int = inner.chain_id
        self.contract_address: str = inner.contract_address
        self.sender: str = inner.sender

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if not callable(attribute):
            return attribute

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise ChainUnavailable("connection refused")
            return await attribute(*args, **kwargs)

        return call


__all__ = ["Fees", "Receipt", "Story", "Switchable", "append", "rows", "sign_checkpoint"]
