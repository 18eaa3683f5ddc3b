"""The compiled contract, as `make contracts` wrote it (contracts/IPAuthorizationChain.json is
the same file; a test keeps the two and the Solidity source in step)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Artifact:
    abi: list[dict[str, Any]]
    bytecode: str
    solc_version: str


@lru_cache
def contract_artifact() -> Artifact:
    text = resources.files("ipmarket.chain").joinpath("IPAuthorizationChain.json").read_text()
    data = json.loads(text)
    return Artifact(abi=data["abi"], bytecode=data["bytecode"], solc_version=data["solcVersion"])
