"""EXPLAIN ANALYZE the catalogue queries exactly as the app sends them.

The product and IP asset repositories are run against the bench database with the SQL they
emit captured; each captured statement is then explained with its own parameters, so the
plans shown are those of the current source, not of a hand-copied query.

    .venv/bin/python -m bench.explain              # all cases, plans and timings
    .venv/bin/python -m bench.explain --summary    # timings only
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: python bench/explain.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from bench.seed import database_url
from ipmarket.ip_assets.repository import AssetFilters, IPAssetRepository
from ipmarket.products.repository import ProductFilters, ProductRepository


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # products | assets
    filters: Any
    sort: str
    page: int = 1


CASES = (
    Case("browse: all, newest", "products", ProductFilters(), "newest"),
    Case("browse: category, newest, page 5", "products", ProductFilters(category="apparel"),
         "newest", page=5),
    Case("browse: category + price band, price", "products",
         ProductFilters(category="stickers", min_price=Decimal(10), max_price=Decimal(30)),
         "price"),
    Case("browse: all, -price", "products", ProductFilters(), "-price"),
    Case("search: 'dragon', relevance", "products", ProductFilters(q="dragon"), "relevance"),
    Case("search: 'lighthouse mug', relevance", "products",
         ProductFilters(q="lighthouse mug"), "relevance"),
    Case("search: typo 'ligthouse', relevance", "products", ProductFilters(q="ligthouse"),
         "relevance"),
    Case("ip-assets: 'fox', relevance", "assets", AssetFilters(q="fox"), "relevance"),
)  # fmt: skip


async def explain(url: str, *, summary: bool, console: Console) -> None:
    engine = create_async_engine(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    captured: list[tuple[str, Any]] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    timings = Table(title="Catalogue queries (EXPLAIN ANALYZE)", title_justify="left")
    for heading in ("case", "query", "plan ms", "exec ms", "top node"):
        timings.add_column(heading, justify="right" if "ms" in heading else "left")
    try:
        for case in CASES:
            captured.clear()
            async with AsyncSession(engine) as session:
                offset, limit = (case.page - 1) * 20, 20
                if case.kind == "products":
                    await ProductRepository(session).search(
                        case.filters, sort=case.sort, offset=offset, limit=limit,
                        now=datetime.now(UTC),
                    )  # fmt: skip
                else:
                    await IPAssetRepository(session).search(
                        case.filters, sort=case.sort, offset=offset, limit=limit
                    )
                statements = list(captured)
                raw = (await (await session.connection()).get_raw_connection()).driver_connection
                assert raw is not None
                for number, (statement, parameters) in enumerate(statements, 1):
                    rows = await raw.fetch(
                        "EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) " + statement, *parameters
                    )
                    plan = [r[0] for r in rows]
                    planning = next((p for p in plan if p.startswith("Planning Time")), "")
                    execution = next((p for p in plan if p.startswith("Execution Time")), "")
                    label = "count" if statement.lstrip().startswith("SELECT count") else "page"
                    timings.add_row(
                        case.name if number == 1 else "",
                        label,
                        planning.split(":")[1].strip().removesuffix(" ms") if planning else "",
                        execution.split(":")[1].strip().removesuffix(" ms") if execution else "",
                        plan[0].split("  (")[0].strip(),
                    )
                    if not summary:
                        console.rule(f"{case.name}: {label}")
                        console.print(statement, markup=False, highlight=False, soft_wrap=True)
                        console.print(f"parameters: {parameters}", markup=False)
                        console.print(
                            "\n".join(plan), markup=False, highlight=False, soft_wrap=True
                        )
                await session.rollback()
    finally:
        await engine.dispose()
    console.print(timings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.explain",
        description="EXPLAIN ANALYZE the catalogue's list and search queries, as the app's "
        "repositories build them, against the seeded bench database.",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a PostgreSQL URL of the server (env BENCH_POSTGRES_URL)",
    )
    parser.add_argument("--db", default="ipmarket_bench", help="the seeded bench database")
    parser.add_argument("--summary", action="store_true", help="timings only, no plans")
    args = parser.parse_args(argv)
    url = database_url(args.postgres_url, args.db)
    console = Console(width=None if sys.stdout.isatty() else 120)
    asyncio.run(explain(url, summary=args.summary, console=console))
    return 0


if __name__ == "__main__":
    sys.exit(main())
