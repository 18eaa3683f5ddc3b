"""Signing and reading C2PA manifests, on bytes in memory (c2pa-python, blocking calls).

Both run offline: the signer has no timestamp authority (a TSA would be fetched over the
network at every signature), so a signature is valid while its certificate is.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import c2pa

from ipmarket.content_credentials.certificates import SigningMaterial

# The media types signed and read; others (GIF, PDF, video) are left as they are.
SIGNABLE_TYPES = frozenset({"image/jpeg", "image/png"})
READABLE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/avif", "image/heic"})
# Our own assertion in a product image's manifest (a reverse-domain label, per C2PA).
PRODUCT_ASSERTION = "org.ipmarket.product"
CLAIM_GENERATOR = "ipmarket"
_CREATIVE_WORK = "stds.schema-org.CreativeWork"


class Validation(StrEnum):
    """What c2pa's validation said of a manifest, in the words a page shows."""

    TRUSTED = "trusted"  # valid, and signed by a certificate on a trust list
    VALID = "valid"  # intact and well signed, by a certificate on no trust list we hold
    INVALID = "invalid"  # the image or its manifest was changed after signing, or is broken


@dataclass(frozen=True)
class Credentials:
    """The active manifest of an image, as people care about it."""

    validation: Validation
    author: str | None  # schema.org CreativeWork author(s), when the manifest names them
    tool: str | None  # the claim generator: the application that made the manifest
    signer: str | None  # who signed: the certificate's organization / common name
    title: str | None
    problems: tuple[str, ...] = ()  # c2pa's failure codes, for the curious


def sign_image(
    data: bytes,
    content_type: str,
    *,
    title: str,
    assertion: dict[str, Any],
    material: SigningMaterial,
    version: str,
    extra_assertions: Sequence[dict[str, Any]] = (),
    generator: str = CLAIM_GENERATOR,
) -> bytes:
    """`data` with a signed manifest: an edit of the original (which becomes its parent
    ingredient), published by us, carrying `assertion` under PRODUCT_ASSERTION."""
    manifest = {
        "claim_generator_info": [{"name": generator, "version": version}],
        "title": title,
        "assertions": [
            {"label": PRODUCT_ASSERTION, "data": assertion},
            {"label": "c2pa.actions", "data": {"actions": [{"action": "c2pa.published"}]}},
            *extra_assertions,
        ],
    }
    signer_info = c2pa.C2paSignerInfo(
        material.algorithm, material.chain_pem, material.key_pem, None
    )
    with c2pa.Signer.from_info(signer_info) as signer, c2pa.Builder(manifest) as builder:
        # An edit: c2pa records the source as the parent and opens the actions with it.
        builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
        out = io.BytesIO()
        builder.sign(signer, content_type, io.BytesIO(data), out)
        return out.getvalue()


def read_credentials(data: bytes, content_type: str) -> Credentials | None:
    """The credentials an image carries, None when it carries none (or is not a type c2pa
    reads). A manifest c2pa cannot even parse reads as INVALID."""
    if content_type not in READABLE_TYPES:
        return None
    try:
        reader = c2pa.Reader.try_create(content_type, io.BytesIO(data))
    except c2pa.C2paError as error:
        return Credentials(Validation.INVALID, None, None, None, None, (type(error).__name__,))
    if reader is None:
        return None
    with reader:
        state = reader.get_validation_state()
        manifest = reader.get_active_manifest() or {}
        results = reader.get_validation_results() or {}
    return Credentials(
        validation=_validation(state),
        author=_author(manifest),
        tool=_tool(manifest),
        signer=_signer(manifest),
        title=manifest.get("title"),
        problems=tuple(
            str(item.get("code"))
            for item in (results.get("activeManifest") or {}).get("failure") or []
        ),
    )


def _validation(state: str | None) -> Validation:
    if state == "Trusted":
        return Validation.TRUSTED
    if state == "Valid":
        return Validation.VALID
    return Validation.INVALID


def _author(manifest: dict[str, Any]) -> str | None:
    names: list[str] = []
    for assertion in manifest.get("assertions") or []:
        if assertion.get("label") != _CREATIVE_WORK:
            continue
        authors = (assertion.get("data") or {}).get("author") or []
        for author in authors if isinstance(authors, list) else [authors]:
            name = author.get("name") if isinstance(author, dict) else author
            if isinstance(name, str) and name.strip():
                names.append(name.strip())
    return ", ".join(dict.fromkeys(names)) or None


def _tool(manifest: dict[str, Any]) -> str | None:
    info = manifest.get("claim_generator_info") or []
    if info and isinstance(info[0], dict) and info[0].get("name"):
        first = info[0]
        return f"{first['name']} {first['version']}" if first.get("version") else first["name"]
    generator = manifest.get("claim_generator")  # claims of version 1
    return generator if isinstance(generator, str) and generator else None


def _signer(manifest: dict[str, Any]) -> str | None:
    info = manifest.get("signature_info") or {}
    parts = [info.get("issuer"), info.get("common_name")]
    named = [p for p in parts if isinstance(p, str) and p]
    return " / ".join(dict.fromkeys(named)) or None


def describe(credentials: Credentials) -> str:
    """The credentials in plain words, for a page."""
    made = "Content credentials"
    if credentials.author:
        made += f" name {credentials.author} as the author"
    if credentials.tool:
        made += f"{',' if credentials.author else ''} made with {credentials.tool}"
    if credentials.signer:
        made += f", signed by {credentials.signer}"
    verdict = {
        Validation.TRUSTED: "They check out, and the signer is on a trust list.",
        Validation.VALID: (
            "They check out: the image is unchanged since it was signed (the signer is on no "
            "trust list we hold)."
        ),
        Validation.INVALID: (
            "They do not check out: the image or its credentials were changed after signing."
        ),
    }[credentials.validation]
    return f"{made}. {verdict}"
