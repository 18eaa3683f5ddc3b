"""The committed artifacts are what the pinned compiler makes of the committed source."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from ipmarket.chain.artifact import contract_artifact
from tests.conftest import ROOT

CONTRACTS = ROOT / "contracts"


def test_the_package_carries_the_same_artifact_as_contracts() -> None:
    # given the artifact under contracts/ and the one the Python package reads
    committed = (CONTRACTS / "IPAuthorizationChain.json").read_text()
    packaged = (ROOT / "src/ipmarket/chain/IPAuthorizationChain.json").read_text()
    # then they are the same file (run `make contracts` after editing the source)
    assert packaged == committed
    assert contract_artifact().bytecode == json.loads(committed)["bytecode"]


def test_recompiling_the_source_gives_the_committed_artifact() -> None:
    if not (CONTRACTS / "node_modules" / "solc").is_dir() or shutil.which("node") is None:
        pytest.fail("npm solc is not installed: run `make chain-deps`")
    # when the source is compiled again with the pinned solc
    fresh = subprocess.run(
        ["node", str(CONTRACTS / "compile.js")], check=True, capture_output=True, text=True
    ).stdout
    # then nothing differs from the committed artifact (else: `make contracts` and commit)
    assert fresh == (CONTRACTS / "IPAuthorizationChain.json").read_text()
    artifact = json.loads(fresh)
    assert artifact["solcVersion"].startswith("0.8.37")
    assert artifact["evmVersion"] == "prague"
    names = {item.get("name") for item in artifact["abi"]}
    assert {
        "createAuthorization",
        "revokeAuthorization",
        "verifyAuthorizationChain",
        "anchorCheckpoint",
        "checkpointRoots",
        "CheckpointAnchored",
    } <= names
