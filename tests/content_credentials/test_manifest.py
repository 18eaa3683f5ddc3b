"""Signing and reading C2PA manifests, checked with c2pa's own Reader."""

from __future__ import annotations

import io
from pathlib import Path

import c2pa
import pytest

from ipmarket.config import Settings
from ipmarket.content_credentials import (
    PRODUCT_ASSERTION,
    Validation,
    development_chain,
    read_credentials,
    sign_image,
)
from ipmarket.content_credentials.certificates import signing_material
from tests.content_credentials.support import JPEG, credentialed_png, material, png


def _signed() -> bytes:
    return sign_image(
        png(),
        "image/png",
        title="Moonlit Fox mug",
        assertion={"productId": "p-1", "verificationUrl": "https://market.example/verify/C0DE"},
        material=material(),
        version="0.1.0",
    )


def test_a_signed_image_validates_with_c2pas_reader() -> None:
    # given an image signed with the development chain
    signed = _signed()
    # when c2pa's own Reader reads it
    with c2pa.Reader("image/png", io.BytesIO(signed)) as reader:
        state = reader.get_validation_state()
        manifest = reader.get_active_manifest()
    # then it is valid and states the product and its verification page
    assert state == "Valid"
    ours = next(a for a in manifest["assertions"] if a["label"] == PRODUCT_ASSERTION)
    assert ours["data"]["verificationUrl"] == "https://market.example/verify/C0DE"
    assert manifest["title"] == "Moonlit Fox mug"


def test_a_modified_signed_image_does_not_validate() -> None:
    # given a signed image whose pixels are changed afterwards (a byte of the image data)
    signed = bytearray(_signed())
    pixels = signed.rindex(b"IDAT") + 8
    signed[pixels] ^= 0xFF
    # when it is read, then it is invalid
    with c2pa.Reader("image/png", io.BytesIO(bytes(signed))) as reader:
        assert reader.get_validation_state() == "Invalid"
    found = read_credentials(bytes(signed), "image/png")
    assert found is not None
    assert found.validation == Validation.INVALID


def test_credentials_read_in_plain_terms() -> None:
    found = read_credentials(credentialed_png(author="Ada Example"), "image/png")
    assert found is not None
    assert found.validation == Validation.VALID
    assert found.author == "Ada Example"
    assert found.tool == "Test Studio Painter 1.0"
    assert found.signer is not None
    assert "Test Studio" in found.signer


def test_an_image_without_credentials_has_none() -> None:
    assert read_credentials(png(), "image/png") is None
    assert read_credentials(b"%PDF-1.7", "application/pdf") is None


def test_development_makes_one_chain_under_var_dir(tmp_path: Path) -> None:
    settings = Settings.model_validate({"VAR_DIR": tmp_path})
    first = signing_material(settings)
    assert (tmp_path / "c2pa" / "chain.pem").exists()
    assert signing_material(settings) == first


def test_production_refuses_to_sign_without_a_certificate(
    tmp_path: Path, jwt_private_key_pem: str
) -> None:
    settings = Settings.model_validate(
        {
            "VAR_DIR": tmp_path,
            "IPMARKET_ENV": "production",
            "DATABASE_URL": "postgresql://u@db:5432/x",
            "JWT_PRIVATE_KEY": jwt_private_key_pem,
            "FILE_URL_SECRET": "x" * 40,
        }
    )
    with pytest.raises(RuntimeError, match="C2PA_CERT_CHAIN"):
        signing_material(settings)


def test_a_jpeg_is_signed_and_a_changed_one_is_not_valid() -> None:
    signed = sign_image(
        JPEG,
        "image/jpeg",
        title="Fox print",
        assertion={"productId": "p-2"},
        material=material(),
        version="0.1.0",
    )
    found = read_credentials(signed, "image/jpeg")
    assert found is not None
    assert found.validation == Validation.VALID
    assert found.tool == "ipmarket 0.1.0"
    changed = bytearray(signed)
    changed[-5] ^= 0xFF  # the last bytes of the picture's scan, before its end marker
    found = read_credentials(bytes(changed), "image/jpeg")
    assert found is not None
    assert found.validation == Validation.INVALID


def test_production_signs_with_the_configured_chain(
    tmp_path: Path, jwt_private_key_pem: str
) -> None:
    # given a production deployment with its own certificate chain and key
    chain, key = development_chain("Market Example Inc")
    (tmp_path / "chain.pem").write_bytes(chain)
    (tmp_path / "signer.key").write_bytes(key)
    settings = Settings.model_validate(
        {
            "VAR_DIR": tmp_path / "var",
            "IPMARKET_ENV": "production",
            "DATABASE_URL": "postgresql://u@db:5432/x",
            "JWT_PRIVATE_KEY": jwt_private_key_pem,
            "FILE_URL_SECRET": "x" * 40,
            "C2PA_CERT_CHAIN": tmp_path / "chain.pem",
            "C2PA_PRIVATE_KEY": tmp_path / "signer.key",
        }
    )
    # when an image is signed with it, then the credentials name that organization
    configured = signing_material(settings)
    assert configured.algorithm == "es256"
    signed = sign_image(
        png(), "image/png", title="t", assertion={}, material=configured, version="1"
    )
    found = read_credentials(signed, "image/png")
    assert found is not None
    assert found.signer is not None
    assert "Market Example Inc" in found.signer
    assert not (tmp_path / "var" / "c2pa").exists()  # no development chain was made
