"""RFC 9162 §2.1 Merkle tree hashing, proofs and their verification. Pure: no I/O.

The tree over leaves D[0:n] is the RFC's MTH. Every subtree a proof names is a range
[start, end) of leaves that is a left-aligned part of a perfect subtree, so its hash is the
fold, from the right, of the perfect subtrees it is made of (largest first). Stored trees
keep only perfect subtrees (`NodeId` = level, index: leaves [index·2^level, (index+1)·2^level)),
so a proof is: the ranges (`inclusion_ranges`, `consistency_ranges`), the perfect nodes they
need (`nodes_of`), one read of those, and the folds (`range_hash`). O(log n) nodes per proof.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()
HASH_SIZE = 32

NodeId = tuple[int, int]  # (level, index)
Range = tuple[int, int]  # leaves [start, end)


class ProofError(ValueError):
    """A proof was asked for sizes or indices that do not describe one."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_ranges(start: int, end: int) -> list[Range]:
    """The perfect subtrees [start, end) is made of, left to right (largest first)."""
    out: list[Range] = []
    while start < end:
        size = end - start
        block = 1 << (size.bit_length() - 1)
        # a block must also be aligned on its own size
        while start % block:
            block >>= 1
        out.append((start, start + block))
        start += block
    return out


def node_of(block: Range) -> NodeId:
    start, end = block
    level = (end - start).bit_length() - 1
    return (level, start >> level)


def nodes_of(ranges: Iterable[Range]) -> list[NodeId]:
    """Every perfect node the hashes of `ranges` need, each once."""
    seen: dict[NodeId, None] = {}
    for start, end in ranges:
        for block in perfect_ranges(start, end):
            seen[node_of(block)] = None
    return list(seen)


def range_hash(rng: Range, nodes: Mapping[NodeId, bytes]) -> bytes:
    """MTH of the leaves [start, end), from the perfect nodes it consists of."""
    start, end = rng
    if start == end:
        return EMPTY_ROOT
    blocks = [nodes[node_of(b)] for b in perfect_ranges(start, end)]
    acc = blocks[-1]
    for h in reversed(blocks[:-1]):
        acc = node_hash(h, acc)
    return acc


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """RFC 9162 §2.1.3.1 PATH(index, D[0:size]) as leaf ranges, from the leaf upwards."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    out: list[Range] = []
    start, end, m = 0, size, index
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start, m = start + k, m - k
    out.reverse()
    return out


def consistency_ranges(first: int, second: int) -> list[Range]:
    """RFC 9162 §2.1.4.1 PROOF(first, D[0:second]) as leaf ranges, bottom first."""
    if not 0 < first <= second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    if first == second:
        return []
    out: list[Range] = []
    start, end, m, whole = 0, second, first, True
    while True:
        n = end - start
        if m == n:
            if not whole:
                out.append((start, end))
            break
        k = _split(n)
        if m <= k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start, m, whole = start + k, m - k, False
    out.reverse()
    return out


def hashes_of(ranges: Sequence[Range], nodes: Mapping[NodeId, bytes]) -> list[bytes]:
    return [range_hash(r, nodes) for r in ranges]


# --- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) -----------------------------------------


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root `proof` leads to from `leaf` at `index`; raises ProofError if malformed."""
    if not 0 <= index < size:
        raise ProofError("leaf index beyond the tree")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof too short")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    if len(leaf) != HASH_SIZE or len(root) != HASH_SIZE or any(len(p) != HASH_SIZE for p in proof):
        return False
    try:
        return root_from_inclusion(index, size, leaf, proof) == root
    except ProofError:
        return False


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    # An empty first tree proves nothing (every tree extends it): refused, as RFC 9162 asks
    # 0 < first for a proof and transparency-dev's verifier refuses it too.
    if not 0 < first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: the first tree is a node
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


# --- in-memory trees (tests, tools) -------------------------------------------------------


def all_nodes(leaves: Sequence[bytes]) -> dict[NodeId, bytes]:
    """Every perfect node over the leaf hashes `leaves`."""
    nodes: dict[NodeId, bytes] = {(0, i): h for i, h in enumerate(leaves)}
    level, width = 0, len(leaves)
    while width > 1:
        for i in range(width // 2):
            nodes[(level + 1, i)] = node_hash(nodes[(level, 2 * i)], nodes[(level, 2 * i + 1)])
        level, width = level + 1, width // 2
    return nodes


def root_of(size: int, nodes: Mapping[NodeId, bytes]) -> bytes:
    return range_hash((0, size), nodes)


def frontier_push(frontier: list[bytes], size: int, leaf: bytes) -> list[tuple[NodeId, bytes]]:
    """Append leaf number `size` to `frontier` (the perfect roots of the tree, largest first;
    changed in place); returns the perfect nodes the leaf completes, the leaf first."""
    made: list[tuple[NodeId, bytes]] = [((0, size), leaf)]
    carry, level, index = leaf, 0, size
    while index & 1:
        carry = node_hash(frontier.pop(), carry)
        level, index = level + 1, index >> 1
        made.append(((level, index), carry))
    frontier.append(carry)
    return made


def frontier_root(frontier: Sequence[bytes]) -> bytes:
    if not frontier:
        return EMPTY_ROOT
    acc = frontier[-1]
    for h in reversed(frontier[:-1]):
        acc = node_hash(h, acc)
    return acc
