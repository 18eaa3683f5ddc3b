"""The certificate and key that sign content credentials.

C2PA validators want an end-entity certificate that is not a CA, allows digitalSignature,
carries an extended key usage for documents (emailProtection here) and names an Organization;
it must chain to a certificate the validator is given, not be self-signed. Development makes
such a chain once (a CA and a signer under VAR_DIR/c2pa); production brings its own
(C2PA_CERT_CHAIN, C2PA_PRIVATE_KEY) and refuses to start without it.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ipmarket.config import Settings
from ipmarket.kit.clock import utcnow

DEV_DIRECTORY = "c2pa"
DEV_CHAIN_FILE = "chain.pem"
DEV_KEY_FILE = "signer.key"
ORGANIZATION = "ipmarket (development)"
_CA_YEARS = 10
_SIGNER_YEARS = 2


@dataclass(frozen=True)
class SigningMaterial:
    """What c2pa signs with: the PEM chain (signer first, then its issuers), the PEM key and
    the algorithm name c2pa knows it by."""

    chain_pem: bytes
    key_pem: bytes
    algorithm: str


def signing_material(settings: Settings) -> SigningMaterial:
    """The configured chain and key; in development, the generated ones under VAR_DIR.

    RuntimeError in production when C2PA_CERT_CHAIN or C2PA_PRIVATE_KEY is missing or
    unreadable: images would otherwise be signed by a key nobody vouches for.
    """
    chain_path, key_path = settings.c2pa_cert_chain, settings.c2pa_private_key
    if chain_path is not None and key_path is not None:
        return _load(chain_path, key_path)
    if settings.is_production:
        raise RuntimeError(
            "C2PA_CERT_CHAIN and C2PA_PRIVATE_KEY must be set when IPMARKET_ENV=production"
        )
    return _development_material(Path(settings.var_dir).resolve())


def _load(chain_path: Path, key_path: Path) -> SigningMaterial:
    try:
        chain_pem, key_pem = chain_path.read_bytes(), key_path.read_bytes()
    except OSError as error:
        raise RuntimeError(f"C2PA_CERT_CHAIN / C2PA_PRIVATE_KEY unreadable: {error}") from None
    key = serialization.load_pem_private_key(key_pem, password=None)
    return SigningMaterial(chain_pem, key_pem, _algorithm(key))


def _algorithm(key: object) -> str:
    """The C2PA algorithm of a key: ES256/384/512 by curve, Ed25519, or PS256 for RSA."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        by_curve = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name in by_curve:
            return by_curve[key.curve.name]
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    raise RuntimeError("C2PA_PRIVATE_KEY: not an EC (P-256/384/521), Ed25519 or RSA key")


@lru_cache(maxsize=8)
def _development_material(var_dir: Path) -> SigningMaterial:
    """A CA and a signer made once under VAR_DIR/c2pa, so signed images keep validating
    against the same chain across restarts. Written aside and linked into place, so
    processes starting together agree on one chain."""
    directory = var_dir / DEV_DIRECTORY
    chain_path, key_path = directory / DEV_CHAIN_FILE, directory / DEV_KEY_FILE
    if not (chain_path.exists() and key_path.exists()):
        directory.mkdir(parents=True, exist_ok=True)
        chain_pem, key_pem = development_chain()
        _write_once(key_path, key_pem)
        _write_once(chain_path, chain_pem)
    return _load(chain_path, key_path)


def _write_once(path: Path, content: bytes) -> None:
    aside = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    try:
        os.link(aside, path)
    except FileExistsError:
        pass
    finally:
        aside.unlink()


def development_chain(organization: str = ORGANIZATION) -> tuple[bytes, bytes]:
    """A fresh (chain PEM, signer key PEM): a P-256 CA and an end-entity signer it issued,
    with the extensions C2PA validation asks of a signing certificate."""
    now = utcnow()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{organization} content credentials CA"),
        ]
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * _CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signer=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                    x509.NameAttribute(NameOID.COMMON_NAME, f"{organization} signer"),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(signer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * _SIGNER_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signer=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(signer_key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    chain_pem = signer.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(
        serialization.Encoding.PEM
    )
    key_pem = signer_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return chain_pem, key_pem


def _key_usage(*, signer: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signer,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signer,
        crl_sign=not signer,
        encipher_only=False,
        decipher_only=False,
    )
