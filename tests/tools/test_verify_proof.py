"""The offline verifier (`ipmarket verify-proof`, tools/verify_proof.py): a verification answer
checked with nothing but its JSON, the log's public key and optionally an RPC node.

Answers are built here from trees computed by a naive reference written from RFC 9162 §2.1
(MTH, PATH, PROOF) and signed with a key from cryptography; the proof verification itself is
also checked against the test vectors of transparency-dev/merkle (tests/tools/data).
"""

from __future__ import annotations

import ast
import base64
import copy
import hashlib
import importlib
import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from ipmarket.cli import app
from ipmarket.transparency import offline

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "verify_proof.py"
PACKAGE_FILE = ROOT / "src" / "ipmarket" / "transparency" / "offline.py"
VECTORS = json.loads((Path(__file__).parent / "data" / "merkle_vectors.json").read_text())
CODE = "QX7T-9KD2-MW4P"
CHAIN_ID = 31337
CONTRACT = "0x" + "c0ffee" * 6 + "c0fe"
TX_HASH = "0x" + "ab" * 32

# --- A naive RFC 9162 §2.1 reference, over leaf hashes --------------------------------------


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _leaf(entry: dict[str, Any]) -> bytes:
    data = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _sha(b"\x00" + data.encode("utf-8"))


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return _sha(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _sha(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [mth(leaves)]
    k = _split(n)
    if m <= k:
        return [*subproof(m, leaves[:k], complete), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


def consistency(m: int, leaves: list[bytes]) -> list[bytes]:
    return subproof(m, leaves, True)


# --- Answers built from a log ---------------------------------------------------------------

PRODUCT_ID = str(uuid.UUID(int=1))
ASSETS = [str(uuid.UUID(int=10)), str(uuid.UUID(int=11))]
LICENSES = [str(uuid.UUID(int=20)), str(uuid.UUID(int=21))]
PEOPLE = [str(uuid.UUID(int=30)), str(uuid.UUID(int=31)), str(uuid.UUID(int=32))]


def _entry(n: int, kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "v": 1,
        "kind": kind,
        "eventId": str(uuid.UUID(int=1000 + n)),
        "occurredAt": f"2026-12-04T10:00:{n:02d}.000000Z",
        **fields,
    }


def _filler(n: int) -> dict[str, Any]:
    asset = str(uuid.UUID(int=5000 + n))
    return _entry(n, "ip_asset.approved", ipAssetId=asset, ownerId=PEOPLE[2], contentHash="00" * 32)


def _license(n: int, which: int, parent: str | None) -> dict[str, Any]:
    return _entry(
        n,
        "license.approved",
        licenseId=LICENSES[which],
        ipAssetId=ASSETS[which],
        licensorId=PEOPLE[which],
        licenseeId=PEOPLE[which + 1],
        termsHash="11" * 32,
        parentLicenseId=parent,
        expiresAt=None,
    )


def market_log() -> list[dict[str, Any]]:
    """Two licenses down a chain, then the product published under the second, among others."""
    return [
        _filler(0),
        _entry(
            1, "ip_asset.approved", ipAssetId=ASSETS[0], ownerId=PEOPLE[0], contentHash="aa" * 32
        ),
        _license(2, 0, None),
        _filler(3),
        _license(4, 1, LICENSES[0]),
        _entry(
            5,
            "product.published",
            productId=PRODUCT_ID,
            chainRecordId=str(uuid.UUID(int=40)),
            licenseId=LICENSES[1],
            ipAssetId=ASSETS[1],
            verificationCodeHash=hashlib.sha256(CODE.encode()).hexdigest(),
        ),
        _filler(6),
        _filler(7),
        _filler(8),
        _filler(9),
        _filler(10),
    ]


@dataclass
class Signer:
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    @property
    def public(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def public_hex(self) -> str:
        return self.public.hex()

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self.public).hexdigest()

    def checkpoint(self, leaves: list[bytes], timestamp: int = 1_796_000_000_000) -> dict[str, Any]:
        root = mth(leaves).hex()
        message = f"ipmarket-checkpoint/v1\n{len(leaves)}\n{root}\n{timestamp}\n".encode()
        return {
            "treeSize": len(leaves),
            "rootHash": root,
            "timestamp": timestamp,
            "signature": self.key.sign(message).hex(),
            "keyId": self.key_id,
        }


def _index(log: list[dict[str, Any]], kind: str, **match: Any) -> int:
    return next(
        n
        for n, e in enumerate(log)
        if e["kind"] == kind and all(e.get(k) == v for k, v in match.items())
    )


def _evidence(
    log: list[dict[str, Any]], index: int, tree_size: int | None = None
) -> dict[str, Any]:
    leaves = [_leaf(e) for e in log]
    size = len(leaves) if tree_size is None else tree_size
    return {
        "leafIndex": index,
        "leafHash": leaves[index].hex(),
        "entry": log[index],
        "inclusionProof": {
            "treeSize": size,
            "hashes": [h.hex() for h in path(index, leaves[:size])],
        },
    }


def _anchor(log: list[dict[str, Any]], index: int, tree_size: int) -> dict[str, Any]:
    leaves = [_leaf(e) for e in log][:tree_size]
    return {
        "chainId": CHAIN_ID,
        "contract": CONTRACT,
        "transactionHash": TX_HASH,
        "blockNumber": 42,
        "treeSize": tree_size,
        "rootHash": mth(leaves).hex(),
        "inclusionProof": {
            "treeSize": tree_size,
            "hashes": [h.hex() for h in path(index, leaves)],
        },
    }


def build_answer(
    log: list[dict[str, Any]], signer: Signer, *, anchored_at: int | None = None
) -> dict[str, Any]:
    """The JSON of GET /v1/verify/{code}, in its envelope, with its evidence."""

    def evidence(index: int) -> dict[str, Any]:
        return {
            "log": _evidence(log, index),
            "anchor": _anchor(log, index, anchored_at) if anchored_at else None,
        }

    chain = [
        {
            "ipAsset": {"id": ASSETS[which], "title": f"Asset {which}", "creator": "someone"},
            "license": {"id": LICENSES[which], "licenseType": "derivative", "status": "approved"},
            "active": True,
            "reasons": [],
            **evidence(_index(log, "license.approved", licenseId=LICENSES[which])),
        }
        for which in (1, 0)
    ]
    product = {"id": PRODUCT_ID, "title": "Mug", "seller": "shop"}
    product |= evidence(_index(log, "product.published"))
    return {
        "data": {
            "authentic": True,
            "product": product,
            "chain": chain,
            "reasons": [],
            "checkpoint": signer.checkpoint([_leaf(e) for e in log]),
        }
    }


@pytest.fixture
def signer() -> Signer:
    return Signer()


def _write(tmp_path: Path, name: str, value: Any) -> str:
    target = tmp_path / name
    target.write_text(json.dumps(value))
    return str(target)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = offline.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def _fails(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("FAIL")]


# --- The proof algorithms against the reference and transparency-dev/merkle -----------------


def test_inclusion_proofs_of_the_reference_verify_for_every_leaf_of_trees_up_to_64() -> None:
    leaves = [_sha(b"\x00" + bytes([n])) for n in range(64)]
    for size in range(1, 65):
        root = mth(leaves[:size])
        for index in range(size):
            proof = path(index, leaves[:size])
            offline.verify_inclusion(leaves[index], index, size, proof, root)
            if size > 1:
                with pytest.raises(offline.ProofError):
                    offline.verify_inclusion(leaves[index], (index + 1) % size, size, proof, root)


def test_consistency_proofs_of_the_reference_verify_for_every_pair_of_sizes_up_to_64() -> None:
    leaves = [_sha(b"\x00" + bytes([n])) for n in range(64)]
    for second in range(1, 65):
        second_root = mth(leaves[:second])
        for first in range(1, second + 1):
            proof = consistency(first, leaves[:second])
            offline.verify_consistency(first, second, mth(leaves[:first]), second_root, proof)
            if first < second:
                with pytest.raises(offline.ProofError):
                    offline.verify_consistency(first, second, leaves[0][::-1], second_root, proof)


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _vector_outcome(check: Callable[[], None]) -> str | None:
    try:
        check()
    except offline.ProofError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("name", sorted(VECTORS["inclusion"]))
def test_inclusion_vectors_of_transparency_dev_merkle(name: str) -> None:
    vector = VECTORS["inclusion"][name]
    proof = [_b64(h) for h in vector["proof"] or []]
    leaf, root = _b64(vector["leafHash"]), _b64(vector["root"])
    refused = _vector_outcome(
        lambda: offline.verify_inclusion(leaf, vector["leafIdx"], vector["treeSize"], proof, root)
    )
    if all(len(h) == 32 for h in [leaf, root, *proof]):
        assert (refused is not None) == vector["wantErr"], (vector["desc"], refused)
    else:  # stricter than the Go library: a hash of another length is refused outright
        assert refused is not None
        assert "bytes long" in refused


@pytest.mark.parametrize("name", sorted(VECTORS["consistency"]))
def test_consistency_vectors_of_transparency_dev_merkle(name: str) -> None:
    vector = VECTORS["consistency"][name]
    proof = [_b64(h) for h in vector["proof"] or []]
    first_root, second_root = _b64(vector["root1"]), _b64(vector["root2"])
    refused = _vector_outcome(
        lambda: offline.verify_consistency(
            vector["size1"], vector["size2"], first_root, second_root, proof
        )
    )
    if all(len(h) == 32 for h in [first_root, second_root, *proof]):
        assert (refused is not None) == vector["wantErr"], (vector["desc"], refused)
    else:
        assert refused is not None
        assert "bytes long" in refused


def test_the_vectors_include_happy_paths_and_the_file_names_its_source() -> None:
    happy = [v for v in VECTORS["inclusion"].values() if not v["wantErr"]]
    assert len(happy) >= 5
    assert VECTORS["source"] == "https://github.com/transparency-dev/merkle"
    assert len(VECTORS["commit"]) == 40


# --- Whole answers ---------------------------------------------------------------------------


def test_an_honest_answer_passes_every_check(
    tmp_path: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the answer for a product under a chain of two licenses, saved to a file
    answer = _write(tmp_path, "answer.json", build_answer(market_log(), signer))
    # When it is checked with the log's key
    status, output = run(capsys, answer, "--key", signer.public_hex)
    # Then every check passes: 1 signature + 3 subjects x 3 checks + the chain's shape
    assert status == 0, output
    assert not _fails(output)
    assert "All 11 checks passed." in output
    assert "OK    the checkpoint (tree size 11) is signed by the log's key" in output
    assert "OK    product: entry 5 is in the checkpoint's tree" in output
    assert "not anchored on a chain" in output


def test_a_bare_answer_without_its_envelope_and_a_key_file_work_too(
    tmp_path: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = _write(tmp_path, "answer.json", build_answer(market_log(), signer)["data"])
    key = _write(
        tmp_path,
        "key.json",
        {"data": {"keyId": signer.key_id, "algorithm": "ed25519", "publicKey": signer.public_hex}},
    )
    assert run(capsys, answer, "--key-file", key)[0] == 0
    (tmp_path / "key.txt").write_text(signer.public_hex + "\n")
    assert run(capsys, answer, "--key-file", str(tmp_path / "key.txt"))[0] == 0


def test_a_changed_entry_fails_its_leaf_hash(
    tmp_path: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an answer whose product entry was edited after it was logged
    answer = build_answer(market_log(), signer)
    changed = str(uuid.uuid4())
    answer["data"]["product"]["log"]["entry"]["licenseId"] = changed
    # When it is checked
    status, output = run(capsys, _write(tmp_path, "a.json", answer), "--key", signer.public_hex)
    # Then the leaf hash check names the change, and the changed entry is not in the tree
    assert status == 1
    assert _fails(output) == [
        (
            "FAIL  product: entry 5 hashes to its leaf hash: "
            "its hash does not match the entry: the entry was changed"
        ),
        (
            "FAIL  product: entry 5 is in the checkpoint's tree: "
            "the proof leads to another root: the entry is not in this tree"
        ),
        (
            "FAIL  the logged licenses lead from the product's license to a root license: "
            f"license {changed} is on the way but the answer has no entry of it"
        ),
    ]
    assert "3 of 11 checks FAILED: do not trust this answer." in output


def test_a_changed_entry_with_its_leaf_hash_recomputed_is_not_in_the_tree(
    tmp_path: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = build_answer(market_log(), signer)
    log = answer["data"]["chain"][0]["log"]
    log["entry"]["expiresAt"] = "2099-01-01T00:00:00.000000Z"
    log["leafHash"] = _leaf(log["entry"]).hex()
    status, output = run(capsys, _write(tmp_path, "a.json", answer), "--key", signer.public_hex)
    assert status == 1
    assert _fails(output) == [
        (
            "FAIL  chain link 1 (license 00000000-0000-0000-0000-000000000015): entry 4 is in the "
            "checkpoint's tree: the proof leads to another root: the entry is not in this tree"
        )
    ]


def test_evidence_of_another_entry_fails_even_though_its_proof_holds(
    tmp_path: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an answer whose product evidence is a genuine log entry, but another one
    log = market_log()
    answer = build_answer(log, signer)
    answer["data"]["product"]["log"] = _evidence(log, 3)
    status, output = run(capsys, _write(tmp_path, "a.json", answer), "--key", signer.public_hex)
    assert status == 1
    assert _fails(output) == [
        (
            "FAIL  product: entry 3 is about it: the entry is a ip_asset.approved, "
            "not a product.published"
        )
    ]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda chain: chain[:1], "license 00000000-0000-0000-0000-000000000014 is on the way"),
        (lambda chain: [*chain, "extra"], "the answer shows licenses the product's chain does not"),
    ],
    ids=["a-link-left-out", "a-link-too-many"],
)
def test_a_chain_that_is_not_the_logged_one_fails(
    tmp_path: Path,
    signer: Signer,
    capsys: pytest.CaptureFixture[str],
    change: Callable[[list[Any]], list[Any]],
    reason: str,
) -> None:
    # Given an answer whose chain leaves a link out, or shows one more (a genuine entry)
    log = [*market_log(), _license(11, 0, None) | {"licenseId": str(uuid.UUID(int=99))}]
    answer = build_answer(log, signer)
    extra = {
        "ipAsset": {"id": ASSETS[0]},
        "license": {"id": str(uuid.UUID(int=99))},
        "log": _evidence(log, 11),
        "anchor": None,
    }
    chain = answer["data"]["chain"]
    answer["data"]["chain"] = [extra if link == "extra" else link for link in change(chain)]
    # When it is checked, then the chain's shape fails, every entry being genuine
    status, output = run(capsys, _write(tmp_path, "a.json", answer), "--key", signer.public_hex)
    assert status == 1
    (fail,) = _fails(output)
    assert fail.startswith("FAIL  the logged licenses lead from the product's license")
    assert reason in fail


def test_a_removed_entry_shifts_the_indices_and_fails_against_the_signed_checkpoint(
    tmp_path: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the log as it was signed, and the same log with an earlier entry removed
    log = market_log()
    signed = build_answer(log, signer)["data"]["checkpoint"]
    rewritten = build_answer(log[:1] + log[2:], signer)
    rewritten["data"]["checkpoint"] = signed
    # When the rewritten evidence is checked against the checkpoint that was signed
    status, output = run(capsys, _write(tmp_path, "a.json", rewritten), "--key", signer.public_hex)
    # Then every proof fails (they are for another tree size, one entry shorter)
    assert status == 1
    fails = _fails(output)
    assert len(fails) == 3
    assert all("the proof is for tree size 10, the checkpoint of size 11" in f for f in fails)


def test_a_rewritten_log_with_a_new_signed_checkpoint_fails_consistency_with_an_older_one(
    tmp_path: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a checkpoint a buyer saved when the log held its first 8 entries
    log = market_log()
    saved = signer.checkpoint([_leaf(e) for e in log[:8]])
    previous = _write(tmp_path, "previous.json", {"data": saved})
    # and the platform later removed entry 1, appended two more and signed a new checkpoint
    rewritten = log[:1] + log[2:] + [_filler(11), _filler(12)]
    answer = _write(tmp_path, "a.json", build_answer(rewritten, signer))
    leaves = [_leaf(e) for e in rewritten]
    proof = {"first": 8, "second": 12, "hashes": [h.hex() for h in consistency(8, leaves)]}
    # When the new answer is checked against the saved checkpoint
    status, output = run(
        capsys,
        answer,
        "--key",
        signer.public_hex,
        "--previous-checkpoint",
        previous,
        "--consistency-proof",
        _write(tmp_path, "proof.json", {"data": proof}),
    )
    # Then the proofs of the new tree hold, but the log did not only grow
    assert status == 1
    assert _fails(output) == [
        (
            "FAIL  the log grew from size 8 to 12 without rewriting: "
            "the proof does not lead to the later root: the log was rewritten or the proof is bad"
        )
    ]


def test_an_honestly_grown_log_is_consistent_with_an_older_checkpoint(
    tmp_path: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    log = market_log()
    previous = _write(tmp_path, "previous.json", signer.checkpoint([_leaf(e) for e in log[:7]]))
    leaves = [_leaf(e) for e in log]
    proof = {"first": 7, "second": 11, "hashes": [h.hex() for h in consistency(7, leaves)]}
    status, output = run(
        capsys,
        _write(tmp_path, "a.json", build_answer(log, signer)),
        "--key",
        signer.public_hex,
        "--previous-checkpoint",
        previous,
        "--consistency-proof",
        _write(tmp_path, "proof.json", proof),
    )
    assert status == 0, output
    assert "OK    the log grew from size 7 to 11 without rewriting" in output
    assert "OK    the previous checkpoint (tree size 7) is signed by the log's key" in output


def test_a_changed_signature_fails(
    tmp_path: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = build_answer(market_log(), signer)
    checkpoint = answer["data"]["checkpoint"]
    checkpoint["signature"] = ("00" if checkpoint["signature"][:2] != "00" else "01") + (
        checkpoint["signature"][2:]
    )
    status, output = run(capsys, _write(tmp_path, "a.json", answer), "--key", signer.public_hex)
    assert status == 1
    assert _fails(output) == [
        (
            "FAIL  the checkpoint (tree size 11) is signed by the log's key: "
            "the signature does not match: wrong key, or the checkpoint was changed"
        )
    ]


def test_a_checkpoint_with_a_changed_root_fails_its_signature(
    tmp_path: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a log rewritten in place, its checkpoint's root replaced to match but not re-signed
    log = market_log()
    rewritten = copy.deepcopy(log)
    rewritten[2]["termsHash"] = "22" * 32
    answer = build_answer(rewritten, signer)
    answer["data"]["checkpoint"]["signature"] = signer.checkpoint([_leaf(e) for e in log])[
        "signature"
    ]
    status, output = run(capsys, _write(tmp_path, "a.json", answer), "--key", signer.public_hex)
    assert status == 1
    assert [f.split(": ", 1)[1] for f in _fails(output)] == [
        "the signature does not match: wrong key, or the checkpoint was changed"
    ]


def test_another_key_fails(
    tmp_path: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = _write(tmp_path, "a.json", build_answer(market_log(), signer))
    other = Signer()
    status, output = run(capsys, answer, "--key", other.public_hex)
    assert status == 1
    assert _fails(output) == [
        (
            "FAIL  the checkpoint (tree size 11) is signed by the log's key: it names key "
            f"{signer.key_id}, not the key given ({other.key_id})"
        )
    ]


def test_a_checkpoint_signed_by_another_key_under_the_logs_key_id_fails(
    tmp_path: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = build_answer(market_log(), Signer())
    answer["data"]["checkpoint"]["keyId"] = signer.key_id
    status, output = run(capsys, _write(tmp_path, "a.json", answer), "--key", signer.public_hex)
    assert status == 1
    assert "the signature does not match" in _fails(output)[0]


def test_without_a_key_the_signature_check_fails_and_says_what_to_give(
    tmp_path: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, output = run(capsys, _write(tmp_path, "a.json", build_answer(market_log(), signer)))
    assert status == 1
    assert _fails(output) == [
        (
            "FAIL  the checkpoint (tree size 11) is signed by the log's key: "
            "no public key given (--key HEX or --key-file FILE)"
        )
    ]


def test_without_cryptography_the_signature_check_fails_saying_what_to_install(
    tmp_path: Path,
    signer: Signer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "cryptography.exceptions", None)
    answer = _write(tmp_path, "a.json", build_answer(market_log(), signer))
    status, output = run(capsys, answer, "--key", signer.public_hex)
    assert status == 1
    assert "pip install cryptography" in _fails(output)[0]
    assert "9 of 10" not in output  # the other checks still ran, and passed
    assert "1 of 11 checks FAILED" in output


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda hashes: hashes[:-1],
            "the proof has fewer hashes than this leaf and tree size need",
        ),
        (
            lambda hashes: [*hashes, "ab" * 32],
            "the proof has more hashes than this leaf and tree size need",
        ),
        (lambda hashes: [*hashes[:-1], "ab" * 31], "is 31 bytes long, not 32"),
    ],
    ids=["one-hash-short", "one-hash-too-many", "a-short-hash"],
)
def test_a_proof_of_the_wrong_length_fails(
    tmp_path: Path,
    signer: Signer,
    capsys: pytest.CaptureFixture[str],
    change: Callable[[list[str]], list[str]],
    reason: str,
) -> None:
    answer = build_answer(market_log(), signer)
    proof = answer["data"]["product"]["log"]["inclusionProof"]
    proof["hashes"] = change(proof["hashes"])
    status, output = run(capsys, _write(tmp_path, "a.json", answer), "--key", signer.public_hex)
    assert status == 1
    (fail,) = _fails(output)
    assert fail.startswith("FAIL  product: entry 5 is in the checkpoint's tree: ")
    assert reason in fail


def test_an_answer_without_evidence_fails(
    tmp_path: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = build_answer(market_log(), signer)
    answer["data"]["checkpoint"] = None
    answer["data"]["chain"][1]["log"] = None
    status, output = run(capsys, _write(tmp_path, "a.json", answer), "--key", signer.public_hex)
    assert status == 1
    fails = _fails(output)
    assert fails[0] == "FAIL  checkpoint: the answer carries none: its proofs cannot be checked"
    assert (
        "FAIL  chain link 2 (license 00000000-0000-0000-0000-000000000014): log entry: "
        "the answer carries no log evidence for it"
    ) in fails


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("{not json", "is not JSON"),
        ('{"data": {"items": []}}', "is not a verification answer"),
    ],
    ids=["missing", "not-json", "not-an-answer"],
)
def test_unusable_input_exits_with_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    target = tmp_path / "answer.json"
    if content is not None:
        target.write_text(content)
    status, output = run(capsys, str(target), "--key", "00" * 32)
    assert status == 2
    assert output.startswith("error: ")
    assert message in output


def test_a_key_that_is_not_hex_is_unusable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = _write(tmp_path, "a.json", build_answer(market_log(), Signer()))
    assert run(capsys, answer, "--key", "not-a-key") == (2, "error: --key is not hexadecimal\n")


# --- Over HTTP: the service's answer and key, and an RPC node --------------------------------


@dataclass
class FakeServer:
    """A tiny HTTP server: GET paths answered from `pages`, POSTs as JSON-RPC from `rpc`."""

    url: str
    pages: dict[str, Any] = field(default_factory=dict)
    rpc: dict[str, Callable[[list[Any]], Any]] = field(default_factory=dict)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    state = FakeServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path in state.pages:
                self._send(200, state.pages[self.path])
            else:
                self._send(404, {"error": {"code": "not_found"}})

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            method = state.rpc.get(request["method"])
            if method is None:
                self._send(
                    200,
                    {
                        "jsonrpc": "2.0",
                        "id": request["id"],
                        "error": {"code": -32601, "message": "no such method"},
                    },
                )
                return
            self._send(
                200, {"jsonrpc": "2.0", "id": request["id"], "result": method(request["params"])}
            )

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def _serve_answer(server: FakeServer, answer: dict[str, Any], signer: Signer) -> str:
    server.pages[f"/v1/verify/{CODE}"] = answer
    server.pages["/v1/transparency/key"] = {
        "data": {"keyId": signer.key_id, "algorithm": "ed25519", "publicKey": signer.public_hex}
    }
    return f"{server.url}/v1/verify/{CODE}"


def test_an_answer_fetched_by_url_is_checked_with_the_key_the_service_publishes(
    server: FakeServer, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _serve_answer(server, build_answer(market_log(), signer), signer)
    status, output = run(capsys, url)
    assert status == 0, output
    assert f"public key {signer.key_id} fetched from {server.url}/v1/transparency/key" in output
    assert "compare it with one you trust, or pass --key" in output


def test_an_answer_fetched_for_another_code_fails(
    server: FakeServer, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the service answers a code with the evidence of another product's code
    answer = build_answer(market_log(), signer)
    _serve_answer(server, answer, signer)
    server.pages["/v1/verify/OTHER-CODE"] = answer
    status, output = run(capsys, f"{server.url}/v1/verify/OTHER-CODE")
    assert status == 1
    assert _fails(output) == [
        "FAIL  product: entry 5 is about it: the entry is for another verification code"
    ]


def test_a_unit_code_answers_with_its_products_evidence(
    server: FakeServer, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a unit code (one per item sold) answered with the product's evidence
    answer = build_answer(market_log(), signer)
    answer["data"]["unit"] = {"serial": 1, "scans": 3, "possibleCopy": False}
    _serve_answer(server, answer, signer)
    server.pages["/v1/verify/U-7QK2"] = answer
    # When it is checked, then the product's code hash is not compared with the unit's code
    status, output = run(capsys, f"{server.url}/v1/verify/U-7QK2", "--key", signer.public_hex)
    assert status == 0, output
    assert "a unit code: the product's entry is checked, not the code's hash" in output


def test_the_consistency_proof_is_fetched_from_the_service_for_a_url(
    server: FakeServer, signer: Signer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = market_log()
    url = _serve_answer(server, build_answer(log, signer), signer)
    leaves = [_leaf(e) for e in log]
    server.pages["/v1/transparency/proof/consistency?first=3&second=11"] = {
        "data": {"first": 3, "second": 11, "hashes": [h.hex() for h in consistency(3, leaves)]}
    }
    previous = _write(tmp_path, "previous.json", signer.checkpoint(leaves[:3]))
    status, output = run(capsys, url, "--key", signer.public_hex, "--previous-checkpoint", previous)
    assert status == 0, output
    assert "OK    the log grew from size 3 to 11 without rewriting" in output


def test_an_unreachable_service_is_unusable_input(capsys: pytest.CaptureFixture[str]) -> None:
    status, output = run(capsys, "http://127.0.0.1:9/v1/verify/X")
    assert status == 2
    assert output.startswith("error: cannot reach http://127.0.0.1:9/v1/verify/X")


def _chain_node(server: FakeServer, roots: dict[int, str], receipt: dict[str, Any] | None) -> None:
    def eth_call(params: list[Any]) -> str:
        data = params[0]["data"]
        assert params[0]["to"] == CONTRACT
        assert data[:10] == "0x113e2ee6"
        return "0x" + roots.get(int(data[10:], 16), "00" * 32)

    server.rpc["eth_chainId"] = lambda params: hex(CHAIN_ID)
    server.rpc["eth_call"] = eth_call
    server.rpc["eth_getTransactionReceipt"] = lambda params: (
        receipt if params[0] == TX_HASH else None
    )


def test_an_anchored_answer_is_checked_on_chain(
    tmp_path: Path, signer: Signer, server: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an answer anchored at tree size 8 and a node whose contract holds that root
    log = market_log()
    answer = build_answer(log, signer, anchored_at=8)
    _chain_node(
        server,
        {8: mth([_leaf(e) for e in log[:8]]).hex()},
        {"status": "0x1", "blockNumber": "0x2a"},
    )
    # When it is checked against that node
    status, output = run(
        capsys, _write(tmp_path, "a.json", answer), "--key", signer.public_hex, "--rpc", server.url
    )
    # Then the anchor's proof and the chain's record pass for each subject
    assert status == 0, output
    assert "OK    product: entry 5 is in the anchored tree" in output
    assert f"OK    product: contract {CONTRACT} holds the root of tree size 8" in output
    assert f"OK    product: transaction {TX_HASH} is in block 42" in output
    assert "All 23 checks passed." in output


def test_without_rpc_the_anchor_proof_is_checked_and_the_chain_is_not(
    tmp_path: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = build_answer(market_log(), signer, anchored_at=8)
    status, output = run(capsys, _write(tmp_path, "a.json", answer), "--key", signer.public_hex)
    assert status == 0, output
    assert "the anchor on chain is not checked (give --rpc URL to check it)" in output


def test_an_anchor_the_chain_does_not_hold_fails(
    tmp_path: Path, signer: Signer, server: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a node whose contract holds another root at size 8 and knows no such transaction
    answer = build_answer(market_log(), signer, anchored_at=8)
    _chain_node(server, {8: "cd" * 32}, None)
    status, output = run(
        capsys, _write(tmp_path, "a.json", answer), "--key", signer.public_hex, "--rpc", server.url
    )
    assert status == 1
    fails = _fails(output)
    assert (
        f"FAIL  product: contract {CONTRACT} holds the root of tree size 8: the contract holds another root for tree size 8"
        in fails
    )
    assert (
        f"FAIL  product: transaction {TX_HASH} is in block 42: the chain knows no transaction {TX_HASH}"
        in fails
    )
    assert len(fails) == 6


def test_a_reverted_or_misplaced_anchor_transaction_fails(
    tmp_path: Path, signer: Signer, server: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    log = market_log()
    answer = _write(tmp_path, "a.json", build_answer(log, signer, anchored_at=8))
    root = mth([_leaf(e) for e in log[:8]]).hex()
    _chain_node(server, {8: root}, {"status": "0x0", "blockNumber": "0x2a"})
    status, output = run(capsys, answer, "--key", signer.public_hex, "--rpc", server.url)
    assert status == 1
    assert "(it was reverted)" in _fails(output)[0]
    _chain_node(server, {8: root}, {"status": "0x1", "blockNumber": "0x2b"})
    status, output = run(capsys, answer, "--key", signer.public_hex, "--rpc", server.url)
    assert "is in block 43, not the one claimed" in _fails(output)[0]


def test_an_unreachable_rpc_node_fails_the_chain_checks(
    tmp_path: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = _write(tmp_path, "a.json", build_answer(market_log(), signer, anchored_at=8))
    status, output = run(capsys, answer, "--key", signer.public_hex, "--rpc", "http://127.0.0.1:9")
    assert status == 1
    fails = _fails(output)
    assert len(fails) == 9
    assert all("cannot reach the RPC node http://127.0.0.1:9" in f for f in fails)


def _keccak256(data: bytes) -> bytes:
    """Keccak-256 from eth-hash (web3's) or else pycryptodome, whichever is installed."""
    try:
        keccak = importlib.import_module("eth_hash.auto").keccak
        return bytes(keccak(data))
    except ImportError:
        pass
    try:
        module = importlib.import_module("Crypto.Hash.keccak")
    except ImportError:
        pytest.skip("neither eth-hash (web3) nor pycryptodome is installed: no keccak")
    return bytes(module.new(data=data, digest_bits=256).digest())


def test_the_hardcoded_selector_is_keccak_of_the_getters_signature() -> None:
    assert _keccak256(b"")[:4].hex() == "c5d24601"  # keccak, not SHA3-256 (a7ffc6f8)
    assert _keccak256(b"checkpointRoots(uint64)")[:4].hex() == offline.CHECKPOINT_ROOTS_SELECTOR


# --- One code, two entry points --------------------------------------------------------------


def test_the_stand_alone_script_is_the_package_module_byte_for_byte() -> None:
    assert SCRIPT.read_bytes() == PACKAGE_FILE.read_bytes(), (
        "tools/verify_proof.py differs from src/ipmarket/transparency/offline.py: "
        "copy the package file over the script"
    )


def test_the_script_imports_only_the_standard_library_and_cryptography() -> None:
    tree = ast.parse(SCRIPT.read_text())
    imported = {
        name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
        )
    }
    assert imported - set(sys.stdlib_module_names) == {"cryptography"}


def test_the_script_runs_alone_from_another_directory(tmp_path: Path, signer: Signer) -> None:
    # Given an answer file and a copy of the script outside the repository
    answer = _write(tmp_path, "answer.json", build_answer(market_log(), signer))
    script = tmp_path / "elsewhere" / "verify_proof.py"
    script.parent.mkdir()
    script.write_bytes(SCRIPT.read_bytes())
    # When it runs isolated (-I), with ipmarket made unimportable
    guarded = (
        "import sys, runpy; sys.modules['ipmarket'] = None; sys.argv = sys.argv[1:]; "
        "runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    for command in (
        [sys.executable, "-I", str(script), answer, "--key", signer.public_hex],
        [sys.executable, "-I", "-c", guarded, str(script), answer, "--key", signer.public_hex],
    ):
        done = subprocess.run(
            command, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
        )
        # Then it checks the answer as the package does
        assert done.returncode == 0, done.stdout + done.stderr
        assert "All 11 checks passed." in done.stdout
    bad = _write(tmp_path, "bad.json", {"data": {"nothing": 1}})
    done = subprocess.run(
        [sys.executable, "-I", str(script), bad],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "is not a verification answer" in done.stderr


def test_the_ipmarket_command_runs_the_same_checks(tmp_path: Path, signer: Signer) -> None:
    answer = build_answer(market_log(), signer)
    good = _write(tmp_path, "good.json", answer)
    answer["data"]["product"]["log"]["entry"]["productId"] = str(uuid.uuid4())
    bad = _write(tmp_path, "bad.json", answer)
    runner = CliRunner()
    result = runner.invoke(app, ["verify-proof", good, "--key", signer.public_hex])
    assert result.exit_code == 0, result.output
    assert "All 11 checks passed." in result.output
    result = runner.invoke(app, ["verify-proof", bad, "--key", signer.public_hex])
    assert result.exit_code == 1
    assert "FAIL  product: entry 5 hashes to its leaf hash" in result.output
    result = runner.invoke(app, ["verify-proof", "--help"])
    assert result.exit_code == 0
    assert "--previous-checkpoint" in result.output


def test_links_logged_as_asset_approvals_are_checked_without_the_chains_shape(
    tmp_path: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an answer whose links carry their IP assets' approval entries instead of licenses'
    log = market_log()
    answer = build_answer(log, signer)
    answer["data"]["chain"][1]["ipAsset"]["id"] = ASSETS[0]
    answer["data"]["chain"][1]["log"] = _evidence(log, 1)
    status, output = run(capsys, _write(tmp_path, "a.json", answer), "--key", signer.public_hex)
    # Then the entries pass, and the chain's shape is said not to be checked
    assert status == 0, output
    assert "the chain's shape is not checked: its links' entries are not all licenses" in output


def test_a_malformed_checkpoint_fails_and_the_rest_is_still_checked(
    tmp_path: Path, signer: Signer, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = build_answer(market_log(), signer)
    answer["data"]["checkpoint"]["signature"] = "not hex"
    status, output = run(capsys, _write(tmp_path, "a.json", answer), "--key", signer.public_hex)
    assert status == 1
    fails = _fails(output)
    assert fails[0] == "FAIL  checkpoint: the checkpoint's signature is not hexadecimal"
    assert "OK    product: entry 5 hashes to its leaf hash" in output
