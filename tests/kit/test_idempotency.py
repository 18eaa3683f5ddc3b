"""The idempotency-key store under work done in one transaction (`run_in_transaction`, as
licensing's apply uses it): one run per key, replays, a mismatch refused, a concurrent
request waiting for the first, errors that free the key, keys forgotten after their
retention. (`run`, for flows that commit between steps, is tested through payments.)"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import select

from ipmarket.kit.clock import clock, utcnow
from ipmarket.kit.db import Database, commit
from ipmarket.kit.errors import Conflict, ValidationFailed
from ipmarket.kit.idempotency import (
    REPLAYED_HEADER,
    RETENTION,
    IdempotencyKey,
    IdempotentRequest,
)
from tests.support import register

PATH = "/v1/things"


class Made(BaseModel):
    id: str
    note: str


Work = Callable[[], Awaitable[BaseModel]]


class Counter:
    """Work that makes a new `Made` each time it runs, and counts its runs."""

    def __init__(self) -> None:
        self.runs = 0

    async def __call__(self) -> Made:
        self.runs += 1
        return Made(id=str(uuid.uuid4()), note=f"run {self.runs}")


async def serve(
    db: Database,
    user_id: uuid.UUID,
    work: Work,
    *,
    key: str = "k-1",
    body: dict[str, Any] | None = None,
    replay: Callable[[dict[str, Any]], Awaitable[BaseModel]] | None = None,
) -> Response:
    """One request under `key`, its transaction committed at the edge as a route's is."""
    async with db.transaction() as session:
        request = IdempotentRequest(
            session, key=key, method="POST", path=PATH, body=json.dumps(body or {}).encode()
        )
        return await request.run_in_transaction(user_id, work, status_code=201, replay=replay)


def payload(response: Response) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(bytes(response.body))
    return data


@pytest.fixture
async def user_id(client: httpx.AsyncClient) -> uuid.UUID:
    return (await register(client, "buyer")).id


async def test_the_same_request_runs_once_and_replays_its_answer(
    db: Database, user_id: uuid.UUID
) -> None:
    work = Counter()
    # when the same request is sent twice under one key
    first = await serve(db, user_id, work, body={"a": 1})
    again = await serve(db, user_id, work, body={"a": 1})
    # then the work ran once, and the second answer is the first, marked as a replay
    assert work.runs == 1
    assert (first.status_code, again.status_code) == (201, 201)
    assert payload(again) == payload(first)
    assert again.headers[REPLAYED_HEADER] == "true" and REPLAYED_HEADER not in first.headers


async def test_a_replay_may_render_what_the_first_answer_named_as_it_now_stands(
    db: Database, user_id: uuid.UUID
) -> None:
    first = await serve(db, user_id, Counter())

    async def now(stored: dict[str, Any]) -> Made:
        return Made(id=stored["id"], note="as it now stands")

    again = await serve(db, user_id, Counter(), replay=now)
    assert payload(again) == {"id": payload(first)["id"], "note": "as it now stands"}
    assert again.headers[REPLAYED_HEADER] == "true"


async def test_another_request_under_the_key_is_refused(
    client: httpx.AsyncClient, db: Database, user_id: uuid.UUID
) -> None:
    work = Counter()
    await serve(db, user_id, work, body={"a": 1})
    # when the key comes again with another body, then it is refused and nothing runs
    with pytest.raises(ValidationFailed) as refused:
        await serve(db, user_id, work, body={"a": 2})
    assert refused.value.details["reason"] == "idempotency_key_reused"
    assert work.runs == 1
    # while another user's keys are their own
    other = (await register(client, "buyer")).id
    await serve(db, other, work, body={"a": 2})
    assert work.runs == 2


async def test_a_concurrent_request_under_the_key_waits_for_the_first_and_replays_it(
    db: Database, user_id: uuid.UUID
) -> None:
    started, finish = asyncio.Event(), asyncio.Event()
    work = Counter()

    async def slow() -> Made:
        started.set()
        await finish.wait()
        return await work()

    # given a first request under the key, still running
    first = asyncio.create_task(serve(db, user_id, slow))
    await started.wait()
    # when a second request under the key comes meanwhile
    second = asyncio.create_task(serve(db, user_id, work))
    await asyncio.sleep(0.3)
    # then it waits for the first to end (rather than run, or be refused)...
    assert not second.done()
    finish.set()
    # ...and answers with the first's answer, the work having run once
    answers = await asyncio.gather(first, second)
    assert work.runs == 1
    assert payload(answers[1]) == payload(answers[0])
    assert answers[1].headers[REPLAYED_HEADER] == "true"


async def test_an_error_frees_the_key_for_a_retry(db: Database, user_id: uuid.UUID) -> None:
    async def refused() -> Made:
        raise Conflict("Not now")

    # when the work fails, its transaction (the key's claim with it) is rolled back
    with pytest.raises(Conflict):
        await serve(db, user_id, refused)
    async with db.sessionmaker() as session:
        assert (await session.execute(select(IdempotencyKey))).first() is None
    # so a retry under the key runs again
    work = Counter()
    retried = await serve(db, user_id, work)
    assert work.runs == 1 and REPLAYED_HEADER not in retried.headers


async def test_a_key_is_forgotten_after_its_retention_even_before_the_purge(
    db: Database, user_id: uuid.UUID
) -> None:
    clock.freeze(utcnow())
    work = Counter()
    first = await serve(db, user_id, work, body={"a": 1})
    # within the retention, the key answers for its request
    clock.advance(RETENTION - timedelta(minutes=1))
    assert payload(await serve(db, user_id, work, body={"a": 1})) == payload(first)
    assert work.runs == 1
    # after it, the key (still stored) names a new request, even another one
    clock.advance(timedelta(minutes=2))
    fresh = await serve(db, user_id, work, body={"a": 2})
    assert work.runs == 2 and REPLAYED_HEADER not in fresh.headers
    async with db.sessionmaker() as session:
        [row] = (await session.execute(select(IdempotencyKey))).scalars()
    assert row.state == "completed" and row.response_body == payload(fresh)
    assert row.created_at == utcnow()


async def test_the_edge_commits_the_answer_with_the_work(db: Database, user_id: uuid.UUID) -> None:
    """The key is recorded in the request's transaction: until it commits, nobody sees it."""
    async with db.sessionmaker() as session:
        request = IdempotentRequest(session, key="k-2", method="POST", path=PATH, body=b"{}")
        await request.run_in_transaction(user_id, Counter(), status_code=201)
        async with db.sessionmaker() as elsewhere:
            assert (await elsewhere.execute(select(IdempotencyKey))).first() is None
        await commit(session)
    async with db.sessionmaker() as elsewhere:
        [row] = (await elsewhere.execute(select(IdempotencyKey))).scalars()
    assert (row.key, row.state, row.response_status) == ("k-2", "completed", 201)
