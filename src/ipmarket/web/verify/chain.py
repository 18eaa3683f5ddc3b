"""A verification answer (provenance's public query, the same one /v1/verify answers with)
in plain words: the verdict, then the chain link by link from the product's own license up
to the original IP, each with its status and, when it fails, why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ipmarket.web.terms_words import territory_words

WORLDWIDE = "WORLDWIDE"
# EVM chain ids people may recognise by name; any other is shown by its number.
CHAIN_NAMES = {
    1: "Ethereum",
    137: "Polygon",
    80002: "Polygon Amoy (test network)",
    11155111: "Sepolia (test network)",
    31337: "a local development chain",
}


@dataclass(frozen=True)
class RecordView:
    """Where a grant is recorded: its entry in the public log and, once anchored, the chain
    transaction whose checkpoint covers it."""

    leaf_index: int
    proven_in: int | None  # tree size of the checkpoint the inclusion proof is against
    chain_id: int | None = None
    block_number: int | None = None
    transaction_hash: str | None = None

    @property
    def chain_name(self) -> str:
        return CHAIN_NAMES.get(self.chain_id or 0, f"chain {self.chain_id}")

    @property
    def entry_number(self) -> int:
        """People count from 1; the log's indices count from 0."""
        return self.leaf_index + 1


def record_view(evidence: dict[str, Any]) -> RecordView | None:
    log = evidence.get("log")
    if not log:
        return None
    proof = log.get("inclusionProof")
    anchor = evidence.get("anchor") or {}
    return RecordView(
        leaf_index=int(log["leafIndex"]),
        proven_in=int(proof["treeSize"]) if proof else None,
        chain_id=anchor.get("chainId"),
        block_number=anchor.get("blockNumber"),
        transaction_hash=anchor.get("transactionHash"),
    )


@dataclass(frozen=True)
class LinkView:
    """One license on the way up, and the IP asset it licenses."""

    asset_id: str
    asset_title: str
    creator: str
    license_type: str
    territory: str
    status: str
    expires_at: datetime | None
    authorises: bool
    reasons: list[str]
    original: bool
    record: RecordView | None = None

    @property
    def status_label(self) -> str:
        return "valid" if self.authorises else "not valid"


@dataclass(frozen=True)
class ChainView:
    authentic: bool
    product_id: str
    product_title: str
    seller: str
    links: list[LinkView]
    # Reasons that are about the product itself, not one of the links (withdrawn, suspended).
    product_reasons: list[str]
    record: RecordView | None = None
    # The signed checkpoint the proofs are against: its tree size, or None if none yet.
    checkpoint_size: int | None = None

    @property
    def own(self) -> LinkView | None:
        """The license the product is made under (and the IP it licenses)."""
        return self.links[0] if self.links else None

    @property
    def root(self) -> LinkView | None:
        """The original IP, at the top of the chain."""
        return self.links[-1] if self.links else None


def _plain(reason: str, license_id: str, asset_id: str, asset_title: str) -> str:
    """The API's reason with the link's own ids put in words ('the license', 'the IP "X"')."""
    text = reason.replace(f"license {license_id}", "the license")
    text = text.replace(f"IP asset {asset_id}", f"the IP \u201c{asset_title}\u201d")
    return text[:1].upper() + text[1:]


def chain_view(answer: dict[str, Any]) -> ChainView:
    links: list[LinkView] = []
    link_reasons: set[str] = set()
    rows: list[dict[str, Any]] = list(answer.get("chain") or [])
    for index, row in enumerate(rows):
        asset, license_ = row["ipAsset"], row["license"]
        raw = list(row.get("reasons") or [])
        link_reasons.update(raw)
        expires = license_.get("expiresAt")
        links.append(
            LinkView(
                asset_id=str(asset["id"]),
                asset_title=str(asset["title"]),
                creator=str(asset["creator"]),
                license_type=str(license_["licenseType"]),
                territory=territory_words(license_.get("territory")),
                status=str(license_["status"]),
                expires_at=datetime.fromisoformat(expires) if expires else None,
                authorises=bool(row["active"]),
                reasons=[
                    _plain(r, str(license_["id"]), str(asset["id"]), str(asset["title"]))
                    for r in raw
                ],
                original=index == len(rows) - 1,
                record=record_view(row),
            )
        )
    product = answer["product"]
    product_reasons = [
        r[:1].upper() + r[1:] for r in answer.get("reasons") or [] if r not in link_reasons
    ]
    return ChainView(
        authentic=bool(answer["authentic"]),
        product_id=str(product["id"]),
        product_title=str(product["title"]),
        seller=str(product["seller"]),
        links=links,
        product_reasons=product_reasons,
        record=record_view(product),
        checkpoint_size=(answer.get("checkpoint") or {}).get("treeSize"),
    )
