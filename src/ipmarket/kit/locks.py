"""Row locks: the house order, and the ways a row is locked.

Every module gathers the row locks it takes in its own `locks.py`, so the order below can
be checked by reading those files. Transactions that lock rows of several tables take them
in this order, and rows of one table in primary-key order (ARCHITECTURE.md §4.9):

1. license applications (a decision on a license, an expiry)
2. IP assets (the asset whose rights change, then the derivatives made under a license)
3. license terms
4. authorization-chain records
5. products
6. payments' rows (transactions, then their refunds; payouts), see `ipmarket.payments`

A row that other rows reference by foreign key is locked `FOR NO KEY UPDATE` unless its key
may change (ours never do): an insert of a referencing row takes `KEY SHARE` on it, which
`FOR UPDATE` would block, so a transaction holding the parent and one inserting a child
would wait on each other in the opposite order (a deadlock `FOR NO KEY UPDATE` avoids).

A row a decision rests on but does not change (the licenses a new product is made under) is
held `FOR SHARE`: a writer of the row waits for the decision, and a decision that comes
second reads the row as the writer left it.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select

S = TypeVar("S", bound=Select[*tuple[Any, ...]])


def for_no_key_update(stmt: S, *, skip_locked: bool = False) -> S:
    """Lock the selected rows against other writers while letting other transactions
    insert rows that reference them; re-read rows the session already holds. With
    `skip_locked`, rows another transaction holds are left out instead of waited for."""
    return stmt.with_for_update(key_share=True, skip_locked=skip_locked).execution_options(
        populate_existing=True
    )


def for_share(stmt: S) -> S:
    """Hold the selected rows against writers (an update, `FOR NO KEY UPDATE`) until the
    transaction ends, other readers holding them too; re-read rows the session holds."""
    return stmt.with_for_update(read=True).execution_options(populate_existing=True)
