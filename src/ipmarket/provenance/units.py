"""Unit codes: one code per item sold, printed on the item or its tag as a QR code.

A product's verification code says "this design is licensed"; it is the same on every item,
so a copier can print it too. A unit code names one item of one order line. Each scan of it
is counted (who scanned is kept as a keyed hash of the client, never its address), and a
code scanned from many distinct clients or places is answered with a "possible copy"
warning, which the product's seller and the licensors up its chain see in their lists.

A refund keeps the unit (its code may be printed already): an item whose sale was refunded
in full answers "not authentic", with the reason, since nobody holds a paid, licensed sale
of it any more. A partial refund leaves the units as they are (it names an amount, not an
item).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.config import Settings
from ipmarket.kit.clock import utcnow
from ipmarket.kit.ids import new_id
from ipmarket.provenance.models import Unit
from ipmarket.provenance.queries import verify

_log = structlog.get_logger(__name__)

# "u" and 32 hex digits (128 bits from the CSPRNG): the prefix is not a hex digit, so a
# unit code can never be taken for a product's 32-hex verification code, nor the reverse.
UNIT_PREFIX = "u"
UNIT_CODE = re.compile(r"u[0-9a-f]{32}")

# Distinct clients (or distinct places, reported by at least two clients so that one caller
# cannot fake them alone) after which a unit is answered "possible copy". A
# constant, not a platform setting: the seed's PlatformSettings has no section for it, and
# five is above what one owner does (a phone at home, at work, on mobile data, a friend's
# phone) while a copied label sold in a market reaches it on its first buyers.
POSSIBLE_COPY_CLIENTS = 5
# How many (client, place) pairs are kept per unit. Past it a scan is still counted but
# tracks no new client: the warning is on long before, and a flood of scans from made-up
# clients costs a bounded number of rows (and a bounded count per answer) however long it
# goes on.
TRACKED_CLIENTS = 100
PLACE_LENGTH = 64
PLACE_REPORTERS = 2
# Units are written in batches of this size: an order may be for many items.
_BATCH = 1000


@dataclass(frozen=True)
class Scan:
    """Who scans: a client fingerprint (see `client_fingerprint`) and a place if given."""

    client: str
    place: str | None = None


def new_unit_code() -> str:
    return UNIT_PREFIX + secrets.token_hex(16)


def is_unit_code(code: str) -> bool:
    return UNIT_CODE.fullmatch(code) is not None


def client_fingerprint(key: bytes, address: str) -> str:
    """A keyed hash of who scanned: the same client gives the same hash, and the address
    cannot be recovered from it (the key is the server's, so the IPv4 space cannot simply
    be tried). The address alone, not the User-Agent: a header is free to forge, and one
    caller sending many would pass for many clients and get anyone's genuine item marked
    as a copy. (A household behind one address counts once, which errs on the quiet side.)
    """
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()


def scan_of(settings: Settings, address: str | None, place: str | None) -> Scan:
    """A scan by this request's client. The fingerprint's key comes from the server's
    signing key (secret, and set in production); a development server without one uses a
    fixed key, which is fine where nobody's address is at stake."""
    secret = settings.jwt_private_key.get_secret_value() if settings.jwt_private_key else ""
    key = hashlib.sha256(b"ipmarket-unit-scan/v1\n" + secret.encode()).digest()
    return Scan(client_fingerprint(key, address or "unknown"), place)


def normal_place(place: str | None) -> str | None:
    """Where the scanner says they are, as they typed it (spaces collapsed, case folded)."""
    if place is None:
        return None
    # Printable characters only: a NUL or a control character is nobody's place (and
    # PostgreSQL refuses NUL in text).
    printable = "".join(c if c.isprintable() else " " for c in place[: PLACE_LENGTH * 4])
    words = " ".join(printable.split()).casefold()[:PLACE_LENGTH]
    return words or None


# --- creation --------------------------------------------------------------------------------

_CHAIN_RECORD = text("SELECT id FROM authorization_chain WHERE product_id = :product_id")


async def issue_units(
    session: AsyncSession, *, order_id: uuid.UUID, product_id: uuid.UUID, quantity: int
) -> int:
    """One unit per item of a completed order; the number written. Issuing for the same
    order again writes nothing (unique (order, serial))."""
    record = (await session.execute(_CHAIN_RECORD, {"product_id": product_id})).scalar()
    if record is None:
        # A product is sold only once published, and publishing writes its record.
        _log.warning("units.no_chain_record", product_id=str(product_id))
        return 0
    now = utcnow()
    written = 0
    for start in range(1, quantity + 1, _BATCH):
        rows = [
            {
                "id": new_id(),
                "code": new_unit_code(),
                "order_id": order_id,
                "serial": serial,
                "product_id": product_id,
                "chain_record_id": record,
                "scan_count": 0,
                "created_at": now,
            }
            for serial in range(start, min(start + _BATCH, quantity + 1))
        ]
        statement = (
            insert(Unit)
            .values(rows)
            .on_conflict_do_nothing(constraint="uq_units_order_serial")
            .returning(Unit.id)
        )
        written += len((await session.execute(statement)).all())
    return written


# --- scanning --------------------------------------------------------------------------------

_UNIT = text(
    """
    SELECT u.id, u.serial, u.product_id, t.status AS order_status
    FROM units u
    LEFT JOIN transactions t ON t.id = u.order_id
    WHERE u.code = :code
    """
)
# The unit's row lock serialises scans of one unit, so the cap below holds.
_COUNT = text(
    "UPDATE units SET scan_count = scan_count + 1 WHERE id = :unit_id RETURNING scan_count"
)
_SEEN_AGAIN = text(
    """
    UPDATE unit_scans SET scans = scans + 1, last_at = :now
    WHERE unit_id = :unit_id AND client_hash = :client AND place IS NOT DISTINCT FROM :place
    """
)
_SEEN_FIRST = text(
    """
    INSERT INTO unit_scans (id, unit_id, client_hash, place, scans, first_at, last_at)
    SELECT :id, :unit_id, :client, :place, 1, :now, :now
    WHERE (SELECT count(*) FROM unit_scans WHERE unit_id = :unit_id) < :cap
    ON CONFLICT ON CONSTRAINT uq_unit_scans_client_place DO NOTHING
    """
)
_SPREAD_COLUMNS = """
    (SELECT count(DISTINCT s.client_hash) FROM unit_scans s WHERE s.unit_id = u.id) AS clients,
    (SELECT count(DISTINCT s.place) FROM unit_scans s WHERE s.unit_id = u.id) AS places,
    (SELECT count(DISTINCT s.client_hash) FROM unit_scans s
     WHERE s.unit_id = u.id AND s.place IS NOT NULL) AS place_clients
"""

# How far one unit's code has spread; the same columns head the lists below.
_SPREAD = text(
    f"SELECT {_SPREAD_COLUMNS} FROM units u WHERE u.id = :unit_id"  # noqa: S608 - constant
)


def _possible_copy(clients: int, places: int, place_clients: int) -> bool:
    return clients >= POSSIBLE_COPY_CLIENTS or (
        places >= POSSIBLE_COPY_CLIENTS and place_clients >= PLACE_REPORTERS
    )


def _warning(*, refunded: bool, possible_copy: bool, clients: int, places: int) -> str | None:
    if refunded:
        return (
            "The sale of this item was refunded: it is no longer a paid, licensed item. "
            "If you were sold it as new, ask the seller."
        )
    if possible_copy:
        spread = (
            f"{clients} different devices" if clients >= places else f"{places} different places"
        )
        return (
            f"Possible copy: this item's code has been checked from {spread}. Each code "
            "belongs to one item, so this label may have been copied. If you bought it "
            "second hand, ask the seller where it comes from."
        )
    return None


def unit_view(
    *,
    serial: int,
    scans: int,
    clients: int,
    places: int,
    place_clients: int,
    order_status: str | None,
) -> dict[str, Any]:
    """A unit as verification answers it (camelCase, as the API shows it)."""
    refunded = order_status == "refunded"
    possible_copy = _possible_copy(clients, places, place_clients)
    return {
        "serial": serial,
        "status": "refunded" if refunded else "sold",
        "scans": scans,
        "distinctClients": clients,
        "distinctPlaces": places,
        "possibleCopy": possible_copy,
        "warning": _warning(
            refunded=refunded, possible_copy=possible_copy, clients=clients, places=places
        ),
    }


async def verify_unit(session: AsyncSession, code: str, scan: Scan) -> dict[str, Any] | None:
    """The product's verification answer plus the unit, counting this scan; None for an
    unknown code. The chain part may come from the cache; the unit part and the count never
    do (each request is one scan)."""
    unit = (await session.execute(_UNIT, {"code": code})).one_or_none()
    if unit is None:
        return None
    now = utcnow()
    scans = int((await session.execute(_COUNT, {"unit_id": unit.id})).scalar_one())
    place = normal_place(scan.place)
    seen = {"unit_id": unit.id, "client": scan.client, "place": place, "now": now}
    again = await session.execute(_SEEN_AGAIN, seen)
    if getattr(again, "rowcount", 0) == 0:
        await session.execute(_SEEN_FIRST, seen | {"id": new_id(), "cap": TRACKED_CLIENTS})
    spread = (await session.execute(_SPREAD, {"unit_id": unit.id})).one()
    answer = await verify(session, product_id=unit.product_id, evidence=True)
    if answer is None:
        return None
    view = unit_view(
        serial=unit.serial,
        scans=scans,
        clients=int(spread.clients),
        places=int(spread.places),
        place_clients=int(spread.place_clients),
        order_status=unit.order_status,
    )
    reasons = list(answer["reasons"])
    if view["status"] == "refunded":
        reasons.append(f"the sale of unit {unit.serial} of this product was refunded")
    return answer | {"authentic": not reasons, "reasons": reasons, "unit": view}


# --- the buyer's, the seller's and the licensors' lists -------------------------------------


@dataclass(frozen=True)
class UnitLine:
    """A unit in a list. `code` is shown to the buyer and the seller (who prints the tag),
    not to licensors."""

    id: uuid.UUID
    code: str | None
    serial: int
    order_id: uuid.UUID | None
    product_id: uuid.UUID
    product_title: str
    status: str
    scans: int
    distinct_clients: int
    distinct_places: int
    possible_copy: bool
    warning: str | None
    created_at: datetime


_OF_ORDER = text(
    f"""
    SELECT u.id, u.code, u.serial, u.order_id, u.product_id, p.title AS product_title,
           u.scan_count, u.created_at, t.status AS order_status, {_SPREAD_COLUMNS}
    FROM units u
    JOIN products p ON p.id = u.product_id
    LEFT JOIN transactions t ON t.id = u.order_id
    WHERE u.order_id = :order_id
    ORDER BY u.serial
    LIMIT :limit
    """  # noqa: S608 - a constant fragment, no input
)

# Units the caller may watch: of products they sell, or resting (anywhere up the chain) on
# a license they granted. One query whatever the depth. Its copies-only filter is
# `_possible_copy` in SQL (it must filter before the page is cut).
_WATCHED = text(
    f"""
    WITH RECURSIVE down AS (
        SELECT ac.id, ac.product_id, 0 AS depth
        FROM authorization_chain ac
        JOIN license_applications la ON la.id = ac.license_id
        WHERE la.licensor_id = :me
        UNION
        SELECT child.id, child.product_id, down.depth + 1
        FROM authorization_chain child JOIN down ON child.parent_chain_id = down.id
        WHERE down.depth < 64
    ),
    watched AS (
        SELECT product_id, false AS sells FROM down WHERE product_id IS NOT NULL
        UNION ALL
        SELECT id, true FROM products WHERE creator_id = :me
    ),
    visible AS (
        SELECT product_id, bool_or(sells) AS sells FROM watched GROUP BY product_id
    ),
    lines AS (
        SELECT u.id, u.code, u.serial, u.order_id, u.product_id, p.title AS product_title,
               u.scan_count, u.created_at, t.status AS order_status, v.sells,
               {_SPREAD_COLUMNS}
        FROM units u
        JOIN visible v ON v.product_id = u.product_id
        JOIN products p ON p.id = u.product_id
        LEFT JOIN transactions t ON t.id = u.order_id
        WHERE (CAST(:product_id AS uuid) IS NULL OR u.product_id = :product_id)
    )
    SELECT *, count(*) OVER () AS total FROM lines
    WHERE NOT :copies_only OR clients >= :threshold
       OR (places >= :threshold AND place_clients >= :place_reporters)
    ORDER BY created_at DESC, order_id, serial
    LIMIT :limit OFFSET :offset
    """  # noqa: S608 - constant fragments, no input
)


def _line(row: Any, *, show_code: bool) -> UnitLine:
    view = unit_view(
        serial=row.serial,
        scans=row.scan_count,
        clients=int(row.clients),
        places=int(row.places),
        place_clients=int(row.place_clients),
        order_status=row.order_status,
    )
    return UnitLine(
        id=row.id,
        code=row.code if show_code else None,
        serial=row.serial,
        order_id=row.order_id if show_code else None,
        product_id=row.product_id,
        product_title=row.product_title,
        status=view["status"],
        scans=view["scans"],
        distinct_clients=view["distinctClients"],
        distinct_places=view["distinctPlaces"],
        possible_copy=view["possibleCopy"],
        warning=view["warning"],
        created_at=row.created_at,
    )


async def units_of_order(
    session: AsyncSession, order_id: uuid.UUID, *, limit: int = 500
) -> list[UnitLine]:
    """The units of one order, by serial, codes included. The caller has checked that the
    order is the viewer's (payments' `order_of`)."""
    rows = await session.execute(_OF_ORDER, {"order_id": order_id, "limit": limit})
    return [_line(row, show_code=True) for row in rows]


async def watched_units(
    session: AsyncSession,
    viewer_id: uuid.UUID,
    *,
    product_id: uuid.UUID | None = None,
    possible_copies_only: bool = False,
    offset: int = 0,
    limit: int = 50,
) -> tuple[Sequence[UnitLine], int]:
    """The units of the products `viewer_id` sells or licensed (up the chain), newest first,
    with their total; a stranger's list is empty. Sellers see codes and orders; licensors
    see counts and warnings only."""
    rows = (
        await session.execute(
            _WATCHED,
            {
                "me": viewer_id,
                "product_id": product_id,
                "copies_only": possible_copies_only,
                "threshold": POSSIBLE_COPY_CLIENTS,
                "place_reporters": PLACE_REPORTERS,
                "limit": limit,
                "offset": offset,
            },
        )
    ).all()
    total = int(rows[0].total) if rows else 0
    return [_line(row, show_code=bool(row.sells)) for row in rows], total
