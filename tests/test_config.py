"""Root settings: names from the environment, production refuses missing secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ipmarket.config import Settings, serving_base_url
from ipmarket.identity import TokenSigner


def test_names_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db:5432/x")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/1")
    monkeypatch.setenv("RABBITMQ_URL", "amqp://guest:guest@mq:5672/")
    monkeypatch.setenv("SMTP_URL", "smtp://mail:25")
    monkeypatch.setenv("RATE_LIMIT_USER_PER_HOUR", "50")
    monkeypatch.setenv("RATE_LIMIT_AUTH_PER_MINUTE", "7")
    settings = Settings()
    assert settings.database_url == "postgresql://u@db:5432/x"
    assert settings.redis_url == "redis://cache:6379/1"
    assert settings.smtp_url == "smtp://mail:25"
    assert settings.rate_limit_user_per_hour == 50
    assert settings.rate_limit_auth_per_minute == 7
    # events go to RabbitMQ workers, not the API process
    assert settings.run_relay_in_process is False


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "DATABASE_URL",
        "REDIS_URL",
        "RABBITMQ_URL",
        "IPMARKET_ENV",
        "RATE_LIMIT_USER_PER_HOUR",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.ipmarket_env == "development"
    assert settings.rate_limit_user_per_hour == 1000
    assert settings.run_relay_in_process is True


def test_production_refuses_to_start_without_a_signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPMARKET_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db:5432/x")
    monkeypatch.delenv("JWT_PRIVATE_KEY", raising=False)
    with pytest.raises(ValidationError, match="JWT_PRIVATE_KEY"):
        Settings(_env_file=None)
    monkeypatch.setenv("JWT_PRIVATE_KEY", "")
    with pytest.raises(ValidationError, match="JWT_PRIVATE_KEY"):
        Settings(_env_file=None)


def test_production_refuses_an_embedded_database(
    monkeypatch: pytest.MonkeyPatch, jwt_private_key_pem: str
) -> None:
    monkeypatch.setenv("IPMARKET_ENV", "production")
    monkeypatch.setenv("JWT_PRIVATE_KEY", jwt_private_key_pem)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        Settings(_env_file=None)


def test_development_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    settings = Settings.model_validate({"VAR_DIR": tmp_path, "DATABASE_URL": "postgresql://x/y"})
    first = TokenSigner.from_settings(settings)
    second = TokenSigner.from_settings(settings)
    assert first.kid == second.kid
    key_file = tmp_path / "jwt-ed25519.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_a_key_that_is_not_ed25519_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    settings = Settings.model_validate(
        {"JWT_PRIVATE_KEY": pem.decode(), "DATABASE_URL": "postgresql://x/y"}
    )
    with pytest.raises(TypeError, match="Ed25519"):
        TokenSigner.from_settings(settings)


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("127.0.0.1", 8000, "http://127.0.0.1:8000"),
        ("127.0.0.1", 8123, "http://127.0.0.1:8123"),
        ("localhost", 9000, "http://localhost:9000"),
        ("market.example", 80, "http://market.example:80"),
        # every interface: links from this machine go to its loopback
        ("0.0.0.0", 8080, "http://127.0.0.1:8080"),
        ("::", 8080, "http://[::1]:8080"),
        ("::1", 8001, "http://[::1]:8001"),
        ("[::1]", 8001, "http://[::1]:8001"),
    ],
)
def test_the_serving_base_url_follows_the_host_and_port(
    host: str, port: int, expected: str
) -> None:
    assert serving_base_url(host, port) == expected


def test_the_default_public_base_url_is_the_default_serving_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    assert Settings(_env_file=None).public_base_url == "http://127.0.0.1:8000"
