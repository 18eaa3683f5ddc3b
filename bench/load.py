"""Drive the real app over HTTP and measure it.

The app runs in its own process (uvicorn, on 127.0.0.1 and a free port) so the load
generator does not share its interpreter; requests come from an httpx.AsyncClient with
`concurrency` workers, each sending one request at a time (a closed loop: throughput is what
the server sustains at that concurrency, latency is measured around each request).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.table import Table

from bench import words

HOST = "127.0.0.1"
# Variables of the developer's environment that must not leak into the benchmarked server.
SCRUBBED_ENV = (
    "DATABASE_URL",
    "REDIS_URL",
    "RABBITMQ_URL",
    "SMTP_URL",
    "IPMARKET_ENV",
    "PUBLIC_BASE_URL",
    "VAR_DIR",
    "RELAY_IN_PROCESS",
)
UNLIMITED = str(10**9)
DEFAULT_APP = "ipmarket.app:create_app"


# --- the server ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _jwt_private_key() -> str:
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@dataclass(frozen=True)
class Server:
    base_url: str
    workers: int
    cache: str


@contextmanager
def running_server(
    database_url: str,
    *,
    redis_url: str | None,
    workers: int,
    console: Console,
    factory: str = DEFAULT_APP,
) -> Iterator[Server]:
    """uvicorn serving the app factory in a child process, stopped on exit."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="ipmarket-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
        env.update(
            {
                "DATABASE_URL": database_url,
                "RELAY_IN_PROCESS": "false",
                "RATE_LIMIT_USER_PER_HOUR": UNLIMITED,
                "RATE_LIMIT_AUTH_PER_MINUTE": UNLIMITED,
                "JWT_PRIVATE_KEY": _jwt_private_key(),
                "VAR_DIR": str(Path(tmp) / "var"),
                "PUBLIC_BASE_URL": f"http://{HOST}:{port}",
                "LOG_LEVEL": "WARNING",
            }
        )
        if redis_url:
            env["REDIS_URL"] = redis_url
        command = [
            sys.executable, "-m", "uvicorn", factory, "--factory",
            "--host", HOST, "--port", str(port), "--workers", str(workers),
            "--no-access-log", "--log-level", "warning", "--no-server-header",
        ]  # fmt: skip
        log_path = Path(tmp) / "server.log"
        with log_path.open("wb") as log:
            # The temporary directory as working directory: no stray .env is read.
            process = subprocess.Popen(command, env=env, cwd=tmp, stdout=log, stderr=log)
            try:
                base_url = f"http://{HOST}:{port}"
                _wait_ready(process, base_url, log_path)
                console.print(
                    f"[dim]server: uvicorn pid {process.pid} on {base_url}, "
                    f"{workers} worker(s), cache {'redis' if redis_url else 'in-process'}[/dim]"
                )
                yield Server(base_url, workers, "redis" if redis_url else "in-process")
            finally:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


def _wait_ready(process: subprocess.Popen[bytes], base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=base_url, timeout=2, trust_env=False) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"the server exited at start:\n{log_path.read_text()[-4000:]}")
            try:
                if client.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise SystemExit(f"the server did not answer within 60 s:\n{log_path.read_text()[-4000:]}")


# --- what to ask -----------------------------------------------------------------------------


@dataclass
class Vocabulary:
    """What the request generators draw from: facts of the seeded database."""

    categories: list[str]
    asset_categories: list[str]
    codes: list[str]  # verification codes of published products, in random order
    product_ids: list[str]  # active products, in random order


async def vocabulary(database_url: str, *, codes: int) -> Vocabulary:
    conn = await asyncpg.connect(database_url)
    try:
        categories = [
            r[0] for r in await conn.fetch("SELECT DISTINCT category FROM products ORDER BY 1")
        ]
        asset_categories = [
            r[0] for r in await conn.fetch("SELECT DISTINCT category FROM ip_assets ORDER BY 1")
        ]
        rows = await conn.fetch(
            "SELECT verification_code FROM authorization_chain "
            "WHERE verification_code IS NOT NULL ORDER BY random() LIMIT $1",
            codes,
        )
        products = await conn.fetch(
            "SELECT id::text FROM products WHERE status = 'active' AND deleted_at IS NULL "
            "ORDER BY random() LIMIT $1",
            codes,
        )
    finally:
        await conn.close()
    if not categories or not rows:
        raise SystemExit("the bench database has no products: seed it (run without --keep)")
    return Vocabulary(categories, asset_categories, [r[0] for r in rows], [r[0] for r in products])


Request = tuple[str, dict[str, str]]
PRICE_BANDS = ((None, "15"), ("10", "30"), ("20", "60"), ("50", "150"), ("100", None))


def browse(rng: random.Random, vocab: Vocabulary) -> Request:
    """A shopper paging through the catalogue, sometimes by category or price band."""
    params: dict[str, str] = {}
    if rng.random() < 0.6:
        params["category"] = rng.choice(vocab.categories)
    if rng.random() < 0.35:
        low, high = rng.choice(PRICE_BANDS)
        if low:
            params["minPrice"] = low
        if high:
            params["maxPrice"] = high
    params["sort"] = rng.choice(("newest", "newest", "price", "-price"))
    # Most look at the first pages; a few go deep.
    params["page"] = str(min(50, 1 + int(rng.expovariate(0.4))))
    return "/v1/products", params


def search(rng: random.Random, _: Vocabulary) -> Request:
    """Full-text search with the default relevance order; one in seven has a typo."""
    params = {"q": words.search_query(rng)}
    if rng.random() < 0.15:
        params["page"] = str(rng.randint(2, 4))
    return "/v1/products", params


def asset_search(rng: random.Random, vocab: Vocabulary) -> Request:
    params = {"q": words.search_query(rng)}
    if rng.random() < 0.2:
        params["category"] = rng.choice(vocab.asset_categories)
    return "/v1/ip-assets", params


# Pages beside the API calls that fetch the same data: the same random sequence is drawn
# for both of a pair, so each page and its API twin ask for the same rows.
PAGE_PAIRS: dict[str, tuple[str, str]] = {
    # pair: (page path template, API path template); {code} and {id} are filled in
    "home": ("/", "/v1/products"),
    "search": ("/products", "/v1/products"),
    "product": ("/products/{id}", "/v1/products/{id}"),
    "verify": ("/verify/{code}", "/v1/verify/{code}"),
}


def page_pair_request(kind: str, rng: random.Random, vocab: Vocabulary, *, page: bool) -> Request:
    page_path, api_path = PAGE_PAIRS[kind]
    path = page_path if page else api_path
    if kind == "home":
        return path, ({} if page else {"sort": "newest", "limit": "12"})
    if kind == "search":
        params = {"q": words.search_query(rng)}
        if rng.random() < 0.3:
            params["category"] = rng.choice(vocab.categories)
        return path, params
    if kind == "product":
        return path.format(id=rng.choice(vocab.product_ids)), {}
    return path.format(code=rng.choice(vocab.codes[:1_000])), {}


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Result:
    scenario: str
    latencies: list[float] = field(default_factory=list)  # seconds
    statuses: Counter[int] = field(default_factory=Counter)  # 0: no HTTP answer
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile, in milliseconds."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(p / 100 * len(ordered)))
        return ordered[rank - 1] * 1000

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "requests": self.requests,
            "errors": self.errors,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "seconds": round(self.seconds, 3),
            "throughput_rps": round(self.throughput, 1),
            "p50_ms": round(self.percentile(50), 2),
            "p90_ms": round(self.percentile(90), 2),
            "p99_ms": round(self.percentile(99), 2),
            "max_ms": round(self.percentile(100), 2),
        }


@dataclass(frozen=True)
class LoadConfig:
    concurrency: int = 16
    duration: float = 15.0
    requests: int | None = None  # per scenario, in addition to the duration
    warmup: int = 50
    seed: int = 1


async def drive(
    client: httpx.AsyncClient,
    name: str,
    next_request: Callable[[], Request | None],
    config: LoadConfig,
) -> Result:
    """`config.concurrency` workers send requests until the duration is over, the request
    budget is spent or `next_request` has nothing more to ask."""
    result = Result(name)
    budget = config.requests or 10**9
    sent = 0
    deadline = time.perf_counter() + config.duration

    async def worker() -> None:
        nonlocal sent
        while sent < budget and time.perf_counter() < deadline:
            request = next_request()
            if request is None:
                return
            sent += 1
            path, params = request
            started = time.perf_counter()
            try:
                response = await client.get(path, params=params)
                status = response.status_code
            except httpx.HTTPError:
                status = 0
            result.latencies.append(time.perf_counter() - started)
            result.statuses[status] += 1

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(config.concurrency)))
    result.seconds = time.perf_counter() - began
    return result


async def warm_up(
    client: httpx.AsyncClient,
    next_request: Callable[[], Request | None],
    count: int,
    concurrency: int,
) -> None:
    """Requests whose timing is not kept: connections, plan caches, database buffers."""
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            request = next_request()
            if request is None:
                return
            with contextlib.suppress(httpx.HTTPError):
                await client.get(request[0], params=request[1])

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, count)))))


SCENARIOS = (
    "browse", "search", "verify-cold", "verify-warm", "ip-assets",
    *(f"{kind}-{side}" for kind in PAGE_PAIRS for side in ("page", "api")),
)  # fmt: skip
# `make bench-pages`: each page beside the API call for the same data.
PAGE_SCENARIOS = tuple(f"{kind}-{side}" for kind in PAGE_PAIRS for side in ("page", "api"))


async def run_scenarios(
    server: Server,
    vocab: Vocabulary,
    config: LoadConfig,
    scenarios: list[str],
    console: Console,
) -> list[Result]:
    rng = random.Random(config.seed)
    limits = httpx.Limits(
        max_connections=config.concurrency, max_keepalive_connections=config.concurrency
    )
    results: list[Result] = []
    # Codes for the cold run are each asked once; the warm run re-asks a small hot set.
    hot_set_size = min(1_000, max(1, len(vocab.codes) // 4))
    hot = vocab.codes[:hot_set_size]
    cold = iter(vocab.codes[hot_set_size:])

    def by_code(code: str) -> Request:
        return f"/v1/verify/{code}", {}

    def cold_code() -> Request | None:
        code = next(cold, None)
        return None if code is None else by_code(code)

    def generator(name: str) -> Callable[[], Request | None]:
        kind, _, side = name.rpartition("-")
        if kind in PAGE_PAIRS and side in ("page", "api"):
            paired = random.Random(f"{config.seed}:{kind}")  # the same draws for both sides
            return lambda: page_pair_request(kind, paired, vocab, page=side == "page")
        if name == "browse":
            return lambda: browse(rng, vocab)
        if name == "search":
            return lambda: search(rng, vocab)
        if name == "ip-assets":
            return lambda: asset_search(rng, vocab)
        if name == "verify-cold":
            return cold_code
        return lambda: by_code(rng.choice(hot))

    async with httpx.AsyncClient(
        base_url=server.base_url, limits=limits, timeout=60, trust_env=False
    ) as client:
        for name in scenarios:
            next_request = generator(name)
            with console.status(f"[bold]{name}[/bold]: warming up"):
                if name == "verify-warm":
                    # Every answer of the hot set in the cache (in each worker's, without
                    # Redis, as far as the connection spread allows).
                    for _ in range(1 if server.cache == "redis" else 3 * server.workers):
                        await asyncio.gather(*(client.get(by_code(c)[0]) for c in hot))
                else:
                    await warm_up(client, next_request, config.warmup, config.concurrency)
            with console.status(
                f"[bold]{name}[/bold]: {config.concurrency} concurrent clients for "
                f"{config.duration:g} s"
                + (f" or {config.requests} requests" if config.requests else "")
            ):
                result = await drive(client, name, next_request, config)
            results.append(result)
            console.print(
                f"  {name:<12} {result.requests:>7,} requests  {result.throughput:>8.1f} req/s  "
                f"p50 {result.percentile(50):7.1f} ms  p99 {result.percentile(99):7.1f} ms"
            )
    return results


def results_table(results: list[Result], *, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("scenario", no_wrap=True, min_width=11)
    for heading in ("requests", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms"):
        table.add_column(heading, justify="right")
    for r in results:
        errors = f"[red]{r.errors:,}[/red]" if r.errors else "0"
        table.add_row(
            r.scenario,
            f"{r.requests:,}",
            errors,
            f"{r.throughput:,.1f}",
            f"{r.percentile(50):,.1f}",
            f"{r.percentile(90):,.1f}",
            f"{r.percentile(99):,.1f}",
            f"{r.percentile(100):,.1f}",
        )
    failing = [r for r in results if r.errors]
    if failing:
        table.caption = "non-2xx: " + "; ".join(
            f"{r.scenario} "
            + ", ".join(f"{s or 'no answer'}: {n}" for s, n in r.statuses.items() if s != 200)
            for r in failing
        )
    return table
