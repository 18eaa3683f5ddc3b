"""Catalogue benchmark: seed a realistic catalogue, then measure browse, search and verify
through the HTTP API of the real app.

    .venv/bin/python -m bench.catalogue --help
    make bench BENCH_ARGS="--keep --duration 30"

See bench/README.md for how to read the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: python bench/catalogue.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from bench import load, seed

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _scenarios(value: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in load.SCENARIOS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown scenario(s) {', '.join(unknown) or '(none)'}; "
            f"choose from {', '.join(load.SCENARIOS)}"
        )
    return names


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.catalogue",
        description=(
            "Seed a catalogue of products, IP assets and licenses into its own PostgreSQL "
            "database, start the app with uvicorn on 127.0.0.1, and print the throughput and "
            "latency (p50/p90/p99/max) of browse, search and verification over HTTP."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    db = parser.add_argument_group("database")
    db.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL),
        help="a PostgreSQL URL with the right to create databases (env BENCH_POSTGRES_URL)",
    )
    db.add_argument(
        "--db",
        default="ipmarket_bench",
        help="the bench database; it is DROPPED and recreated unless --keep (its name must "
        "contain 'bench')",
    )
    db.add_argument(
        "--keep",
        action="store_true",
        help="reuse the database seeded by an earlier run instead of recreating it",
    )
    db.add_argument("--seed-only", action="store_true", help="seed, print the counts, and stop")

    size = parser.add_argument_group("catalogue size")
    size.add_argument("--products", type=_positive, default=200_000, help="products")
    size.add_argument("--assets", type=_positive, default=5_000, help="IP assets")
    size.add_argument("--licenses", type=_positive, default=20_000, help="license applications")
    size.add_argument("--users", type=_positive, default=3_000, help="users")
    size.add_argument("--seed", type=int, default=20261127, help="random seed of the data")
    size.add_argument(
        "--jobs",
        type=_positive,
        default=max(2, min(4, os.cpu_count() or 2)),
        help="database connections loading in parallel",
    )

    run = parser.add_argument_group("load")
    run.add_argument(
        "--concurrency", type=_positive, default=16, help="clients with one request in flight"
    )
    run.add_argument(
        "--duration", type=float, default=15.0, help="seconds of measurement per scenario"
    )
    run.add_argument(
        "--requests",
        type=_positive,
        default=None,
        help="stop a scenario after this many requests (or at --duration, whichever is first)",
    )
    run.add_argument("--warmup", type=int, default=50, help="untimed requests before each scenario")
    run.add_argument(
        "--scenarios",
        type=_scenarios,
        default=list(load.SCENARIOS),
        help="comma-separated subset of: " + ", ".join(load.SCENARIOS),
    )
    run.add_argument(
        "--workers", type=_positive, default=1, help="uvicorn worker processes of the server"
    )
    run.add_argument(
        "--redis",
        nargs="?",
        const=DEFAULT_REDIS_URL,
        default=None,
        metavar="URL",
        help=f"give the server REDIS_URL (default when given without URL: {DEFAULT_REDIS_URL}); "
        "without it the cache is in-process",
    )
    run.add_argument(
        "--app",
        default=load.DEFAULT_APP,
        metavar="MODULE:FACTORY",
        help="the app factory uvicorn serves; another one (importable by the server, e.g. "
        "through PYTHONPATH) measures a variant without editing src/",
    )
    run.add_argument("--output", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.duration <= 0:
        parser.error("--duration must be positive")
    return args


def _context_table(args: argparse.Namespace, meta: dict[str, Any]) -> Table:
    table = Table(title="Run", title_justify="left", show_header=False)
    table.add_column()
    table.add_column()
    config = meta.get("config", {})
    table.add_row("catalogue", ", ".join(f"{k} {v:,}" for k, v in config.items() if k != "seed"))
    table.add_row(
        "seeding",
        f"{meta.get('seed_seconds', '?')} s on {meta.get('seeded_at', '?')} "
        "(" + ", ".join(f"{k} {v} s" for k, v in meta.get("phases", {}).items()) + ")",
    )
    table.add_row(
        "load",
        f"concurrency {args.concurrency}, {args.duration:g} s per scenario"
        + (f" (at most {args.requests:,} requests)" if args.requests else "")
        + f", warm-up {args.warmup}",
    )
    table.add_row(
        "server",
        f"uvicorn, {args.workers} worker(s), cache {'redis' if args.redis else 'in-process'}",
    )
    table.add_row(
        "machine",
        f"{platform.machine()}, {os.cpu_count()} CPU(s), Python {platform.python_version()}",
    )
    return table


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Piped output keeps the tables whole instead of wrapping them at 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 120)
    seed.check_database_name(args.db)
    url = seed.database_url(args.postgres_url, args.db)
    config = seed.SeedConfig(
        products=args.products,
        assets=args.assets,
        licenses=args.licenses,
        users=args.users,
        seed=args.seed,
        jobs=args.jobs,
    )

    meta = asyncio.run(seed.seeded_metadata(url)) if args.keep else None
    if args.keep and meta is None:
        console.print(
            f"[red]--keep: database {args.db} does not hold a completed seeding; "
            "run once without --keep[/red]"
        )
        return 1
    if meta is None:
        console.rule(f"Seeding {args.db}")
        asyncio.run(seed.recreate_database(args.postgres_url, args.db))
        with console.status("applying the migrations (alembic upgrade head)"):
            seed.migrate(url)
        report = asyncio.run(seed.seed(url, args.db, config, console))
        console.print(f"[bold green]seeded in {report.seconds:.1f} s[/bold green]")
        for phase, seconds in report.phases.items():
            console.print(f"  {phase:<26} {seconds:6.1f} s")
        meta = asyncio.run(seed.seeded_metadata(url)) or {}
    else:
        revision, head = asyncio.run(seed.database_revision(url)), seed.migration_head()
        if revision != head:
            console.print(
                f"[red]--keep: {args.db} is at migration {revision}, the code at {head}: "
                "run once without --keep to rebuild it[/red]"
            )
            return 1
        console.print(f"reusing {args.db}, seeded on {meta.get('seeded_at')}")
    console.print(asyncio.run(seed.row_counts(url)))
    if args.seed_only:
        return 0

    console.rule("Load")
    vocab = asyncio.run(load.vocabulary(url, codes=60_000))
    load_config = load.LoadConfig(
        concurrency=args.concurrency,
        duration=args.duration,
        requests=args.requests,
        warmup=max(0, args.warmup),
        seed=args.seed,
    )
    with load.running_server(
        url, redis_url=args.redis, workers=args.workers, console=console, factory=args.app
    ) as server:
        results = asyncio.run(
            load.run_scenarios(server, vocab, load_config, args.scenarios, console)
        )
    console.print()
    console.print(_context_table(args, meta))
    console.print(load.results_table(results, title="HTTP API, client-side latency"))
    if args.output:
        args.output.write_text(
            json.dumps(
                {
                    "at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "seeding": meta,
                    "load": {
                        "concurrency": args.concurrency,
                        "duration": args.duration,
                        "requests": args.requests,
                        "workers": args.workers,
                        "cache": "redis" if args.redis else "in-process",
                        "cpus": os.cpu_count(),
                    },
                    "results": [r.as_dict() for r in results],
                },
                indent=2,
            )
            + "\n"
        )
        console.print(f"figures written to {args.output}")
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
