"""Unit codes: each item sold gets its own code; scanning it verifies the product and counts
the scan; a code scanned from many distinct clients (or places) is answered "possible copy", which the
seller and the licensor see and strangers do not; a refunded item says so."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from ipmarket.kit.db import Database
from ipmarket.provenance import POSSIBLE_COPY_CLIENTS, Unit, UnitScan
from ipmarket.provenance.units import TRACKED_CLIENTS
from tests.payments.shop import Shop, freeze
from tests.provenance.support import refused
from tests.support import Account, deliver_events


@pytest.fixture
def shop(client: httpx.AsyncClient, db: Database) -> Shop:
    freeze()
    return Shop(client, db)


async def order_units(shop: Shop, order_id: str) -> list[Unit]:
    async with shop.db.sessionmaker() as session:
        rows = await session.execute(
            select(Unit).where(Unit.order_id == order_id).order_by(Unit.serial)
        )
        return list(rows.scalars())


Scanner = Callable[..., Any]


@pytest.fixture
async def scan(app: FastAPI) -> AsyncIterator[Scanner]:
    """Scan a code over the API from a client at `address` (one client per address)."""
    clients: dict[str, httpx.AsyncClient] = {}

    async def scan_from(
        code: str, *, address: str = "198.51.100.1", place: str | None = None
    ) -> dict[str, Any]:
        if address not in clients:
            transport = httpx.ASGITransport(
                app=app, raise_app_exceptions=False, client=(address, 5555)
            )
            clients[address] = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        params = {"place": place} if place else {}
        response = await clients[address].get(f"/v1/verify/{code}", params=params)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()["data"]
        return answer

    yield scan_from
    for client in clients.values():
        await client.aclose()


async def watched(shop: Shop, account: Account, **params: Any) -> list[dict[str, Any]]:
    response = await shop.client.get("/v1/units", params=params, headers=account.auth)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["data"]
    return items


async def sold(shop: Shop, quantity: int = 3) -> dict[str, Any]:
    product, seller, licensor = await shop.product(stock=10)
    buyer = await shop.buyer()
    sale = await shop.bought(buyer, product["id"], quantity=quantity)
    await deliver_events(shop.db)
    return {
        "product": product,
        "seller": seller,
        "licensor": licensor,
        "buyer": buyer,
        "sale": sale,
    }


async def test_each_item_sold_gets_its_own_code_once(shop: Shop) -> None:
    # given a completed purchase of three items, its events delivered
    world = await sold(shop, quantity=3)
    # then the order has three units, serials 1 to 3, each with its own code
    units = await order_units(shop, world["sale"]["id"])
    assert [u.serial for u in units] == [1, 2, 3]
    codes = {u.code for u in units}
    assert len(codes) == 3
    # and a unit code is never taken for a product's 32-hex verification code
    assert all(c.startswith("u") and len(c) == 33 for c in codes)
    # when the purchase event is delivered again (a redelivery), nothing new is written
    from ipmarket.provenance.units import issue_units

    async with shop.db.transaction() as session:
        again = await issue_units(
            session,
            order_id=units[0].order_id,
            product_id=units[0].product_id,
            quantity=3,
        )
    assert again == 0
    assert [u.code for u in await order_units(shop, world["sale"]["id"])] == [u.code for u in units]


async def test_a_unit_code_verifies_the_product_and_counts_each_scan(
    shop: Shop, scan: Scanner
) -> None:
    # given a sold item
    world = await sold(shop, quantity=1)
    [unit] = await order_units(shop, world["sale"]["id"])
    # when anyone scans its code twice from the same address
    first = await scan(unit.code)
    second = await scan(unit.code)
    # then it answers the product's chain, authentic, and the unit with both scans counted
    # (the second answer of the chain may come from the cache; the count never does)
    assert second["authentic"] is True
    assert second["product"]["id"] == world["product"]["id"]
    assert first["unit"]["scans"] == 1
    assert second["unit"] == {
        "serial": 1,
        "status": "sold",
        "scans": 2,
        "distinctClients": 1,
        "distinctPlaces": 0,
        "possibleCopy": False,
        "warning": None,
    }
    # and no address is stored, only a keyed hash of the client
    async with shop.db.sessionmaker() as session:
        [row] = (await session.execute(select(UnitScan))).scalars().all()
    assert row.scans == 2 and len(row.client_hash) == 64
    assert "198.51.100" not in row.client_hash
    # and the product's own code still answers without a unit
    product_answer = await scan(world["product"]["verificationCode"])
    assert product_answer["unit"] is None


async def test_malformed_and_unknown_unit_codes_are_refused(shop: Shop) -> None:
    refused(await shop.client.get("/v1/verify/u" + "g" * 32), 422, "VALIDATION_ERROR")
    refused(await shop.client.get("/v1/verify/x" + "0" * 32), 422, "VALIDATION_ERROR")
    refused(await shop.client.get("/v1/verify/u" + "0" * 32), 404, "NOT_FOUND")


async def test_many_distinct_clients_raise_a_possible_copy_warning_seen_by_seller_and_licensor(
    shop: Shop, scan: Scanner
) -> None:
    # given a sold item and a stranger
    world = await sold(shop, quantity=2)
    unit = (await order_units(shop, world["sale"]["id"]))[0]
    stranger = await shop.buyer()
    # when it is scanned from one address fewer than the threshold
    for n in range(POSSIBLE_COPY_CLIENTS - 1):
        answer = await scan(unit.code, address=f"198.51.100.{10 + n}")
    # then no warning yet
    assert answer["unit"]["possibleCopy"] is False
    assert await watched(shop, world["seller"], possibleCopy="true") == []
    # when one more distinct address scans it
    answer = await scan(unit.code, address="198.51.100.99")
    # then the scanner is warned in plain words
    assert answer["unit"]["possibleCopy"] is True
    assert answer["unit"]["distinctClients"] == POSSIBLE_COPY_CLIENTS
    assert "Possible copy" in answer["unit"]["warning"]
    # and the seller sees the flagged unit with its code (they print the tags)
    [flagged] = await watched(shop, world["seller"], possibleCopy="true")
    assert (flagged["serial"], flagged["code"], flagged["possibleCopy"]) == (1, unit.code, True)
    # and the licensor sees it too, without the code or the order
    [seen] = await watched(shop, world["licensor"], possibleCopy="true")
    assert seen["id"] == flagged["id"] and seen["code"] is None and seen["orderId"] is None
    # and both see every unit when not filtering
    assert len(await watched(shop, world["seller"])) == 2
    # but a stranger (even the buyer of nothing of theirs) sees none
    assert await watched(shop, stranger) == []
    assert await watched(shop, stranger, productId=world["product"]["id"]) == []
    # and anonymous callers are refused
    refused(await shop.client.get("/v1/units"), 401, "UNAUTHORIZED")


async def test_distinct_places_also_raise_the_warning(shop: Shop, scan: Scanner) -> None:
    world = await sold(shop, quantity=1)
    [unit] = await order_units(shop, world["sale"]["id"])
    # when one client alone reports the item in many places, that is not enough
    for n in range(POSSIBLE_COPY_CLIENTS):
        answer = await scan(unit.code, address="198.51.100.7", place=f"Town {n}")
    assert answer["unit"]["distinctPlaces"] == POSSIBLE_COPY_CLIENTS
    assert answer["unit"]["possibleCopy"] is False
    # when two clients report it in many places
    for n in range(POSSIBLE_COPY_CLIENTS):
        answer = await scan(unit.code, address=f"198.51.100.{n % 2}", place=f"  Market  {n} ")
    # then it is a possible copy, spread over places
    assert answer["unit"]["distinctPlaces"] == 2 * POSSIBLE_COPY_CLIENTS
    assert answer["unit"]["distinctClients"] == 3
    assert answer["unit"]["possibleCopy"] is True
    assert "different places" in answer["unit"]["warning"]


async def test_scans_cost_a_bounded_number_of_rows(shop: Shop, scan: Scanner) -> None:
    # given a sold item scanned from more made-up clients than are tracked
    world = await sold(shop, quantity=1)
    [unit] = await order_units(shop, world["sale"]["id"])
    for n in range(TRACKED_CLIENTS + 5):
        answer = await scan(unit.code, address=f"10.0.{n // 250}.{n % 250}")
    # then every scan is counted, but only so many clients are kept
    assert answer["unit"]["scans"] == TRACKED_CLIENTS + 5
    assert answer["unit"]["distinctClients"] == TRACKED_CLIENTS
    async with shop.db.sessionmaker() as session:
        rows = await session.scalar(select(func.count()).select_from(UnitScan))
    assert rows == TRACKED_CLIENTS


async def test_a_refunded_unit_stays_and_says_its_sale_was_refunded(
    shop: Shop, scan: Scanner
) -> None:
    # given a sold item whose order is refunded in full
    world = await sold(shop, quantity=1)
    [unit] = await order_units(shop, world["sale"]["id"])
    response = await shop.refund(world["seller"], world["sale"]["id"])
    assert response.status_code in (200, 201), response.text
    await deliver_events(shop.db)
    # then the unit still exists and its code still answers
    assert [u.code for u in await order_units(shop, world["sale"]["id"])] == [unit.code]
    answer = await scan(unit.code)
    # but not authentic: nobody holds a paid, licensed sale of this item any more
    assert answer["authentic"] is False
    assert answer["unit"]["status"] == "refunded"
    assert "refunded" in answer["unit"]["warning"]
    assert any("refunded" in reason for reason in answer["reasons"])
    # and the seller's list says so
    [line] = await watched(shop, world["seller"])
    assert line["status"] == "refunded"


def test_a_place_is_kept_as_typed_words_only() -> None:
    from ipmarket.provenance.units import PLACE_LENGTH, normal_place

    assert normal_place("  Lyon,\x00  Croix-Rousse\n") == "lyon, croix-rousse"
    assert normal_place(" \t ") is None
    assert normal_place(None) is None
    assert len(normal_place("x" * 1000) or "") == PLACE_LENGTH


async def test_the_list_and_a_scan_cost_a_constant_number_of_queries(
    shop: Shop, scan: Scanner, app: FastAPI
) -> None:
    from tests.provenance.support import app_engine, statements

    # given a seller with one unit sold, then with seven more
    world = await sold(shop, quantity=1)
    [unit] = await order_units(shop, world["sale"]["id"])
    with statements(app_engine(app)) as one:
        assert len(await watched(shop, world["seller"])) == 1
    with statements(app_engine(app)) as first_scan:
        await scan(unit.code)
    more = await shop.bought(world["buyer"], world["product"]["id"], quantity=7)
    await deliver_events(shop.db)
    assert len(await order_units(shop, more["id"])) == 7
    # when the list is read again, and the unit scanned again from elsewhere
    with statements(app_engine(app)) as eight:
        assert len(await watched(shop, world["seller"])) == 8
    with statements(app_engine(app)) as next_scan:
        await scan(unit.code, address="198.51.100.200")
    # then the list took as many queries for eight units as for one
    assert len(eight) == len(one)
    # and a scan never takes more than a first one did (it may take fewer: the chain's
    # answer is cached)
    assert len(next_scan) <= len(first_scan)
