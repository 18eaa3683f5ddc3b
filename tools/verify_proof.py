"""Check an ipmarket verification answer offline, trusting nothing but the mathematics.

Usage:  python verify_proof.py ANSWER.json|URL [--key HEX | --key-file FILE] [--rpc URL]
                               [--previous-checkpoint FILE [--consistency-proof FILE]]

ANSWER is the JSON of `GET /v1/verify/{code}` (with its {"data": ...} envelope or bare), saved
to a file or fetched from its URL. Checked, one line each: every log entry's leaf hash against
the entry itself, every inclusion proof against the answer's signed checkpoint (RFC 9162
§2.1.3.2), the checkpoint's Ed25519 signature with the log's public key, with --rpc that each
anchored root is the one the contract holds and that its transaction exists, and with
--previous-checkpoint that the log only grew since a checkpoint saved earlier (RFC 9162
§2.1.4.2). Exit status: 0 when every check passed, 1 when one failed, 2 when the input is
unusable.

Requirements: Python 3.11 or newer, its standard library, and the package `cryptography`
(`pip install cryptography`) for Ed25519, which the standard library lacks. Without it every
other check still runs and the signature check fails, saying so.

This file exists twice, byte for byte: src/ipmarket/transparency/offline.py, which the
`ipmarket verify-proof` command runs and the package's linters check, and tools/verify_proof.py,
the stand-alone script. Why two: the script must import nothing from ipmarket (a verifier should
not have to trust our package, only read one file), and the installed command must work without
a checkout of the repository. A test fails when the two differ; after a change, copy the
package file over the script.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HASH_SIZE = 32
CHECKPOINT_HEADER = "ipmarket-checkpoint/v1"
# The first four bytes of keccak256("checkpointRoots(uint64)"): the selector of the public
# mapping's getter in contracts/IPAuthorizationChain.sol. Hardcoded so that this script needs
# no keccak implementation; a test recomputes it with eth-hash or pycryptodome.
CHECKPOINT_ROOTS_SELECTOR = "113e2ee6"
TIMEOUT_SECONDS = 20
EXIT_OK, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2


class ProofError(Exception):
    """A proof does not prove what it claims; the message says why, in plain words."""


class UnusableInput(Exception):
    """The input cannot be checked at all (missing, not JSON, not a verification answer)."""


# --- RFC 9162 §2.1 hashing and proof verification ------------------------------------------


def canonical_json(value: Any) -> bytes:
    """The bytes a log entry is hashed as (sorted keys, no spaces, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes long, not a {HASH_SIZE}-byte hash")


def root_from_inclusion_proof(
    leaf: bytes, leaf_index: int, tree_size: int, path: Sequence[bytes]
) -> bytes:
    """The root that `path` leads to from `leaf` (RFC 9162 §2.1.3.2, steps 1 to 4)."""
    _check_hash(leaf, "the leaf hash")
    for position, item in enumerate(path):
        _check_hash(item, f"proof hash {position}")
    if leaf_index < 0 or tree_size < 0:
        raise ProofError("a leaf index or tree size is negative")
    if leaf_index >= tree_size:
        raise ProofError(f"leaf index {leaf_index} is not inside a tree of size {tree_size}")
    fn, sn = leaf_index, tree_size - 1
    r = leaf
    for p in path:
        if sn == 0:
            raise ProofError("the proof has more hashes than this leaf and tree size need")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the proof has fewer hashes than this leaf and tree size need")
    return r


def verify_inclusion(
    leaf: bytes, leaf_index: int, tree_size: int, path: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofError unless `path` proves `leaf` is leaf `leaf_index` of the tree `root`."""
    _check_hash(root, "the root hash")
    if root_from_inclusion_proof(leaf, leaf_index, tree_size, path) != root:
        raise ProofError("the proof leads to another root: the entry is not in this tree")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]
) -> None:
    """Raise ProofError unless `path` proves tree `second_root` extends tree `first_root`
    (RFC 9162 §2.1.4.2): the log only appended entries between the two sizes."""
    _check_hash(first_root, "the first root hash")
    _check_hash(second_root, "the second root hash")
    for position, item in enumerate(path):
        _check_hash(item, f"proof hash {position}")
    if first < 0 or second < 0:
        raise ProofError("a tree size is negative")
    if first > second:
        raise ProofError(f"the first tree ({first}) is larger than the second ({second})")
    if first == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing")
    if first == second:
        if path:
            raise ProofError("the trees are of the same size, but the proof is not empty")
        if first_root != second_root:
            raise ProofError("two trees of the same size have different roots")
        return
    if not path:
        raise ProofError("the proof is empty")
    hashes = list(path)
    if first & (first - 1) == 0:  # an exact power of 2: the first tree is a subtree
        hashes.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = hashes[0]
    for c in hashes[1:]:
        if sn == 0:
            raise ProofError("the proof has more hashes than these tree sizes need")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the proof has fewer hashes than these tree sizes need")
    if fr != first_root:
        raise ProofError(
            "the proof does not lead to the earlier root: the log was rewritten or the proof is bad"
        )
    if sr != second_root:
        raise ProofError(
            "the proof does not lead to the later root: the log was rewritten or the proof is bad"
        )


# --- Checkpoints and keys --------------------------------------------------------------------


def checkpoint_message(tree_size: int, root_hash: str, timestamp: int) -> bytes:
    """The bytes a checkpoint's Ed25519 signature covers."""
    return f"{CHECKPOINT_HEADER}\n{tree_size}\n{root_hash}\n{timestamp}\n".encode()


def key_id(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()


def verify_signature(public_key: bytes, signature: bytes, message: bytes) -> None:
    """Raise ProofError unless `signature` is the key's Ed25519 signature of `message`."""
    try:
        from cryptography.exceptions import InvalidSignature  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
            Ed25519PublicKey,
        )
    except ImportError:
        raise ProofError(
            "cannot check Ed25519 signatures: install the Python package cryptography "
            "(pip install cryptography)"
        ) from None
    if len(public_key) != HASH_SIZE:
        raise ProofError(f"the public key is {len(public_key)} bytes long, not 32")
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except InvalidSignature:
        raise ProofError(
            "the signature does not match: wrong key, or the checkpoint was changed"
        ) from None


def _hex(value: Any, what: str, size: int | None = HASH_SIZE) -> bytes:
    if not isinstance(value, str) or not re.fullmatch(r"(0x)?([0-9a-fA-F]{2})*", value):
        raise ProofError(f"{what} is not hexadecimal")
    raw = bytes.fromhex(value.removeprefix("0x"))
    if size is not None and len(raw) != size:
        raise ProofError(f"{what} is {len(raw)} bytes long, not {size}")
    return raw


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProofError(f"{what} is not a whole number")
    return value


def _hashes(proof: Any, what: str) -> list[bytes]:
    if not isinstance(proof, dict) or not isinstance(proof.get("hashes"), list):
        raise ProofError(f"{what} has no list of hashes")
    return [_hex(item, f"{what} hash {n}") for n, item in enumerate(proof["hashes"])]


def _inclusion_proof(proof: Any, what: str) -> tuple[int, list[bytes]]:
    """The tree size and hashes of an inclusion proof {treeSize, hashes}."""
    hashes = _hashes(proof, what)
    return _int(proof.get("treeSize"), f"{what}'s treeSize"), hashes


@dataclass(frozen=True)
class Checkpoint:
    tree_size: int
    root_hash: str
    root: bytes
    timestamp: int
    signature: bytes
    key_id: str

    @classmethod
    def parse(cls, value: Any) -> Checkpoint:
        if not isinstance(value, dict):
            raise ProofError("the checkpoint is not an object")
        root_hash = value.get("rootHash")
        return cls(
            tree_size=_int(value.get("treeSize"), "the checkpoint's treeSize"),
            root_hash=str(root_hash),
            root=_hex(root_hash, "the checkpoint's rootHash"),
            timestamp=_int(value.get("timestamp"), "the checkpoint's timestamp"),
            signature=_hex(value.get("signature"), "the checkpoint's signature", 64),
            key_id=str(value.get("keyId")),
        )


# --- Reading the input -----------------------------------------------------------------------


def _unwrap(document: Any) -> Any:
    """The API's envelope {"data": ...} off, when there is one."""
    if isinstance(document, dict) and isinstance(document.get("data"), dict):
        return document["data"]
    return document


def _parse_json(text: str | bytes, where: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnusableInput(f"{where} is not JSON: {exc}") from None


def read_json_file(path: str) -> Any:
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise UnusableInput(f"cannot read {path}: {exc.strerror or exc}") from None
    return _unwrap(_parse_json(text, path))


def _open(request: urllib.request.Request, where: str) -> bytes:
    if urllib.parse.urlsplit(request.full_url).scheme not in {"http", "https"}:
        raise UnusableInput(f"{where}: only http and https addresses can be fetched")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as exc:
        raise UnusableInput(f"{where} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UnusableInput(f"cannot reach {where}: {reason}") from None


def fetch_json(url: str) -> Any:
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked in _open
        url, headers={"Accept": "application/json", "User-Agent": "ipmarket-verify-proof/1"}
    )
    return _unwrap(_parse_json(_open(request, url), url))


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def base_url(url: str) -> str:
    """The service's address: everything before /v1/ in an API address."""
    head, found, _ = url.partition("/v1/")
    if not found:
        raise UnusableInput(f"{url} is not an ipmarket API address (no /v1/ in it)")
    return head


def code_in_url(url: str) -> str | None:
    match = re.search(r"/v1/verify/([^/?#]+)", url)
    return urllib.parse.unquote(match.group(1)) if match else None


def parse_key_document(document: Any, where: str) -> bytes:
    """A public key from the JSON of /v1/transparency/key, or from a hex string."""
    document = _unwrap(document)
    if isinstance(document, str):
        text = document.strip()
    elif isinstance(document, dict) and isinstance(document.get("publicKey"), str):
        if document.get("algorithm", "ed25519") != "ed25519":
            raise UnusableInput(f"{where}: the key is not an Ed25519 key")
        text = document["publicKey"]
        claimed = document.get("keyId")
        try:
            raw = _hex(text, f"{where}: the public key")
        except ProofError as exc:
            raise UnusableInput(str(exc)) from None
        if claimed is not None and claimed != key_id(raw):
            raise UnusableInput(f"{where}: its keyId is not the SHA-256 of its public key")
        return raw
    else:
        raise UnusableInput(f"{where} holds no public key (publicKey)")
    try:
        return _hex(text, f"{where}: the public key")
    except ProofError as exc:
        raise UnusableInput(str(exc)) from None


def read_key_file(path: str) -> bytes:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnusableInput(f"cannot read {path}: {exc}") from None
    stripped = text.strip()
    document: Any = stripped
    if stripped.startswith("{"):
        document = _parse_json(stripped, path)
    return parse_key_document(document, path)


# --- The report ------------------------------------------------------------------------------


@dataclass
class Report:
    """One line per check, printed as it is made."""

    out: Any = field(default=sys.stdout)
    passed: int = 0
    failed: int = 0

    def ok(self, check: str) -> None:
        self.passed += 1
        print(f"OK    {check}", file=self.out)

    def fail(self, check: str, reason: str) -> None:
        self.failed += 1
        print(f"FAIL  {check}: {reason}", file=self.out)

    def note(self, text: str) -> None:
        print(f"      {text}", file=self.out)

    def check(self, check: str, test: Any, *args: Any) -> bool:
        """Run `test(*args)`; a ProofError it raises is the reason for a FAIL line."""
        try:
            test(*args)
        except ProofError as exc:
            self.fail(check, str(exc))
            return False
        self.ok(check)
        return True

    def summary(self) -> int:
        total = self.passed + self.failed
        if self.failed:
            print(
                f"{self.failed} of {total} checks FAILED: do not trust this answer.", file=self.out
            )
            return EXIT_FAILED
        print(f"All {total} checks passed.", file=self.out)
        # What the log cannot say: it proves these entries were recorded unchanged; a later
        # revocation is a later entry, which this answer's own verdict reflects.
        print(
            "The evidence is genuine. Revocations are later log entries: see the answer's "
            "verdict and GET /v1/verify/{code}/history.",
            file=self.out,
        )
        return EXIT_OK


# --- JSON-RPC (the EVM chain) ----------------------------------------------------------------


class RpcClient:
    """A minimal Ethereum JSON-RPC client over urllib."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._next_id = 0

    def call(self, method: str, params: list[Any]) -> Any:
        self._next_id += 1
        body = json.dumps(
            {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params}
        ).encode()
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in _open
            self.url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            answer = _parse_json(_open(request, f"the RPC node {self.url}"), self.url)
        except UnusableInput as exc:
            raise ProofError(str(exc)) from None
        if not isinstance(answer, dict):
            raise ProofError(f"the RPC node answered {method} with something not JSON-RPC")
        if answer.get("error"):
            error = answer["error"]
            message = error.get("message", error) if isinstance(error, dict) else error
            raise ProofError(f"the RPC node refused {method}: {message}")
        return answer.get("result")


def _quantity(value: Any, what: str) -> int:
    """A JSON-RPC quantity ("0x2a"), or a number as the answer gives it (42 or "42")."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value, 16) if value.startswith("0x") else int(value)
        except ValueError:
            pass
    raise ProofError(f"{what} is not a number: {value!r}")


def check_anchor_on_chain(
    rpc: RpcClient, anchor: dict[str, Any], report: Report, name: str
) -> None:
    tree_size = _int(anchor.get("treeSize"), "the anchor's treeSize")
    root = _hex(anchor.get("rootHash"), "the anchor's rootHash")
    contract = anchor.get("contract")
    tx_hash = anchor.get("transactionHash")

    def chain_id() -> None:
        claimed = _quantity(anchor.get("chainId"), "the anchor's chainId")
        node = _quantity(rpc.call("eth_chainId", []), "the node's chain id")
        if node != claimed:
            raise ProofError(f"the node is on chain {node}, the anchor on chain {claimed}")

    def stored_root() -> None:
        if not isinstance(contract, str) or not re.fullmatch(r"0x[0-9a-fA-F]{40}", contract):
            raise ProofError("the anchor's contract is not an address")
        data = "0x" + CHECKPOINT_ROOTS_SELECTOR + f"{tree_size:064x}"
        answer = rpc.call("eth_call", [{"to": contract, "data": data}, "latest"])
        onchain = _hex(answer, "the contract's answer")
        if onchain == bytes(HASH_SIZE):
            raise ProofError(f"the contract holds no root for tree size {tree_size}")
        if onchain != root:
            raise ProofError(f"the contract holds another root for tree size {tree_size}")

    def receipt() -> None:
        if not isinstance(tx_hash, str):
            raise ProofError("the anchor names no transaction")
        answer = rpc.call("eth_getTransactionReceipt", [tx_hash])
        if not isinstance(answer, dict):
            raise ProofError(f"the chain knows no transaction {tx_hash}")
        if answer.get("status") not in (None, "0x1"):
            raise ProofError(f"transaction {tx_hash} failed (it was reverted)")
        block = _quantity(answer.get("blockNumber"), "the receipt's block number")
        if block != _quantity(anchor.get("blockNumber"), "the anchor's blockNumber"):
            raise ProofError(f"transaction {tx_hash} is in block {block}, not the one claimed")

    report.check(f"{name}: the anchor's chain is the node's", chain_id)
    report.check(
        f"{name}: contract {contract} holds the root of tree size {tree_size}", stored_root
    )
    report.check(f"{name}: transaction {tx_hash} is in block {anchor.get('blockNumber')}", receipt)


# --- The verification ------------------------------------------------------------------------


@dataclass
class Options:
    source: str
    key_hex: str | None = None
    key_file: str | None = None
    rpc: str | None = None
    previous_checkpoint: str | None = None
    consistency_proof: str | None = None


def _entry_matches(name: str, entry: Any, subject: dict[str, Any], code: str | None) -> None:
    """The entry speaks of what the answer shows (a proof of another entry proves nothing)."""
    if not isinstance(entry, dict):
        raise ProofError("the entry is not an object")
    kind = entry.get("kind")
    if name == "product":
        if kind != "product.published":
            raise ProofError(f"the entry is a {kind}, not a product.published")
        if entry.get("productId") != subject.get("id"):
            raise ProofError("the entry is about another product")
        if code is not None:
            digest = hashlib.sha256(code.encode("utf-8")).hexdigest()
            if entry.get("verificationCodeHash") != digest:
                raise ProofError("the entry is for another verification code")
        return
    license_id = (subject.get("license") or {}).get("id")
    asset_id = (subject.get("ipAsset") or {}).get("id")
    if kind == "license.approved":
        if entry.get("licenseId") != license_id or entry.get("ipAssetId") != asset_id:
            raise ProofError("the entry is about another license or IP asset")
    elif kind == "ip_asset.approved":
        if entry.get("ipAssetId") != asset_id:
            raise ProofError("the entry is about another IP asset")
    else:
        raise ProofError(f"the entry is a {kind}, not a license.approved")


def _check_subject(
    name: str,
    subject: dict[str, Any],
    checkpoint: Checkpoint | None,
    code: str | None,
    rpc: RpcClient | None,
    report: Report,
) -> None:
    log = subject.get("log")
    if not isinstance(log, dict):
        report.fail(f"{name}: log entry", "the answer carries no log evidence for it")
        return
    entry = log.get("entry")
    try:
        leaf_index = _int(log.get("leafIndex"), "leafIndex")
        claimed = _hex(log.get("leafHash"), "leafHash")
    except ProofError as exc:
        report.fail(f"{name}: log entry", str(exc))
        return
    computed = leaf_hash(canonical_json(entry))

    def same_leaf() -> None:
        if computed != claimed:
            raise ProofError("its hash does not match the entry: the entry was changed")

    report.check(f"{name}: entry {leaf_index} hashes to its leaf hash", same_leaf)
    report.check(
        f"{name}: entry {leaf_index} is about it", _entry_matches, name, entry, subject, code
    )

    def included() -> None:
        if checkpoint is None:
            raise ProofError("the answer carries no checkpoint to check the proof against")
        size, hashes = _inclusion_proof(log.get("inclusionProof"), "the inclusion proof")
        if size != checkpoint.tree_size:
            raise ProofError(
                f"the proof is for tree size {size}, the checkpoint of size {checkpoint.tree_size}"
            )
        verify_inclusion(computed, leaf_index, size, hashes, checkpoint.root)

    report.check(f"{name}: entry {leaf_index} is in the checkpoint's tree", included)

    anchor = subject.get("anchor")
    if not isinstance(anchor, dict):
        report.note(f"{name}: not anchored on a chain (yet)")
        return

    def anchored() -> None:
        proof_size, hashes = _inclusion_proof(anchor.get("inclusionProof"), "the anchor's proof")
        size = _int(anchor.get("treeSize"), "the anchor's treeSize")
        if proof_size != size:
            raise ProofError("the anchor's proof is for another tree size than the anchor")
        verify_inclusion(
            computed, leaf_index, size, hashes, _hex(anchor.get("rootHash"), "rootHash")
        )

    report.check(f"{name}: entry {leaf_index} is in the anchored tree", anchored)
    if rpc is None:
        report.note(f"{name}: the anchor on chain is not checked (give --rpc URL to check it)")
        return
    try:
        check_anchor_on_chain(rpc, anchor, report, name)
    except ProofError as exc:
        report.fail(f"{name}: anchor", str(exc))


def _check_chain_shape(product: dict[str, Any], links: list[Any], report: Report) -> None:
    """The logged licenses lead from the product's license, parent by parent, to a root
    license, through every link the answer shows and no other: the chain is the log's too."""
    product_entry = (product.get("log") or {}).get("entry")
    logged = [(link.get("log") or {}).get("entry") for link in links]
    entries: list[dict[str, Any]] = [
        e for e in logged if isinstance(e, dict) and e.get("kind") == "license.approved"
    ]
    if not isinstance(product_entry, dict) or product_entry.get("kind") != "product.published":
        return  # its own checks failed already
    if len(entries) != len(logged):
        report.note("the chain's shape is not checked: its links' entries are not all licenses")
        return

    def one_chain() -> None:
        by_id = {entry.get("licenseId"): entry for entry in entries}
        current, seen = product_entry.get("licenseId"), []
        while current is not None:
            if current in seen:
                raise ProofError("the licenses' parents go round in a loop")
            if current not in by_id:
                raise ProofError(
                    f"license {current} is on the way but the answer has no entry of it"
                )
            seen.append(current)
            current = by_id[current].get("parentLicenseId")
        if len(seen) != len(entries):
            raise ProofError("the answer shows licenses the product's chain does not go through")

    report.check("the logged licenses lead from the product's license to a root license", one_chain)


def _public_key(options: Options, report: Report) -> bytes | None:
    if options.key_hex is not None:
        try:
            return _hex(options.key_hex.strip(), "--key")
        except ProofError as exc:
            raise UnusableInput(str(exc)) from None
    if options.key_file is not None:
        return read_key_file(options.key_file)
    if is_url(options.source):
        url = base_url(options.source) + "/v1/transparency/key"
        key = parse_key_document(fetch_json(url), url)
        report.note(
            f"public key {key_id(key)} fetched from {url}: it proves only what that server says;"
            " compare it with one you trust, or pass --key"
        )
        return key
    return None


def _check_checkpoint(name: str, checkpoint: Checkpoint, key: bytes | None, report: Report) -> None:
    def signed() -> None:
        if key is None:
            raise ProofError("no public key given (--key HEX or --key-file FILE)")
        if checkpoint.key_id != key_id(key):
            raise ProofError(f"it names key {checkpoint.key_id}, not the key given ({key_id(key)})")
        message = checkpoint_message(
            checkpoint.tree_size, checkpoint.root_hash, checkpoint.timestamp
        )
        verify_signature(key, checkpoint.signature, message)

    report.check(f"{name} (tree size {checkpoint.tree_size}) is signed by the log's key", signed)
    try:
        made = (
            f"{datetime.fromtimestamp(checkpoint.timestamp / 1000, tz=UTC):%Y-%m-%d %H:%M:%S} UTC"
        )
    except (OverflowError, OSError, ValueError):  # beyond the dates a computer can show
        made = f"{checkpoint.timestamp} ms after 1970"
    report.note(f"{name} was made at {made}, by key {checkpoint.key_id}")


def _check_consistency(
    options: Options, current: Checkpoint, key: bytes | None, report: Report
) -> None:
    assert options.previous_checkpoint is not None
    try:
        previous = Checkpoint.parse(read_json_file(options.previous_checkpoint))
    except ProofError as exc:
        raise UnusableInput(f"{options.previous_checkpoint}: {exc}") from None
    _check_checkpoint("the previous checkpoint", previous, key, report)
    older, newer = sorted((previous, current), key=lambda c: c.tree_size)
    name = f"the log grew from size {older.tree_size} to {newer.tree_size} without rewriting"
    if older.tree_size == 0:
        report.ok(f"{name} (the empty tree is the start of every tree)")
        return
    if older.tree_size == newer.tree_size:
        report.check(
            name, verify_consistency, older.tree_size, newer.tree_size, older.root, newer.root, []
        )
        return
    if options.consistency_proof is not None:
        proof = read_json_file(options.consistency_proof)
    elif is_url(options.source):
        query = urllib.parse.urlencode({"first": older.tree_size, "second": newer.tree_size})
        proof = fetch_json(f"{base_url(options.source)}/v1/transparency/proof/consistency?{query}")
    else:
        raise UnusableInput(
            "--previous-checkpoint needs --consistency-proof FILE with a file answer"
        )

    def consistent() -> None:
        if not isinstance(proof, dict):
            raise ProofError("the consistency proof is not an object")
        if (proof.get("first"), proof.get("second")) != (older.tree_size, newer.tree_size):
            raise ProofError("the consistency proof is for other tree sizes")
        hashes = _hashes(proof, "the consistency proof")
        verify_consistency(older.tree_size, newer.tree_size, older.root, newer.root, hashes)

    report.check(name, consistent)


def verify_answer(options: Options, out: Any = None) -> int:
    """Check the answer named by `options`, printing one line per check; the exit status."""
    report = Report(out=out if out is not None else sys.stdout)
    source = options.source
    answer = fetch_json(source) if is_url(source) else read_json_file(source)
    if not isinstance(answer, dict) or not isinstance(answer.get("product"), dict):
        raise UnusableInput(f"{source} is not a verification answer (it has no product)")
    links = answer.get("chain")
    if not isinstance(links, list) or not all(isinstance(link, dict) for link in links):
        raise UnusableInput(f"{source} is not a verification answer (its chain is not a list)")
    code = code_in_url(source) if is_url(source) else None
    if code is not None and answer.get("unit") is not None:
        # A unit code (one per item sold) answers with its product's evidence: the product's
        # log entry names the product's verification code, which is not this one.
        report.note("a unit code: the product's entry is checked, not the code's hash")
        code = None
    key = _public_key(options, report)
    if options.rpc and not is_url(options.rpc):
        raise UnusableInput("--rpc must be an http or https address")
    rpc = RpcClient(options.rpc) if options.rpc else None

    verdict = "authentic" if answer.get("authentic") else "NOT authentic"
    report.note(f"the answer says the product is {verdict}; checking its evidence:")
    checkpoint: Checkpoint | None = None
    if answer.get("checkpoint") is None:
        report.fail("checkpoint", "the answer carries none: its proofs cannot be checked")
    else:
        try:
            checkpoint = Checkpoint.parse(answer["checkpoint"])
        except ProofError as exc:
            report.fail("checkpoint", str(exc))
        else:
            _check_checkpoint("the checkpoint", checkpoint, key, report)

    _check_subject("product", answer["product"], checkpoint, code, rpc, report)
    for number, link in enumerate(links, start=1):
        license_id = (link.get("license") or {}).get("id", "?")
        _check_subject(
            f"chain link {number} (license {license_id})", link, checkpoint, code, rpc, report
        )
        asset = link.get("ipAsset")
        if isinstance(asset, dict) and "log" in asset:
            # The approval of the IP asset the license is for, when the answer carries it.
            _check_subject(
                f"chain link {number}'s IP asset {asset.get('id', '?')}",
                {**asset, "ipAsset": asset},
                checkpoint,
                code,
                rpc,
                report,
            )

    _check_chain_shape(answer["product"], links, report)

    if options.previous_checkpoint is not None:
        if checkpoint is None:
            report.fail(
                "consistency", "no checkpoint in the answer to compare the previous one with"
            )
        else:
            _check_consistency(options, checkpoint, key, report)
    return report.summary()


def parse_arguments(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="verify-proof",
        description="Check an ipmarket verification answer (GET /v1/verify/{code}) offline: "
        "leaf hashes, inclusion proofs, the checkpoint's signature, and optionally the chain "
        "anchor and the log's consistency with a checkpoint saved earlier.",
        epilog="Exit status: 0 all checks passed, 1 a check failed, 2 unusable input.",
    )
    parser.add_argument("source", metavar="FILE|URL", help="the answer's JSON file, or its URL")
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument("--key", dest="key_hex", metavar="HEX", help="the log's Ed25519 public key")
    keys.add_argument(
        "--key-file", metavar="FILE", help="the JSON of /v1/transparency/key, or the key in hex"
    )
    parser.add_argument("--rpc", metavar="URL", help="an EVM JSON-RPC node to check anchors on")
    parser.add_argument(
        "--previous-checkpoint", metavar="FILE", help="a checkpoint saved earlier (its JSON)"
    )
    parser.add_argument(
        "--consistency-proof",
        metavar="FILE",
        help="the JSON of /v1/transparency/proof/consistency between the two checkpoints "
        "(fetched from the server when the answer is a URL)",
    )
    arguments = parser.parse_args(argv)
    return Options(
        source=arguments.source,
        key_hex=arguments.key_hex,
        key_file=arguments.key_file,
        rpc=arguments.rpc,
        previous_checkpoint=arguments.previous_checkpoint,
        consistency_proof=arguments.consistency_proof,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the checks; 0 all passed, 1 one failed, 2 unusable input (argparse exits with 2)."""
    options = parse_arguments(argv)
    try:
        return verify_answer(options)
    except UnusableInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE


if __name__ == "__main__":
    sys.exit(main())
