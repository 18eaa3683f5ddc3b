"""The chain module's periodic job.

- `chain.advance_transactions`, every 15 seconds: every open row of `chain_transactions`
  moves one step (signed, sent, mined, confirmed; see `ledger`), each step committed, so the
  consumers only record intents and never wait on the chain. A node that does not answer
  leaves the rows for the next run.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.chain.ledger import advance, open_transaction_ids
from ipmarket.chain.port import ChainUnavailable
from ipmarket.chain.runtime import chain_policy, current_chain
from ipmarket.kit.periodic import periodic

# Rows moved per run; a larger backlog waits for the next runs.
BATCH = 200


async def advance_open_transactions(session: AsyncSession, *, rounds: int = 1) -> int:
    """Move every open row up to `rounds` steps; returns the number of steps tried."""
    try:
        chain = await current_chain()
    except ChainUnavailable:
        return 0
    if chain is None:
        return 0
    policy = chain_policy()
    steps = 0
    for _ in range(rounds):
        ids = (await open_transaction_ids(session, chain))[:BATCH]
        await session.commit()
        if not ids:
            break
        for tx_id in ids:
            await advance(session, chain, tx_id, policy)
            steps += 1
    return steps


@periodic("chain.advance_transactions", every=timedelta(seconds=15))
async def advance_transactions(session: AsyncSession) -> None:
    # Up to four steps per row a run: an intent can be signed, sent, mined and confirmed in
    # one run when the chain is quick.
    await advance_open_transactions(session, rounds=4)
