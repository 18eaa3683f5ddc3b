"""The checkpoint key: generated once under VAR_DIR in development, configured (PEM or hex)
in production, where booting without one is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ipmarket.config import Settings
from ipmarket.transparency import checkpoint_message, signer_from_settings, verify_signature


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.model_validate({"VAR_DIR": tmp_path, "DATABASE_URL": "postgresql://x/y", **env})


def test_the_development_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = signer_from_settings(_settings(tmp_path))
    second = signer_from_settings(_settings(tmp_path))
    assert first.key_id == second.key_id
    assert (tmp_path / "transparency-ed25519.pem").stat().st_mode & 0o777 == 0o600


def test_a_configured_key_in_hex_or_pem_signs_what_the_format_says(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    by_hex = signer_from_settings(_settings(tmp_path, TRANSPARENCY_SIGNING_KEY=raw.hex()))
    by_pem = signer_from_settings(_settings(tmp_path, TRANSPARENCY_SIGNING_KEY=pem.decode()))
    assert by_hex.key_id == by_pem.key_id
    assert not (tmp_path / "transparency-ed25519.pem").exists()
    signature = by_hex.sign(3, "ab" * 32, 1700000000000)
    assert checkpoint_message(3, "ab" * 32, 1700000000000) == (
        b"ipmarket-checkpoint/v1\n3\n" + b"ab" * 32 + b"\n1700000000000\n"
    )
    key.public_key().verify(
        bytes.fromhex(signature), checkpoint_message(3, "ab" * 32, 1700000000000)
    )
    assert verify_signature(by_pem.public_key, 3, "ab" * 32, 1700000000000, signature)
    assert not verify_signature(by_pem.public_key, 3, "ab" * 32, 1700000000001, signature)
    with pytest.raises(TypeError, match="TRANSPARENCY_SIGNING_KEY"):
        signer_from_settings(_settings(tmp_path, TRANSPARENCY_SIGNING_KEY="not a key"))


def test_production_refuses_to_boot_without_a_key(tmp_path: Path, jwt_private_key_pem: str) -> None:
    settings = _settings(
        tmp_path,
        IPMARKET_ENV="production",
        JWT_PRIVATE_KEY=jwt_private_key_pem,
        FILE_URL_SECRET="x" * 32,
    )
    with pytest.raises(RuntimeError, match="TRANSPARENCY_SIGNING_KEY must be set"):
        signer_from_settings(settings)
