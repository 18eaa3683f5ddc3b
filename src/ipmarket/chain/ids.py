"""How platform records map to the contract's values.

Every id is derived from our own record's id, so the platform knows an authorization's id
before it is mined (a child names a parent still pending) and a retry addresses the same one.
Users hold no keys: an account's address is derived from the user's id, which says "this
user" on chain without revealing anything about them.
"""

from __future__ import annotations

import uuid

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

ZERO_AUTH = b"\x00" * 32
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def auth_id(kind: str, record_id: uuid.UUID | str) -> bytes:
    """The authId of `kind` ("ip_asset", "license" or "chain_record") `record_id`."""
    return keccak(f"ipmarket:{kind}:{str(record_id).lower()}".encode())


def user_address(user_id: uuid.UUID | str | None) -> str:
    """A stand-in address for a user: the last 20 bytes of keccak of their id."""
    if user_id is None:
        return ZERO_ADDRESS
    digest = keccak(f"ipmarket:user:{str(user_id).lower()}".encode())
    return to_checksum_address(digest[-20:])


def bytes32(hex_digest: str) -> bytes:
    """A 32-byte value from a lowercase hex SHA-256 digest (the log's hashes)."""
    value = bytes.fromhex(hex_digest.removeprefix("0x"))
    if len(value) != 32:
        raise ValueError("expected 32 bytes of hex")
    return value
