"""Proof times of the transparency log at 1M and 10M entries, beside a baseline that
rebuilds the tree from its leaves (what storing the nodes avoids).

The log is bulk-loaded in SQL (generate_series and PostgreSQL's sha256: leaves, then each
level of perfect-subtree nodes from the one below) into its own database, grown size by size
(1M, then on to 10M), and the head row set from the stored nodes. Each size then answers
random inclusion proofs (a random leaf, tree size N) and consistency proofs (a random first
size, second N) through `ipmarket.transparency` exactly as the API does, each in its own
session, and a sample of them is checked against the root.

    .venv/bin/python -m bench.transparency                      # 1M and 10M (load ~10 min)
    .venv/bin/python -m bench.transparency --sizes 100000,1000000 --proofs 500
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: python bench/transparency.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from bench import seed
from ipmarket.kit.db import Database
from ipmarket.transparency import consistency_proof, inclusion_proof, merkle, root_at

CHUNK = 1_000_000


async def _load_leaves(conn: asyncpg.Connection, start: int, end: int, console: Console) -> None:
    """Entries and leaf nodes [start, end), in chunks, with progress."""
    for lo in range(start, end, CHUNK):
        hi = min(lo + CHUNK, end)
        began = time.perf_counter()
        await conn.execute(
            """
            INSERT INTO transparency_entries
                (leaf_index, leaf_hash, data, event_id, kind, subjects, created_at)
            SELECT i, sha256('\\x00'::bytea || d), d, gen_random_uuid(), 'bench', '{}', now()
            FROM (SELECT i, convert_to('{"bench":' || i || ',"v":1}', 'UTF8') AS d
                  FROM generate_series($1::bigint, $2::bigint - 1) AS i) AS s
            """,
            lo,
            hi,
        )
        await conn.execute(
            """
            INSERT INTO transparency_nodes (level, idx, hash)
            SELECT 0, leaf_index, leaf_hash FROM transparency_entries
            WHERE leaf_index >= $1 AND leaf_index < $2
            """,
            lo,
            hi,
        )
        console.print(f"  leaves {lo:>10,} .. {hi:>10,}  {time.perf_counter() - began:6.1f} s")


async def _build_levels(conn: asyncpg.Connection, start: int, end: int, console: Console) -> None:
    """The perfect nodes completed by leaves [start, end), level by level."""
    level = 1
    while (end >> level) > 0:
        lo, hi = start >> level, end >> level  # parents whose both children now exist
        if hi > lo:
            began = time.perf_counter()
            await conn.execute(
                """
                INSERT INTO transparency_nodes (level, idx, hash)
                SELECT $1::smallint, a.idx / 2, sha256('\\x01'::bytea || a.hash || b.hash)
                FROM transparency_nodes a
                JOIN transparency_nodes b ON b.level = a.level AND b.idx = a.idx + 1
                WHERE a.level = $1::smallint - 1 AND a.idx >= $2::bigint * 2
                    AND a.idx < $3::bigint * 2 AND a.idx % 2 = 0
                ON CONFLICT DO NOTHING
                """,
                level,
                lo,
                hi,
            )
            if hi - lo > 100_000:
                seconds = time.perf_counter() - began
                console.print(f"  level {level:>2}: {hi - lo:>10,} nodes  {seconds:6.1f} s")
        level += 1


async def _set_head(conn: asyncpg.Connection, size: int) -> None:
    """The head row of a tree of `size` leaves: its frontier from the stored nodes."""
    frontier, offset = [], 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size & (1 << level):
            row = await conn.fetchval(
                "SELECT hash FROM transparency_nodes WHERE level = $1 AND idx = $2",
                level,
                offset >> level,
            )
            frontier.append(bytes(row))
            offset += 1 << level
    await conn.execute(
        """
        INSERT INTO transparency_head (id, tree_size, frontier, updated_at)
        VALUES (1, $1, $2, now())
        ON CONFLICT (id) DO UPDATE SET tree_size = EXCLUDED.tree_size,
            frontier = EXCLUDED.frontier, updated_at = now()
        """,
        size,
        b"".join(frontier),
    )


def _stats(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return statistics.median(ordered), p95, statistics.fmean(ordered)


async def _measure(
    db: Database, size: int, proofs: int, rng: random.Random
) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"inclusion": [], "consistency": []}
    async with db.sessionmaker() as session:
        root = await root_at(session, size)
    for n in range(proofs):
        index = rng.randrange(size)
        first = rng.randint(1, size - 1) if size > 1 else 1
        async with db.sessionmaker() as session:
            began = time.perf_counter()
            hashes = await inclusion_proof(session, index, size)
            times["inclusion"].append(time.perf_counter() - began)
            began = time.perf_counter()
            await consistency_proof(session, first, size)
            times["consistency"].append(time.perf_counter() - began)
            if n < 20:  # a sample is checked: fast and right
                leaf_hash = (
                    await session.execute(
                        text("SELECT leaf_hash FROM transparency_entries WHERE leaf_index = :i"),
                        {"i": index},
                    )
                ).scalar_one()
                assert merkle.verify_inclusion(index, size, bytes(leaf_hash), hashes, root)
    return times


async def _baseline(conn: asyncpg.Connection, size: int, rng: random.Random) -> float:
    """Read every leaf hash and rebuild the tree in memory for one inclusion proof."""
    began = time.perf_counter()
    rows = await conn.fetch(
        "SELECT leaf_hash FROM transparency_entries WHERE leaf_index < $1 ORDER BY leaf_index",
        size,
    )
    nodes = merkle.all_nodes([bytes(r[0]) for r in rows])
    merkle.hashes_of(merkle.inclusion_ranges(rng.randrange(size), size), nodes)
    return time.perf_counter() - began


async def run(args: argparse.Namespace, console: Console) -> None:
    url = seed.database_url(args.postgres_url, args.db)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    conn = await asyncpg.connect(url)
    db = Database(url, pool_size=2)
    rng = random.Random(9162)
    table = Table(title="Transparency log proofs (ms per proof, DB round trips included)")
    for heading in ("entries", "load s", "inclusion p50", "p95", "consistency p50", "p95",
                    "baseline: rebuild from leaves"):  # fmt: skip
        table.add_column(heading, justify="right")
    loaded = 0
    try:
        for size in sizes:
            console.rule(f"{size:,} entries")
            began = time.perf_counter()
            await _load_leaves(conn, loaded, size, console)
            await _build_levels(conn, loaded, size, console)
            await _set_head(conn, size)
            await conn.execute("ANALYZE transparency_nodes; ANALYZE transparency_entries")
            load = time.perf_counter() - began
            loaded = size
            times = await _measure(db, size, args.proofs, rng)
            inc, con = _stats(times["inclusion"]), _stats(times["consistency"])
            base = (
                f"{await _baseline(conn, size, rng) * 1000:,.0f} ms"
                if size <= args.baseline_max
                else f"not run (> {args.baseline_max:,})"
            )
            table.add_row(
                f"{size:,}",
                f"{load:.0f}",
                f"{inc[0] * 1000:.2f}",
                f"{inc[1] * 1000:.2f}",
                f"{con[0] * 1000:.2f}",
                f"{con[1] * 1000:.2f}",
                base,
            )
            console.print(table)
    finally:
        await conn.close()
        await db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="comma-separated sizes")
    parser.add_argument("--proofs", type=int, default=300, help="proofs of each kind per size")
    parser.add_argument("--db", default="ipmarket_bench_transparency")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument(
        "--baseline-max", type=int, default=1_000_000, help="largest size to run the baseline at"
    )
    args = parser.parse_args(argv)
    console = Console()
    seed.check_database_name(args.db)
    asyncio.run(seed.recreate_database(args.postgres_url, args.db))
    with console.status("applying the migrations (alembic upgrade head)"):
        seed.migrate(seed.database_url(args.postgres_url, args.db))  # runs its own event loop
    asyncio.run(run(args, console))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
