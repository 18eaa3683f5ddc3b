"""RFC 9162 §2.1 hashing and proofs, checked against an implementation we did not write
(transparency-dev/merkle's vectors, data/merkle_vectors.json, Apache-2.0, see its
`_source`) and against a naive recursive reference written here from the RFC's text."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest

from ipmarket.transparency import merkle

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "merkle_vectors.json").read_text()
)


def _h(value: str | None) -> bytes:
    return bytes.fromhex(value or "")


# --- the naive reference: RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1 word for word ------------


def ref_mth(d: list[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def _tree(size: int) -> tuple[list[bytes], dict[merkle.NodeId, bytes]]:
    data = [f"leaf {i}".encode() for i in range(size)]
    return data, merkle.all_nodes([merkle.leaf_hash(x) for x in data])


# --- transparency-dev/merkle -----------------------------------------------------------------


def test_roots_of_the_reference_leaves_match_transparency_dev() -> None:
    leaves = [merkle.leaf_hash(_h(x)) for x in VECTORS["leafInputs"]]
    nodes = merkle.all_nodes(leaves)
    frontier: list[bytes] = []
    for size, want in enumerate(VECTORS["rootHashes"]):
        assert merkle.root_of(size, nodes).hex() == want
        assert merkle.frontier_root(frontier).hex() == want
        if size < len(leaves):
            merkle.frontier_push(frontier, size, leaves[size])
    assert merkle.EMPTY_ROOT.hex() == VECTORS["rootHashes"][0]


@pytest.mark.parametrize("probe", VECTORS["inclusionProbes"], ids=lambda p: p["file"])
def test_inclusion_probes_of_transparency_dev(probe: dict[str, Any]) -> None:
    proof = [_h(x) for x in probe["proof"]]
    ok = merkle.verify_inclusion(
        probe["leafIdx"], probe["treeSize"], _h(probe["leafHash"]), proof, _h(probe["root"])
    )
    assert ok is not probe["wantErr"]


@pytest.mark.parametrize("probe", VECTORS["consistencyProbes"], ids=lambda p: p["file"])
def test_consistency_probes_of_transparency_dev(probe: dict[str, Any]) -> None:
    proof = [_h(x) for x in probe["proof"]]
    ok = merkle.verify_consistency(
        probe["size1"], probe["size2"], _h(probe["root1"]), _h(probe["root2"]), proof
    )
    assert ok is not probe["wantErr"]


def test_our_proofs_over_the_reference_leaves_are_transparency_devs() -> None:
    nodes = merkle.all_nodes([merkle.leaf_hash(_h(x)) for x in VECTORS["leafInputs"]])
    happy = [p for p in VECTORS["inclusionProbes"] if not p["wantErr"] and p["treeSize"] <= 8]
    for probe in happy:
        if probe["root"] != VECTORS["rootHashes"][probe["treeSize"]]:
            continue  # a probe over other leaves
        ranges = merkle.inclusion_ranges(probe["leafIdx"], probe["treeSize"])
        assert [h.hex() for h in merkle.hashes_of(ranges, nodes)] == probe["proof"]
    for probe in VECTORS["consistencyProbes"]:
        if probe["wantErr"] or probe["size2"] > 8 or probe["size1"] == 0:
            continue
        if probe["root2"] != VECTORS["rootHashes"][probe["size2"]]:
            continue
        ranges = merkle.consistency_ranges(probe["size1"], probe["size2"])
        assert [h.hex() for h in merkle.hashes_of(ranges, nodes)] == probe["proof"]


# --- every tree size 1..64 and random pairs against the naive reference ---------------------


def test_every_size_up_to_64_against_the_rfc_reference() -> None:
    data, nodes = _tree(64)
    for size in range(1, 65):
        root = ref_mth(data[:size])
        assert merkle.root_of(size, nodes) == root
        for index in range(size):
            proof = merkle.hashes_of(merkle.inclusion_ranges(index, size), nodes)
            assert proof == ref_path(index, data[:size])
            assert merkle.verify_inclusion(index, size, merkle.leaf_hash(data[index]), proof, root)
        for first in range(1, size + 1):
            proof = merkle.hashes_of(merkle.consistency_ranges(first, size), nodes)
            assert proof == (ref_subproof(first, data[:size], True) if first < size else [])
            first_root = ref_mth(data[:first])
            assert merkle.verify_consistency(first, size, first_root, root, proof)


def test_random_pairs_in_a_bigger_tree_and_tampered_proofs_fail() -> None:
    rng = random.Random(9162)
    data, nodes = _tree(1500)
    for _ in range(200):
        second = rng.randint(1, 1500)
        first = rng.randint(1, second)
        index = rng.randrange(second)
        root = ref_mth(data[:second])
        inclusion = merkle.hashes_of(merkle.inclusion_ranges(index, second), nodes)
        assert inclusion == ref_path(index, data[:second])
        leaf = merkle.leaf_hash(data[index])
        assert merkle.verify_inclusion(index, second, leaf, inclusion, root)
        consistency = merkle.hashes_of(merkle.consistency_ranges(first, second), nodes)
        first_root = ref_mth(data[:first])
        assert merkle.verify_consistency(first, second, first_root, root, consistency)
        if inclusion:
            bad = list(inclusion)
            bad[rng.randrange(len(bad))] = hashlib.sha256(b"forged").digest()
            assert not merkle.verify_inclusion(index, second, leaf, bad, root)
        if consistency:
            assert not merkle.verify_consistency(first, second, first_root, root, consistency[:-1])
        other = merkle.leaf_hash(b"another entry")
        assert not merkle.verify_inclusion(index, second, other, inclusion, root)


def test_impossible_proofs_are_refused() -> None:
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_ranges(5, 5)
    with pytest.raises(merkle.ProofError):
        merkle.consistency_ranges(6, 5)
    with pytest.raises(merkle.ProofError):
        merkle.consistency_ranges(0, 5)
