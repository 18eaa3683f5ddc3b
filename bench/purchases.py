"""Purchase benchmark: many buyers racing for limited stock through the HTTP API of the real
app, then proof from the database that nothing was oversold or charged twice.

    .venv/bin/python -m bench.purchases --help
    make bench-purchases BENCH_ARGS="--products 5 --stock 20 --concurrency 64"

See bench/README.md ("Running the purchase benchmark").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: python bench/purchases.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table

from bench import load, seed

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PASSWORD = "Violet-Harbor-42!"
VISA = "pm_card_visa"
PRICE = "5.00"
SHARE = 10  # the licensor's revenue share, percent
REPLAYED_HEADER = "Idempotent-Replayed"
SETUP_CONCURRENCY = 8


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _share(value: str) -> float:
    number = float(value)
    if not 0 <= number < 1:
        raise argparse.ArgumentTypeError("must be in [0, 1)")
    return number


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.purchases",
        description=(
            "Create a database of its own, start the app with uvicorn on 127.0.0.1, publish "
            "products with limited stock, fire concurrent purchases (some retrying an earlier "
            "Idempotency-Key) and print throughput, latency and an oversell check from the "
            "database. Exits 1 on any oversell, double charge, ledger discrepancy or error."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL),
        help="a PostgreSQL URL with the right to create databases (env BENCH_POSTGRES_URL)",
    )
    parser.add_argument(
        "--db",
        default="ipmarket_bench_purchases",
        help="the bench database, DROPPED and recreated (its name must contain 'bench')",
    )
    parser.add_argument("--products", type=_positive, default=20, help="products on sale")
    parser.add_argument("--stock", type=_positive, default=50, help="units of each product")
    parser.add_argument("--buyers", type=_positive, default=200, help="buyers")
    parser.add_argument(
        "--concurrency", type=_positive, default=32, help="clients with one purchase in flight"
    )
    parser.add_argument(
        "--attempts",
        type=_positive,
        default=None,
        help="purchase requests in all (default: 3 x products x stock)",
    )
    parser.add_argument(
        "--retry-share",
        type=_share,
        default=0.2,
        help="share of the requests that re-send an earlier, answered Idempotency-Key",
    )
    parser.add_argument("--workers", type=_positive, default=1, help="uvicorn worker processes")
    parser.add_argument("--seed", type=int, default=20261127, help="random seed of the plan")
    return parser.parse_args(argv)


# --- building the shop through the API ----------------------------------------------------------


@dataclass
class Account:
    id: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _data(response: httpx.Response, status: int, what: str) -> dict[str, Any]:
    if response.status_code != status:
        raise SystemExit(f"{what}: HTTP {response.status_code}: {response.text[:500]}")
    data: dict[str, Any] = response.json()["data"]
    return data


async def _register(client: httpx.AsyncClient, user_type: str) -> Account:
    name = f"{user_type[:4]}{uuid.uuid4().hex[:10]}"
    body = {
        "username": name,
        "email": f"{name}@example.com",
        "password": PASSWORD,
        "userType": user_type,
    }
    data = _data(await client.post("/v1/auth/register", json=body), 201, "register")
    return Account(data["user"]["id"], data["token"])


async def _bounded(concurrency: int, jobs: list[Any]) -> list[Any]:
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Any) -> Any:
        async with gate:
            return await job

    return await asyncio.gather(*(one(j) for j in jobs))


async def _admin(client: httpx.AsyncClient, url: str) -> Account:
    from ipmarket.identity import create_admin  # noqa: PLC0415 - the app's own code
    from ipmarket.kit.db import Database  # noqa: PLC0415

    name = f"admin{uuid.uuid4().hex[:10]}"
    db = Database(url, pool_size=1)
    try:
        async with db.transaction() as session:
            user = await create_admin(
                session,
                username=name,
                email=f"{name}@example.com",
                password=PASSWORD,
                level="super_admin",
            )
    finally:
        await db.dispose()
    data = _data(
        await client.post(
            "/v1/auth/login", json={"email": f"{name}@example.com", "password": PASSWORD}
        ),
        200,
        "admin login",
    )
    return Account(str(user.id), data["token"])


async def _product(
    client: httpx.AsyncClient, admin: Account, creator: Account, seller: Account, stock: int
) -> str:
    """An approved asset, its terms, an approved license and a published product."""
    asset = _data(
        await client.post(
            "/v1/ip-assets",
            json={
                "title": f"Original work {uuid.uuid4().hex[:6]}",
                "description": "A character with a long history of adventures.",
                "category": "characters",
                "contentType": "image",
            },
            headers=creator.auth,
        ),
        201,
        "asset",
    )
    _data(
        await client.post(f"/v1/ip-assets/{asset['id']}/verify", headers=creator.auth),
        200,
        "asset verification request",
    )
    _data(
        await client.put(
            f"/v1/admin/ip-assets/{asset['id']}/verify",
            json={"decision": "approved"},
            headers=admin.auth,
        ),
        200,
        "asset approval",
    )
    terms = _data(
        await client.post(
            f"/v1/ip-assets/{asset['id']}/licenses",
            json={
                "licenseType": "standard",
                "revenueSharePercentage": SHARE,
                "territory": "WORLDWIDE",
                "duration": "P1Y",
            },
            headers=creator.auth,
        ),
        201,
        "terms",
    )
    application = _data(
        await client.post(
            "/v1/licenses/apply",
            json={
                "ipAssetId": asset["id"],
                "licenseTermsId": terms["id"],
                "applicationData": {"plan": "mugs"},
            },
            headers=seller.auth,
        ),
        201,
        "license application",
    )
    if application["status"] == "pending":
        _data(
            await client.put(f"/v1/licenses/{application['id']}/approve", headers=creator.auth),
            200,
            "license approval",
        )
    product = _data(
        await client.post(
            "/v1/products",
            json={
                "licenseId": application["id"],
                "title": f"Licensed mug {uuid.uuid4().hex[:6]}",
                "description": "A ceramic mug with the licensed character.",
                "category": "merchandise",
                "price": PRICE,
                "inventoryCount": stock,
            },
            headers=seller.auth,
        ),
        201,
        "product",
    )
    _data(
        await client.put(
            f"/v1/products/{product['id']}", json={"status": "active"}, headers=seller.auth
        ),
        200,
        "publication",
    )
    return str(product["id"])


@dataclass
class ShopFixture:
    products: list[str]
    buyers: list[Account]
    seconds: float


async def build_shop(
    client: httpx.AsyncClient, url: str, args: argparse.Namespace, console: Console
) -> ShopFixture:
    began = time.perf_counter()
    admin = await _admin(client, url)
    creators = await _bounded(
        SETUP_CONCURRENCY, [_register(client, "creator") for _ in range(args.products)]
    )
    sellers = await _bounded(
        SETUP_CONCURRENCY,
        [_register(client, "secondary_creator") for _ in range(args.products)],
    )
    buyers = await _bounded(
        SETUP_CONCURRENCY, [_register(client, "buyer") for _ in range(args.buyers)]
    )
    # Verified emails, directly in the database (the API would need the mailbox).
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "UPDATE users SET email_verified_at = now() WHERE email_verified_at IS NULL"
        )
    finally:
        await conn.close()
    products = await _bounded(
        SETUP_CONCURRENCY,
        [_product(client, admin, c, s, args.stock) for c, s in zip(creators, sellers, strict=True)],
    )
    seconds = time.perf_counter() - began
    console.print(
        f"shop: {len(products)} products x {args.stock} units, {len(buyers)} buyers, "
        f"built through the API in {seconds:.1f} s"
    )
    return ShopFixture(products, buyers, seconds)


# --- the race ------------------------------------------------------------------------------


@dataclass
class Outcome:
    result: load.Result = field(default_factory=lambda: load.Result("purchase"))
    sold: int = 0  # first answers 201
    sold_out: int = 0  # 409 sold out / not enough stock
    in_flight: int = 0  # 409: the same key still being processed
    replays: int = 0  # answered from the stored first response
    errors: Counter[str] = field(default_factory=Counter)
    # (buyer id, key) -> transaction ids named by its 201 answers, first or replayed
    tx_by_key: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))


async def race(
    client: httpx.AsyncClient, shop: ShopFixture, args: argparse.Namespace, attempts: int
) -> Outcome:
    rng = random.Random(args.seed)
    # The plan: each slot a new key (a random buyer, a random product) or a retry.
    plan = ["retry" if rng.random() < args.retry_share else "new" for _ in range(attempts)]
    plan[0] = "new"
    slots = iter(plan)
    answered: list[tuple[Account, str, str]] = []  # (buyer, product, key) with an answer
    outcome = Outcome()

    async def send(buyer: Account, product: str, key: str) -> None:
        headers = {**buyer.auth, "Idempotency-Key": key}
        body = {"quantity": 1, "paymentMethod": VISA}
        started = time.perf_counter()
        try:
            response = await client.post(
                f"/v1/products/{product}/purchase", json=body, headers=headers
            )
        except httpx.HTTPError as exc:
            outcome.result.latencies.append(time.perf_counter() - started)
            outcome.result.statuses[0] += 1
            outcome.errors[f"no answer ({type(exc).__name__})"] += 1
            return
        outcome.result.latencies.append(time.perf_counter() - started)
        status = response.status_code
        outcome.result.statuses[status] += 1
        replayed = response.headers.get(REPLAYED_HEADER) == "true"
        if status == 201:
            data = response.json()["data"]
            outcome.tx_by_key[(buyer.id, key)].add(data["id"])
            if data["status"] != "completed":
                outcome.errors[f"201 with status {data['status']}"] += 1
            if replayed:
                outcome.replays += 1
            else:
                outcome.sold += 1
        elif status == 409:
            reason = (response.json().get("error", {}).get("details") or {}).get("reason")
            if reason == "idempotency_key_in_flight":
                outcome.in_flight += 1
            else:
                outcome.sold_out += 1
        else:
            try:
                code = response.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = "?"
            outcome.errors[f"{status} {code}"] += 1
        answered.append((buyer, product, key))

    async def worker() -> None:
        for slot in slots:  # bounded: the plan has `attempts` slots, shared by the workers
            if slot == "retry" and answered:
                await send(*rng.choice(answered))
            else:
                buyer = rng.choice(shop.buyers)
                await send(buyer, rng.choice(shop.products), f"bench-{uuid.uuid4()}")

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    outcome.result.seconds = time.perf_counter() - began
    return outcome


# --- the proof -----------------------------------------------------------------------------


@dataclass
class Audit:
    rows: list[tuple[str, int, int, int]]  # product, stock, sold, left
    problems: list[str]
    completed: int
    ledger_problems: list[str]


async def audit(url: str, shop: ShopFixture, stock: int, outcome: Outcome) -> Audit:
    problems: list[str] = []
    conn = await asyncpg.connect(url)
    try:
        products = await conn.fetch(
            "SELECT id::text, inventory_count, status FROM products WHERE id = ANY($1::uuid[])",
            shop.products,
        )
        sold: dict[str, int] = {
            r[0]: int(r[1])
            for r in await conn.fetch(
                "SELECT product_id::text, COALESCE(sum(quantity), 0) FROM transactions "
                "WHERE transaction_type = 'product_sale' AND status = 'completed' "
                "GROUP BY product_id"
            )
        }
        statuses: dict[str, int] = {
            r[0]: int(r[1])
            for r in await conn.fetch(
                "SELECT status, count(*) FROM transactions "
                "WHERE transaction_type = 'product_sale' GROUP BY status"
            )
        }
        completed_ids = {
            r[0]
            for r in await conn.fetch(
                "SELECT id::text FROM transactions "
                "WHERE transaction_type = 'product_sale' AND status = 'completed'"
            )
        }
        duplicate_ids = await conn.fetchval(
            "SELECT count(*) FROM (SELECT id FROM transactions GROUP BY id HAVING count(*) > 1) d"
        )
        references = (
            await conn.fetch(
                "SELECT count(*) AS n, count(DISTINCT payment_reference) AS distinct_refs, "
                "count(payment_reference) AS with_ref FROM transactions "
                "WHERE transaction_type = 'product_sale' AND status = 'completed'"
            )
        )[0]
        keys_201 = await conn.fetchval(
            "SELECT count(*) FROM idempotency_keys WHERE response_status = 201 "
            "AND path LIKE '/v1/products/%/purchase'"
        )
    finally:
        await conn.close()

    rows = []
    for product in products:
        units = int(sold.get(product["id"], 0))
        left = product["inventory_count"]
        rows.append((product["id"], stock, units, left))
        if units > stock:
            problems.append(f"product {product['id']}: {units} units sold of {stock}: OVERSOLD")
        if left < 0:
            problems.append(f"product {product['id']}: inventory {left} < 0")
        if units + left != stock:
            problems.append(
                f"product {product['id']}: sold {units} + left {left} != initial stock {stock}"
            )
        if left == 0 and product["status"] != "sold_out":
            problems.append(
                f"product {product['id']}: no stock left but status {product['status']}"
            )
    # Exactly one charge per key.
    multi = {k: ids for k, ids in outcome.tx_by_key.items() if len(ids) != 1}
    if multi:
        problems.append(f"{len(multi)} key(s) answered with more than one transaction")
    answered_ids = {i for ids in outcome.tx_by_key.values() for i in ids}
    if answered_ids != completed_ids:
        problems.append(
            f"transactions answered 201 ({len(answered_ids)}) differ from the completed sales "
            f"in the database ({len(completed_ids)})"
        )
    if outcome.sold != len(completed_ids):
        problems.append(
            f"{outcome.sold} first 201 answers but {len(completed_ids)} completed sales"
        )
    if keys_201 != len(completed_ids):
        problems.append(f"{keys_201} keys stored a 201 but {len(completed_ids)} completed sales")
    if duplicate_ids:
        problems.append(f"{duplicate_ids} transaction id(s) stored more than once")
    if references["with_ref"] != references["n"] or references["distinct_refs"] != references["n"]:
        problems.append(
            f"{references['n']} completed sales but {references['distinct_refs']} distinct "
            f"payment references ({references['with_ref']} set): a charge is shared or missing"
        )
    others = {s: n for s, n in statuses.items() if s != "completed"}
    if others:
        problems.append(f"sales not completed: {others}")

    from ipmarket.kit.db import Database  # noqa: PLC0415 - the app's own checks
    from ipmarket.payments import check_ledger  # noqa: PLC0415

    db = Database(url, pool_size=1)
    try:
        async with db.sessionmaker() as session:
            ledger_problems = await check_ledger(session)
    finally:
        await db.dispose()
    return Audit(sorted(rows, key=lambda r: r[0]), problems, len(completed_ids), ledger_problems)


# --- the report ----------------------------------------------------------------------------


def report(
    console: Console,
    args: argparse.Namespace,
    attempts: int,
    outcome: Outcome,
    result: Audit,
) -> None:
    r = outcome.result
    run = Table(title="Run", title_justify="left", show_header=False)
    run.add_column()
    run.add_column()
    run.add_row(
        "shop",
        f"{args.products} products x {args.stock} units (${PRICE}, licensor {SHARE}%), "
        f"{args.buyers} buyers",
    )
    run.add_row(
        "load",
        f"{attempts:,} purchase requests of 1 unit, {args.concurrency} concurrent clients, "
        f"retry share {args.retry_share:g}",
    )
    run.add_row("server", f"uvicorn, {args.workers} worker(s), test payment provider")
    run.add_row(
        "machine",
        f"{platform.machine()}, {os.cpu_count()} CPU(s), Python {platform.python_version()}",
    )
    console.print(run)

    table = Table(title="Purchases under contention", title_justify="left")
    for heading in (
        "attempts", "201 sold", "409 sold out", "409 in flight", "replays", "errors",
        "purchases/s", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms",
    ):  # fmt: skip
        table.add_column(heading, justify="right")
    errors = sum(outcome.errors.values())
    purchases_per_s = outcome.sold / r.seconds if r.seconds else 0.0
    table.add_row(
        f"{r.requests:,}",
        f"{outcome.sold:,}",
        f"{outcome.sold_out:,}",
        f"{outcome.in_flight:,}",
        f"{outcome.replays:,}",
        f"[red]{errors:,}[/red]" if errors else "0",
        f"{purchases_per_s:,.1f}",
        f"{r.throughput:,.1f}",
        f"{r.percentile(50):,.1f}",
        f"{r.percentile(90):,.1f}",
        f"{r.percentile(99):,.1f}",
        f"{r.percentile(100):,.1f}",
    )
    if errors:
        table.caption = "errors: " + ", ".join(f"{k}: {n}" for k, n in outcome.errors.items())
    console.print(table)
    console.print(f"wall time {r.seconds:.2f} s")

    stock_table = Table(title="Stock, from the database", title_justify="left")
    for heading in ("product", "initial", "sold", "left"):
        stock_table.add_column(heading, justify="right" if heading != "product" else "left")
    for product, initial, units, left in result.rows:
        stock_table.add_row(product, str(initial), str(units), str(left))
    total_sold = sum(row[2] for row in result.rows)
    stock_table.add_row("[bold]total[/bold]", f"{args.products * args.stock:,}", f"{total_sold:,}",
                        f"{sum(row[3] for row in result.rows):,}")  # fmt: skip
    console.print(stock_table)


async def run(args: argparse.Namespace, url: str, console: Console) -> int:
    attempts = args.attempts or 3 * args.products * args.stock
    with load.running_server(url, redis_url=None, workers=args.workers, console=console) as server:
        limits = httpx.Limits(
            max_connections=args.concurrency, max_keepalive_connections=args.concurrency
        )
        async with httpx.AsyncClient(
            base_url=server.base_url, limits=limits, timeout=60, trust_env=False
        ) as client:
            with console.status("building the shop through the API"):
                shop = await build_shop(client, url, args, console)
            with console.status(f"{attempts:,} purchases, {args.concurrency} concurrent clients"):
                outcome = await race(client, shop, args, attempts)
    with console.status("checking the database and the ledger"):
        result = await audit(url, shop, args.stock, outcome)
    report(console, args, attempts, outcome, result)

    failed = False
    if result.problems or result.ledger_problems:
        console.print("[bold red]OVERSELL CHECK FAILED[/bold red]")
        for problem in result.problems:
            console.print(f"  - {problem}")
        for problem in result.ledger_problems:
            console.print(f"  - ledger: {problem}")
        failed = True
    else:
        console.print(
            f"[bold green]no oversell[/bold green]: {result.completed:,} units sold, each "
            "product within its stock, inventory never below zero, one charge per key, "
            "check_ledger: no discrepancies"
        )
    if outcome.errors:
        console.print(f"[red]{sum(outcome.errors.values())} request(s) failed[/red]")
        failed = True
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 140)
    seed.check_database_name(args.db)
    url = seed.database_url(args.postgres_url, args.db)
    console.rule(f"Database {args.db}")
    asyncio.run(seed.recreate_database(args.postgres_url, args.db))
    with console.status("applying the migrations (alembic upgrade head)"):
        seed.migrate(url)
    return asyncio.run(run(args, url, console))


if __name__ == "__main__":
    sys.exit(main())
