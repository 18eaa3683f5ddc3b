"""Build the benchmark database: create it, migrate it, and seed a realistic catalogue.

The catalogue is made in memory (users, IP assets, license terms, licenses, derivations)
and streamed into PostgreSQL with COPY; products and their authorization-chain records are
generated chunk by chunk and copied over several connections at once. The secondary
indexes of the two big tables are dropped before their load and rebuilt from their own
definitions (pg_get_indexdef) afterwards, which is much faster than maintaining them row
by row; every CHECK constraint and foreign key stays in force throughout.
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import json
import math
import random
import re
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from argon2 import PasswordHasher
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from bench import words

ROOT = Path(__file__).resolve().parents[1]
DAY = 86_400.0
DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Tables whose secondary indexes are rebuilt after the load instead of maintained during it.
BULK_TABLES = ("products", "authorization_chain")
SEEDED_TABLES = (
    "users",
    "ip_assets",
    "license_terms",
    "license_applications",
    "products",
    "authorization_chain",
)


# --- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedConfig:
    products: int = 200_000
    assets: int = 5_000
    licenses: int = 20_000
    users: int = 3_000
    seed: int = 20261127
    jobs: int = 2
    chunk: int = 5_000

    def as_dict(self) -> dict[str, int]:
        return {
            "products": self.products,
            "assets": self.assets,
            "licenses": self.licenses,
            "users": self.users,
            "seed": self.seed,
        }


def database_url(admin_url: str, name: str) -> str:
    """The admin URL with its database name replaced."""
    return admin_url.rsplit("/", 1)[0] + "/" + name


def check_database_name(name: str) -> None:
    # The database is dropped and recreated: refuse anything that is not plainly ours.
    if not DB_NAME.match(name) or "bench" not in name:
        raise SystemExit(
            f"refusing database name {name!r}: it must be lower-case letters, digits and "
            "underscores, and contain 'bench' (it is dropped and recreated)"
        )


async def recreate_database(admin_url: str, name: str) -> None:
    check_database_name(name)
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def migrate(url: str) -> None:
    """alembic upgrade head, as the test suite does (alembic runs its own event loop)."""
    from alembic import command  # noqa: PLC0415 - heavy, only needed here
    from alembic.config import Config  # noqa: PLC0415

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


def migration_head() -> str | None:
    """The newest revision in migrations/versions."""
    from alembic.config import Config  # noqa: PLC0415
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    return ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini"))).get_current_head()


async def database_revision(url: str) -> str | None:
    conn = await asyncpg.connect(url)
    try:
        revision: str | None = await conn.fetchval("SELECT version_num FROM alembic_version")
        return revision
    finally:
        await conn.close()


async def seeded_metadata(url: str) -> dict[str, Any] | None:
    """What the last completed seeding of this database recorded, or None."""
    try:
        conn = await asyncpg.connect(url)
    except asyncpg.InvalidCatalogNameError:
        return None
    try:
        comment = await conn.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
            "WHERE datname = current_database()"
        )
    finally:
        await conn.close()
    if not comment:
        return None
    try:
        meta: dict[str, Any] = json.loads(comment)
    except ValueError:
        return None
    return meta if meta.get("ipmarket_bench") else None


# --- the in-memory model ---------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class Terms:
    id: uuid.UUID
    license_type: str
    share: Decimal
    fee_minor: int
    territory: str
    duration: str
    derivatives_allowed: bool
    auto_approve: bool
    version: int
    lineage_id: uuid.UUID
    is_current: bool
    created: float

    def snapshot(self) -> str:
        return json.dumps(
            {
                "termsId": str(self.id),
                "version": self.version,
                "licenseType": self.license_type,
                "revenueSharePercentage": str(self.share),
                "baseFee": f"{self.fee_minor / 100:.2f}",
                "currency": "USD",
                "territory": self.territory,
                "duration": self.duration,
                "requirements": REQUIREMENTS,
                "restrictions": RESTRICTIONS,
                "derivativesAllowed": self.derivatives_allowed,
            }
        )


@dataclass(slots=True, eq=False)
class Asset:
    id: uuid.UUID
    creator_id: uuid.UUID
    title: str
    category: str
    level: int
    approved: bool
    ready: float  # when it was approved (or created), epoch seconds
    parent_license: License | None = None
    derivation_id: uuid.UUID | None = None
    exclusive: bool = False
    terms: list[Terms] = field(default_factory=list)
    title_words: list[str] = field(default_factory=list)


@dataclass(slots=True, frozen=True)
class PlanEntry:
    moment: float  # published (or, for a draft, last edited), epoch seconds
    license_index: int
    status: str


@dataclass(slots=True, eq=False)
class License:
    id: uuid.UUID
    asset: Asset
    terms: Terms
    applicant_id: uuid.UUID
    status: str
    created: float
    approved_at: float | None = None
    expires_at: float | None = None
    ended_at: float | None = None  # revoked or expired: products stop authorising then


# The base fee is authorised on applying, captured on approval, released on rejection.
FEE_STATUS = {
    "pending": "authorized",
    "approved": "captured",
    "revoked": "captured",
    "expired": "captured",
    "rejected": "released",
}
REQUIREMENTS = "Credit the original creator on the product page and packaging."
RESTRICTIONS = "No use in political or adult content; no resale of the artwork itself."


def _ts(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def _add_duration(start: float, duration: str) -> float | None:
    """start + an ISO 8601 duration of the kinds seeded (PnY, PnM, PnD), or None."""
    if duration == "PERPETUAL":
        return None
    amount, unit = int(duration[1:-1]), duration[-1]
    if unit == "D":
        return start + amount * DAY
    months = amount * 12 if unit == "Y" else amount
    moment = datetime.fromtimestamp(start, UTC)
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day).timestamp()


def _duration_days(duration: str) -> float:
    if duration == "PERPETUAL":
        return math.inf
    amount, unit = int(duration[1:-1]), duration[-1]
    return amount * {"D": 1, "M": 31, "Y": 366}[unit]


DURATIONS = (("PERPETUAL", 35), ("P1Y", 28), ("P2Y", 18), ("P3Y", 9), ("P6M", 7), ("P90D", 3))
COUNTRY_SETS = ("US", "CA,US", "DE,FR,IT", "JP", "KR", "AU,NZ", "GB,IE", "BR", "ES,PT", "IN")
APPLICATION_USES = (
    "a small run of apparel for conventions",
    "prints and stickers sold online",
    "a line of homeware for a boutique",
    "limited collectibles for a fan community",
    "a webshop of accessories",
)


class Catalogue:
    """The seeded world, generated deterministically from one random seed."""

    def __init__(self, config: SeedConfig, now: float) -> None:
        self.config = config
        self.now = now
        self.rng = random.Random(config.seed)
        self.admin_id = self.new_id()
        self.creators: list[uuid.UUID] = []
        self.secondaries: list[uuid.UUID] = []
        self.buyers: list[uuid.UUID] = []
        self.user_rows: list[tuple[Any, ...]] = []
        self.assets: list[Asset] = []
        self.licenses: list[License] = []
        self.asset_rows: list[list[tuple[Any, ...]]] = []  # per derivation level
        self.terms_rows: list[list[tuple[Any, ...]]] = []
        self.license_rows: list[list[tuple[Any, ...]]] = []
        self.derivation_rows: list[tuple[Any, ...]] = []

    def new_id(self) -> uuid.UUID:
        """A version 4 UUID drawn from the seeded generator: the same catalogue every run."""
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    # users ---------------------------------------------------------------------------------

    def make_users(self) -> None:
        rng, n = self.rng, max(self.config.users, 10)
        password_hash = PasswordHasher().hash(secrets.token_urlsafe(24))
        joined_from, joined_to = self.now - 1100 * DAY, self.now - 760 * DAY
        for i in range(n):
            if i == 0:
                user_id, user_type, admin_level = self.admin_id, "admin", "super_admin"
            else:
                user_id, admin_level = self.new_id(), None
                roll = rng.random()
                user_type = (
                    "creator" if roll < 0.35 else "secondary_creator" if roll < 0.9 else "buyer"
                )
                {"creator": self.creators, "secondary_creator": self.secondaries}.get(
                    user_type, self.buyers
                ).append(user_id)
            name = f"{rng.choice(words.FIRST_NAMES)}_{rng.choice(words.SUBJECTS)}_{i}"
            joined = rng.uniform(joined_from, joined_to)
            profile = {"displayName": name.replace("_", " ").title(), "bio": "", "links": []}
            self.user_rows.append(
                (
                    user_id,
                    name[:50],
                    f"{name}@bench.ipmarket.test",
                    password_hash,
                    user_type,
                    rng.choice(("verified", "verified", "premium", "unverified")),
                    "active" if rng.random() < 0.99 or i == 0 else "suspended",
                    json.dumps(profile),
                    _ts(joined + DAY),
                    admin_level,
                    ["content"] if admin_level else [],
                    0,
                    _ts(joined),
                    _ts(joined),
                    _ts(joined),
                    _ts(rng.uniform(self.now - 30 * DAY, self.now)),
                )
            )
        if not self.creators or not self.secondaries:
            raise SystemExit("--users is too small to have both creators and secondary creators")

    # assets, terms, licenses ----------------------------------------------------------------

    def make_rights(self) -> None:
        """IP assets level by level (originals, then derivatives up to three deep), each
        level's license terms and licenses before the next level derives from them."""
        shares = (0.75, 0.15, 0.07, 0.03)
        counts = [max(1, round(self.config.assets * s)) for s in shares]
        total_assets = sum(counts)
        for level, count in enumerate(counts):
            parents = [
                lic
                for lic in self.licenses
                if lic.status == "approved"
                and lic.terms.derivatives_allowed
                and lic.asset.level == level - 1
                and lic.approved_at is not None
                and lic.approved_at < self.now - 45 * DAY
            ]
            if level and not parents:
                break
            assets = [self._asset(level, parents) for _ in range(count)]
            self.assets += assets
            self.asset_rows.append([self._asset_row(a) for a in assets])
            level_terms: list[tuple[Any, ...]] = []
            for asset in assets:
                if asset.approved:
                    level_terms += self._terms_of(asset)
            self.terms_rows.append(level_terms)
            budget = round(self.config.licenses * count / total_assets)
            self.license_rows.append(self._licenses_for(assets, budget))

    def _asset(self, level: int, parents: list[License]) -> Asset:
        rng = self.rng
        roll = rng.random()
        approved = roll < 0.955
        if level == 0:
            creator = rng.choice(self.creators)
            title = words.asset_title(rng)
            category = words.weighted(rng, words.ASSET_CATEGORIES)
            created = rng.uniform(self.now - 720 * DAY, self.now - 200 * DAY)
            parent = None
        else:
            parent = rng.choice(parents)
            assert parent.approved_at is not None
            creator = parent.applicant_id
            title = words.derivative_title(rng, parent.asset.title)
            category = parent.asset.category
            created = rng.uniform(parent.approved_at + DAY, self.now - (40 - 10 * level) * DAY)
            created = max(created, parent.approved_at + DAY)
        asset = Asset(
            id=self.new_id(),
            creator_id=creator,
            title=title[:255],
            category=category,
            level=level,
            approved=approved,
            ready=created + rng.uniform(0.1, 3) * DAY,
            parent_license=parent,
            title_words=[w for w in re.findall(r"[A-Za-z]+", title) if w != "The"],
        )
        if approved and parent is not None:
            asset.derivation_id = self.new_id()
            self.derivation_rows.append(
                (
                    asset.derivation_id,
                    None,
                    asset.id,
                    parent.asset.id,
                    parent.id,
                    parent.asset.derivation_id,
                    None,
                    True,
                    _ts(asset.ready),
                )
            )
        return asset

    def _asset_row(self, a: Asset) -> tuple[Any, ...]:
        rng = self.rng
        created = a.ready - DAY
        description = words.asset_description(rng, a.title, a.category)
        status = "approved" if a.approved else rng.choice(("pending", "pending", "rejected"))
        decided = status != "pending"
        return (
            a.id,
            a.creator_id,
            a.title,
            description,
            a.category,
            words.CONTENT_TYPES[a.category],
            [],
            json.dumps({"tags": [w.lower() for w in a.title_words[:3]], "year": 2026}),
            status,
            _ts(created + 600),
            _ts(a.ready) if decided else None,
            self.admin_id if decided else None,
            "The submission does not show original work." if status == "rejected" else None,
            "active",
            hashlib.sha256(f"{a.title}\n{description}".encode()).hexdigest(),
            a.parent_license.id if a.parent_license else None,
            _ts(created),
            _ts(a.ready),
        )

    def _terms_of(self, asset: Asset) -> list[tuple[Any, ...]]:
        rng = self.rng
        if asset.level == 0 and rng.random() < 0.05:
            asset.exclusive = True
            offers = [("exclusive", rng.choice(COUNTRY_SETS))]
        else:
            offers = [("standard", "WORLDWIDE")]
            if rng.random() < 0.5:
                offers.append(("premium", rng.choice(("WORLDWIDE", *COUNTRY_SETS))))
        rows: list[tuple[Any, ...]] = []
        for license_type, territory in offers:
            created = asset.ready + rng.uniform(0.1, 2) * DAY
            versions = 2 if rng.random() < 0.08 else 1
            lineage = self.new_id()
            for version in range(1, versions + 1):
                terms = Terms(
                    id=lineage if version == 1 else self.new_id(),
                    license_type=license_type,
                    share=Decimal(rng.choice((250, 500, 750, 1000, 1250, 1500, 2000))) / 100,
                    fee_minor=rng.choice((0, 0, 2500, 5000, 10000, 25000))
                    * (3 if license_type != "standard" else 1),
                    territory=territory,
                    duration=words.weighted(rng, DURATIONS),
                    derivatives_allowed=rng.random() < 0.8,
                    auto_approve=license_type == "standard" and rng.random() < 0.3,
                    version=version,
                    lineage_id=lineage,
                    is_current=version == versions,
                    created=min(created + (version - 1) * 20 * DAY, self.now - 3 * DAY),
                )
                asset.terms.append(terms)
                rows.append(
                    (
                        terms.id,
                        asset.id,
                        terms.license_type,
                        terms.share,
                        terms.fee_minor,
                        "USD",
                        terms.territory,
                        terms.duration,
                        REQUIREMENTS,
                        RESTRICTIONS,
                        terms.auto_approve,
                        terms.derivatives_allowed,
                        terms.version,
                        terms.lineage_id,
                        terms.is_current,
                        _ts(terms.created),
                    )
                )
        return rows

    def _licenses_for(self, assets: list[Asset], budget: int) -> list[tuple[Any, ...]]:
        rng = self.rng
        open_assets = [a for a in assets if a.approved]
        if not open_assets or budget <= 0:
            return []
        # A few assets are very popular, most have a handful of licensees.
        weights = [min(rng.paretovariate(1.3), 40.0) for _ in open_assets]
        pending: set[tuple[uuid.UUID, uuid.UUID]] = set()
        exclusive_taken: set[uuid.UUID] = set()
        rows: list[tuple[Any, ...]] = []
        for asset in rng.choices(open_assets, weights=weights, k=budget):
            applicant = rng.choice(self.secondaries)
            if applicant == asset.creator_id:
                continue
            status = self._license_status(rng.random())
            terms = rng.choice([t for t in asset.terms if t.is_current])
            if status != "pending" and rng.random() < 0.1:
                # Decided before the owner published a new version of these terms.
                terms = next(t for t in asset.terms if t.lineage_id == terms.lineage_id)
            if asset.exclusive:
                status = "approved" if asset.id not in exclusive_taken else "rejected"
                exclusive_taken.add(asset.id)
            if status == "pending":
                if (terms.id, applicant) in pending:
                    continue
                pending.add((terms.id, applicant))
            lic = self._license(asset, terms, applicant, status)
            self.licenses.append(lic)
            rows.append(self._license_row(lic))
        return rows

    @staticmethod
    def _license_status(roll: float) -> str:
        if roll < 0.885:
            return "approved"
        if roll < 0.925:
            return "pending"
        if roll < 0.96:
            return "rejected"
        if roll < 0.98:
            return "revoked"
        return "expired"

    def _license(self, asset: Asset, terms: Terms, applicant: uuid.UUID, status: str) -> License:
        rng, now = self.rng, self.now
        earliest = min(max(asset.ready, terms.created) + 3600, now - 2 * DAY)
        lic = License(self.new_id(), asset, terms, applicant, status, created=earliest)
        if status == "expired":
            days = _duration_days(terms.duration)
            # Only a license that can have run its whole term by now can have expired.
            if days == math.inf or earliest + days * DAY > now - 2 * DAY:
                lic.status = status = "revoked"
            else:
                expires = rng.uniform(max(earliest + days * DAY, now - 150 * DAY), now - DAY)
                lic.approved_at = expires - days * DAY
                lic.expires_at = _add_duration(lic.approved_at, terms.duration)
                lic.ended_at = lic.expires_at
        if status in ("approved", "revoked"):
            days = _duration_days(terms.duration)
            low = max(earliest, now - days * DAY + 20 * DAY)
            lic.approved_at = rng.uniform(min(low, now - 2 * DAY), now - DAY)
            lic.expires_at = _add_duration(lic.approved_at, terms.duration)
            if status == "revoked":
                lic.ended_at = rng.uniform(lic.approved_at + 600, now - 600)
        lic.created = (lic.approved_at or rng.uniform(earliest, now - 600)) - rng.uniform(
            600, 2 * DAY
        )
        return lic

    def _license_row(self, lic: License) -> tuple[Any, ...]:
        rng = self.rng
        licensor = lic.asset.creator_id
        decided = lic.status != "pending"
        approved = lic.approved_at is not None
        decided_at = lic.approved_at or (lic.created + DAY if decided else None)
        return (
            lic.id,
            lic.asset.id,
            lic.applicant_id,
            licensor,
            lic.terms.id,
            json.dumps({"intendedUse": rng.choice(APPLICATION_USES), "estimatedUnits": 500}),
            lic.terms.fee_minor + rng.choice((0, 5000)) if rng.random() < 0.3 else None,
            Decimal(25) if rng.random() < 0.3 else None,
            lic.status,
            _ts(lic.approved_at),
            licensor if approved else None,
            _ts(lic.expires_at),
            "We are not licensing this territory right now." if lic.status == "rejected" else None,
            licensor if decided else None,
            _ts(lic.ended_at) if lic.status == "revoked" else None,
            "Quality problems reported by buyers." if lic.status == "revoked" else None,
            lic.terms.snapshot() if approved else None,
            lic.terms.fee_minor,
            FEE_STATUS[lic.status] if lic.terms.fee_minor else "none",
            _ts(lic.created),
            _ts(lic.ended_at or decided_at or lic.created),
        )

    # products ------------------------------------------------------------------------------

    def product_plan(self) -> list[PlanEntry]:
        """When, under which license and in which state each product is made, in order of
        publication, so that the table's physical order follows time as a real one would."""
        rng, now = self.rng, self.now
        sellable = [i for i, lic in enumerate(self.licenses) if lic.approved_at is not None]
        weights = [min(rng.paretovariate(1.2), 60.0) for _ in sellable]
        plan: list[PlanEntry] = []
        for index in rng.choices(sellable, weights=weights, k=self.config.products):
            lic = self.licenses[index]
            assert lic.approved_at is not None
            end = lic.ended_at if lic.ended_at is not None else now - 60
            end = max(end, lic.approved_at + 600)
            moment = rng.uniform(lic.approved_at + 300, end)
            plan.append(PlanEntry(moment, index, self._product_status(lic, rng.random())))
        plan.sort(key=lambda entry: entry.moment)
        return plan

    @staticmethod
    def _product_status(lic: License, roll: float) -> str:
        if lic.status != "approved":
            return "suspended"  # its license was revoked or has expired
        if roll < 0.045:
            return "draft"
        if roll < 0.08:
            return "sold_out"
        return "active"

    def product_rows(
        self, plan: Sequence[PlanEntry]
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Product rows and, for each published one, its authorization-chain record."""
        rng = self.rng
        products: list[tuple[Any, ...]] = []
        chain: list[tuple[Any, ...]] = []
        for entry in plan:
            lic = self.licenses[entry.license_index]
            asset, status, moment = lic.asset, entry.status, entry.moment
            authorising = status != "suspended"
            category = words.weighted(rng, words.PRODUCT_CATEGORIES)
            title = words.product_title(rng, asset.title_words, category)
            published = None if status == "draft" else moment
            created = moment - rng.uniform(300, 3 * DAY)
            deleted = moment + DAY if published and rng.random() < 0.008 else None
            ended = lic.ended_at if not authorising else None
            updated = max(x for x in (created, published, deleted, ended) if x is not None)
            product_id = self.new_id()
            # Log-normal prices around $27, from a dollar to a few hundred: 2499, 3995, ...
            dollars = max(1, round(math.exp(rng.gauss(3.3, 0.8))))
            price_minor = dollars * 100 - rng.choice((1, 1, 5, 0, 0))
            products.append(
                (
                    product_id,
                    lic.applicant_id,
                    lic.id,
                    asset.id,
                    title[:255],
                    words.product_description(rng, title, asset.title),
                    category,
                    price_minor,
                    "USD",
                    0 if status == "sold_out" else rng.randint(1, 500),
                    [],
                    json.dumps(
                        {"material": rng.choice(words.MATERIALS), "style": rng.choice(words.STYLES)}
                    ),
                    status,
                    None if authorising else f"The license was {lic.status}",
                    authorising,
                    _ts(published),
                    _ts(self.chain_expiry(lic)) if published is not None else None,
                    _ts(deleted),
                    _ts(created),
                    _ts(updated),
                )
            )
            if published is not None:
                chain.append(
                    (
                        self.new_id(),
                        product_id,
                        None,
                        asset.id,
                        lic.id,
                        asset.derivation_id,
                        f"{rng.getrandbits(128):032x}",
                        authorising,
                        _ts(published),
                    )
                )
        return products, chain

    def chain_expiry(self, lic: License) -> float | None:
        """The earliest expiry of any license on the chain from `lic` up to the original
        asset, as fixed on a product when it is published."""
        expiries: list[float] = []
        link: License | None = lic
        while link is not None:
            if link.expires_at is not None:
                expiries.append(link.expires_at)
            link = link.asset.parent_license
        return min(expiries) if expiries else None

    @staticmethod
    def published(entry: PlanEntry) -> bool:
        return entry.status != "draft"


# --- COPY ------------------------------------------------------------------------------------

USER_COLUMNS = (
    "id", "username", "email", "password_hash", "user_type", "verification_level", "status",
    "profile_data", "email_verified_at", "admin_level", "departments", "failed_login_attempts",
    "password_changed_at", "created_at", "updated_at", "last_login_at",
)  # fmt: skip
ASSET_COLUMNS = (
    "id", "creator_id", "title", "description", "category", "content_type", "file_ids",
    "metadata", "verification_status", "submitted_at", "reviewed_at", "reviewed_by",
    "rejection_reason", "status", "content_hash", "parent_license_id", "created_at",
    "updated_at",
)  # fmt: skip
TERMS_COLUMNS = (
    "id", "ip_asset_id", "license_type", "revenue_share_percentage", "base_fee_minor",
    "currency", "territory", "duration", "requirements", "restrictions", "auto_approve",
    "derivatives_allowed", "version", "lineage_id", "is_current", "created_at",
)  # fmt: skip
LICENSE_COLUMNS = (
    "id", "ip_asset_id", "applicant_id", "licensor_id", "license_terms_id", "application_data",
    "max_base_fee_minor", "max_revenue_share_percentage", "status", "approved_at",
    "approved_by", "expires_at", "rejection_reason", "decided_by", "revoked_at",
    "revocation_reason", "terms_snapshot", "fee_minor", "fee_status", "created_at", "updated_at",
)  # fmt: skip
# search_vector is a generated column: never inserted.
PRODUCT_COLUMNS = (
    "id", "creator_id", "license_id", "ip_asset_id", "title", "description", "category",
    "price_minor", "currency", "inventory_count", "image_file_ids", "specifications", "status",
    "status_reason", "authenticity_verified", "published_at", "authorized_until", "deleted_at",
    "created_at", "updated_at",
)  # fmt: skip
CHAIN_COLUMNS = (
    "id", "product_id", "derived_asset_id", "ip_asset_id", "license_id", "parent_chain_id",
    "verification_code", "is_active", "created_at",
)  # fmt: skip


class Loader:
    """COPY into the bench database, reporting progress per table."""

    def __init__(self, pool: asyncpg.Pool, progress: Progress) -> None:
        self.pool = pool
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def track(self, label: str, total: int) -> None:
        self.tasks[label] = self.progress.add_task(label, total=total)

    async def copy(
        self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]], label: str
    ) -> None:
        for start in range(0, len(rows), 10_000):
            part = rows[start : start + 10_000]
            async with self.pool.acquire() as conn:
                await conn.copy_records_to_table(table, records=part, columns=list(columns))
            self.progress.advance(self.tasks[label], len(part))


async def _secondary_indexes(
    conn: asyncpg.pool.PoolConnectionProxy[Any], table: str
) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the indexes that back no constraint."""
    rows = await conn.fetch(
        """
        SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS ddl
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = $1::regclass
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
        ORDER BY c.relname
        """,
        table,
    )
    return [(r["name"], r["ddl"]) for r in rows]


async def _rebuild(pool: asyncpg.Pool, ddl: str, progress: Progress, task: TaskID) -> None:
    async with pool.acquire() as conn:
        await conn.execute("SET maintenance_work_mem = '512MB'")
        await conn.execute(ddl)
    progress.advance(task)


@dataclass
class SeedReport:
    seconds: float
    phases: dict[str, float]


async def seed(url: str, database: str, config: SeedConfig, console: Console) -> SeedReport:
    started = time.perf_counter()
    phases: dict[str, float] = {}
    world = Catalogue(config, now=time.time())
    mark = time.perf_counter()
    world.make_users()
    world.make_rights()
    plan = world.product_plan()
    phases["generate rights model"] = time.perf_counter() - mark
    jobs = max(1, config.jobs)
    pool = await asyncpg.create_pool(url, min_size=jobs, max_size=jobs)
    assert pool is not None
    columns = (
        TextColumn("{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console) as progress:
            loader = Loader(pool, progress)
            asset_total = sum(len(r) for r in world.asset_rows)
            loader.track("users", len(world.user_rows))
            loader.track("ip assets", asset_total)
            loader.track("license terms", sum(len(r) for r in world.terms_rows))
            loader.track("licenses", sum(len(r) for r in world.license_rows))
            loader.track("derivations", len(world.derivation_rows))
            loader.track("products", len(plan))
            loader.track("chain records", sum(1 for entry in plan if world.published(entry)))
            mark = time.perf_counter()
            await loader.copy("users", USER_COLUMNS, world.user_rows, "users")
            for level in range(len(world.asset_rows)):
                await loader.copy("ip_assets", ASSET_COLUMNS, world.asset_rows[level], "ip assets")
                await loader.copy(
                    "license_terms", TERMS_COLUMNS, world.terms_rows[level], "license terms"
                )
                await loader.copy(
                    "license_applications", LICENSE_COLUMNS, world.license_rows[level], "licenses"
                )
            await _copy_derivations(loader, world.derivation_rows)
            phases["copy users and rights"] = time.perf_counter() - mark

            mark = time.perf_counter()
            async with pool.acquire() as conn:
                dropped = [ix for t in BULK_TABLES for ix in await _secondary_indexes(conn, t)]
                for index_name, _ in dropped:
                    await conn.execute(f'DROP INDEX "{index_name}"')
            await _copy_products(loader, world, plan, config.chunk, jobs)
            phases["copy products and chain"] = time.perf_counter() - mark

            mark = time.perf_counter()
            index_task = progress.add_task("rebuild indexes", total=len(dropped))
            # GIN builds are single-threaded: run as many at once as there are connections.
            order = sorted(dropped, key=lambda ix: "gin" not in ix[1].lower())
            await _bounded(
                [_rebuild(pool, ddl, progress, index_task) for _, ddl in order], limit=jobs
            )
            phases["rebuild indexes"] = time.perf_counter() - mark

            mark = time.perf_counter()
            analyze_task = progress.add_task("vacuum analyze", total=len(SEEDED_TABLES))

            async def vacuum(table: str) -> None:
                async with pool.acquire() as conn:
                    await conn.execute(f"VACUUM (ANALYZE) {table}")
                progress.advance(analyze_task)

            await _bounded([vacuum(t) for t in SEEDED_TABLES], limit=jobs)
            phases["vacuum analyze"] = time.perf_counter() - mark
        seconds = time.perf_counter() - started
        async with pool.acquire() as conn:
            meta = {
                "ipmarket_bench": True,
                "config": config.as_dict(),
                "seeded_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "seed_seconds": round(seconds, 1),
                "phases": {k: round(v, 1) for k, v in phases.items()},
            }
            literal = json.dumps(meta).replace("'", "''")
            await conn.execute(f"COMMENT ON DATABASE \"{database}\" IS '{literal}'")
    finally:
        await pool.close()
    return SeedReport(seconds=seconds, phases=phases)


async def _copy_derivations(loader: Loader, rows: list[tuple[Any, ...]]) -> None:
    # A derivation record points at its parent's record: insert shallow ones first.
    by_id = {r[0]: r for r in rows}

    def depth(row: tuple[Any, ...]) -> int:
        d, parent = 0, row[5]
        while parent is not None:
            d, parent = d + 1, by_id[parent][5]
        return d

    ordered = sorted(rows, key=depth)
    await loader.copy("authorization_chain", CHAIN_COLUMNS, ordered, "derivations")


async def _copy_products(
    loader: Loader, world: Catalogue, plan: list[PlanEntry], chunk: int, jobs: int
) -> None:
    """Generate and copy products chunk by chunk, `jobs` chunks in flight at once."""
    slots = asyncio.Semaphore(jobs)
    pending: list[asyncio.Task[None]] = []

    async def copy_chunk(products: list[tuple[Any, ...]], chain: list[tuple[Any, ...]]) -> None:
        try:
            async with loader.pool.acquire() as conn, conn.transaction():
                await conn.copy_records_to_table(
                    "products", records=products, columns=list(PRODUCT_COLUMNS)
                )
                await conn.copy_records_to_table(
                    "authorization_chain", records=chain, columns=list(CHAIN_COLUMNS)
                )
            loader.progress.advance(loader.tasks["products"], len(products))
            loader.progress.advance(loader.tasks["chain records"], len(chain))
        finally:
            slots.release()

    for start in range(0, len(plan), chunk):
        await slots.acquire()
        products, chain = world.product_rows(plan[start : start + chunk])
        pending.append(asyncio.create_task(copy_chunk(products, chain)))
        # Surface a failure now rather than after generating everything else.
        for task in [t for t in pending if t.done()]:
            task.result()
    await asyncio.gather(*pending)


async def _bounded(coroutines: list[Any], *, limit: int) -> None:
    slots = asyncio.Semaphore(limit)

    async def run(coroutine: Any) -> None:
        async with slots:
            await coroutine

    await asyncio.gather(*(run(c) for c in coroutines))


# --- what is in the database -----------------------------------------------------------------


async def row_counts(url: str) -> Table:
    """Rows per seeded table, with the status breakdown that matters for the catalogue."""
    conn = await asyncpg.connect(url)
    try:
        table = Table(title="Seeded catalogue", title_justify="left")
        table.add_column("table")
        table.add_column("rows", justify="right")
        table.add_column("by status")
        breakdown = {
            "users": "user_type",
            "ip_assets": "verification_status",
            "license_terms": "license_type",
            "license_applications": "status",
            "products": "status",
        }
        for name in SEEDED_TABLES:
            total = await conn.fetchval(f"SELECT count(*) FROM {name}")
            detail = ""
            if name in breakdown:
                col = breakdown[name]
                rows = await conn.fetch(
                    f"SELECT {col} AS k, count(*) AS n FROM {name} GROUP BY 1 ORDER BY 2 DESC"
                )
                detail = ", ".join(f"{r['k']} {r['n']:,}" for r in rows)
            elif name == "authorization_chain":
                rows = await conn.fetch(
                    "SELECT (product_id IS NOT NULL) AS p, is_active, count(*) AS n "
                    "FROM authorization_chain GROUP BY 1, 2 ORDER BY 1, 2"
                )
                detail = ", ".join(
                    f"{'product' if r['p'] else 'derivation'}"
                    f"{'' if r['is_active'] else ' (inactive)'} {r['n']:,}"
                    for r in rows
                )
            table.add_row(name, f"{total:,}", detail)
        depth = await conn.fetchval(
            """
            WITH RECURSIVE d AS (
                SELECT id, 1 AS depth FROM authorization_chain
                WHERE derived_asset_id IS NOT NULL AND parent_chain_id IS NULL
                UNION ALL
                SELECT c.id, d.depth + 1
                FROM authorization_chain c JOIN d ON c.parent_chain_id = d.id
                WHERE c.derived_asset_id IS NOT NULL
            )
            SELECT max(depth) FROM d
            """
        )
        table.caption = f"deepest derivation chain: {depth or 0} level(s) below an original"
        return table
    finally:
        await conn.close()
