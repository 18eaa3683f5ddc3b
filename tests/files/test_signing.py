"""Signed file URLs: the key, the expiry, and what a tampered URL gets."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import ValidationError

from ipmarket.config import Settings
from ipmarket.files import signed_url, url_key
from ipmarket.files.signing import EXPIRY_STEP, InvalidSignature, verify_signature

NOW = datetime(2031, 5, 4, 12, 0, 1, tzinfo=UTC)
SECRET = "k" * 40


def make_settings(tmp_path: Path, **values: object) -> Settings:
    return Settings.model_validate(
        {"VAR_DIR": tmp_path, "DATABASE_URL": "postgresql://x/y", **values}
    )


def query(url: str) -> tuple[str, str]:
    params = parse_qs(urlsplit(url).query)
    return params["expires"][0], params["signature"][0]


def test_the_url_names_the_file_an_expiry_and_a_signature(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, FILE_URL_SECRET=SECRET, PUBLIC_BASE_URL="https://market.example/"
    )
    file_id = uuid.uuid4()
    url = signed_url(file_id, settings=settings, now=NOW)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        f"https://market.example/v1/files/{file_id}/content"
    )
    expires, signature = query(url)
    # at least an hour, rounded up to a whole step so repeated renders give the same URL
    assert int(expires) % EXPIRY_STEP == 0
    assert NOW.timestamp() + 3600 <= int(expires) < NOW.timestamp() + 3600 + EXPIRY_STEP
    assert len(signature) == 64 and int(signature, 16) >= 0
    assert signed_url(file_id, settings=settings, now=NOW + timedelta(seconds=1)) == url
    assert verify_signature(file_id, expires, signature, settings=settings, now=NOW) == int(expires)


def test_a_url_is_valid_until_it_expires(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, FILE_URL_SECRET=SECRET)
    file_id = uuid.uuid4()
    expires, signature = query(signed_url(file_id, settings=settings, now=NOW, ttl_seconds=600))
    at_expiry = datetime.fromtimestamp(int(expires), UTC)
    verify_signature(file_id, expires, signature, settings=settings, now=at_expiry)
    with pytest.raises(InvalidSignature):
        verify_signature(
            file_id, expires, signature, settings=settings, now=at_expiry + timedelta(seconds=1)
        )


@pytest.mark.parametrize(
    "tamper",
    [
        "other_file",
        "later_expiry",
        "flipped_signature",
        "upper_case_signature",
        "missing_signature",
        "missing_expiry",
        "garbage_expiry",
        "non_ascii_signature",
        "other_key",
    ],
)
def test_any_change_invalidates_the_url(tmp_path: Path, tamper: str) -> None:
    settings = make_settings(tmp_path, FILE_URL_SECRET=SECRET)
    file_id = uuid.uuid4()
    expires, signature = query(signed_url(file_id, settings=settings, now=NOW))
    target: uuid.UUID = file_id
    given_expires: str | None = expires
    given_signature: str | None = signature
    check_settings = settings
    if tamper == "other_file":
        target = uuid.uuid4()
    elif tamper == "later_expiry":
        given_expires = str(int(expires) + EXPIRY_STEP)
    elif tamper == "flipped_signature":
        given_signature = ("0" if signature[0] != "0" else "1") + signature[1:]
    elif tamper == "upper_case_signature":
        given_signature = signature.upper() if signature != signature.upper() else "X"
    elif tamper == "missing_signature":
        given_signature = None
    elif tamper == "missing_expiry":
        given_expires = ""
    elif tamper == "garbage_expiry":
        given_expires = "\uff11\uff12\uff13"  # fullwidth digits: isdigit(), not ASCII
    elif tamper == "non_ascii_signature":
        given_signature = "é" * 64
    elif tamper == "other_key":
        check_settings = make_settings(tmp_path, FILE_URL_SECRET="z" * 40)
    with pytest.raises(InvalidSignature):
        verify_signature(target, given_expires, given_signature, settings=check_settings, now=NOW)


def test_the_development_key_is_made_once_and_kept(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    first = url_key(make_settings(var_dir))
    assert len(first) == 64
    key_file = var_dir / "file-url-secret"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert url_key(make_settings(var_dir)) == first
    assert [p.name for p in var_dir.iterdir()] == ["file-url-secret"]
    # URLs made before a restart still verify after it
    file_id = uuid.uuid4()
    expires, signature = query(signed_url(file_id, settings=make_settings(var_dir), now=NOW))
    verify_signature(file_id, expires, signature, settings=make_settings(var_dir), now=NOW)


def test_a_configured_secret_is_used(tmp_path: Path) -> None:
    assert url_key(make_settings(tmp_path, FILE_URL_SECRET=SECRET)) == SECRET.encode()
    assert not (tmp_path / "file-url-secret").exists()


def test_production_refuses_to_start_without_a_file_url_secret(
    monkeypatch: pytest.MonkeyPatch, jwt_private_key_pem: str
) -> None:
    monkeypatch.setenv("IPMARKET_ENV", "production")
    monkeypatch.setenv("JWT_PRIVATE_KEY", jwt_private_key_pem)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db:5432/x")
    monkeypatch.delenv("FILE_URL_SECRET", raising=False)
    with pytest.raises(ValidationError, match="FILE_URL_SECRET"):
        Settings(_env_file=None)
    monkeypatch.setenv("FILE_URL_SECRET", "short")
    with pytest.raises(ValidationError, match="FILE_URL_SECRET"):
        Settings(_env_file=None)
    monkeypatch.setenv("FILE_URL_SECRET", SECRET)
    settings = Settings(_env_file=None)
    assert settings.file_url_secret is not None
    assert SECRET not in repr(settings)


def test_upload_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IPMARKET_ENV", raising=False)
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "5242880")
    monkeypatch.setenv("FILE_URL_TTL_SECONDS", "600")
    settings = Settings(_env_file=None)
    assert settings.max_upload_bytes == 5 * 1024 * 1024
    assert settings.file_url_ttl_seconds == 600
    monkeypatch.delenv("MAX_UPLOAD_BYTES")
    assert Settings(_env_file=None).max_upload_bytes == 100 * 1024 * 1024
