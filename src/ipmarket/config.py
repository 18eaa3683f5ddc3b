"""Root settings, read from the environment (and `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# A file URL key shorter than this is refused in production (e.g. `openssl rand -hex 32`).
MIN_FILE_URL_SECRET_LENGTH = 32

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
# Interfaces that mean "every address": links from this machine then go to its loopback.
_WILDCARD_HOSTS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104 - binds nothing


def serving_base_url(host: str, port: int) -> str:
    """The base URL of a server bound to `host`:`port`, as a browser on this machine reaches it.

    It is the default of PUBLIC_BASE_URL for `ipmarket serve`, so that links in emails follow
    the port the server really runs on. A server meant for other machines sets PUBLIC_BASE_URL.
    """
    name = _WILDCARD_HOSTS.get(host.strip("[]"), host.strip("[]"))
    if ":" in name:  # an IPv6 address is written in brackets in a URL
        name = f"[{name}]"
    return f"http://{name}:{port}"


class Settings(BaseSettings):
    """Deployment settings. Platform settings that admins change live in the database."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    ipmarket_env: Literal["development", "production"] = Field(
        default="development", alias="IPMARKET_ENV"
    )
    # Without DATABASE_URL the embedded PostgreSQL under VAR_DIR is used.
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    # Namespace of every key this deployment keeps in Redis (cache, rate limits).
    redis_prefix: str = Field(
        default="ipmarket:", min_length=1, max_length=64, alias="REDIS_PREFIX"
    )
    rabbitmq_url: str | None = Field(default=None, alias="RABBITMQ_URL")
    smtp_url: str | None = Field(default=None, alias="SMTP_URL")
    smtp_sender: str = Field(default="ipmarket <no-reply@ipmarket.local>", alias="SMTP_SENDER")
    var_dir: Path = Field(default=Path("var"), alias="VAR_DIR")
    # Base of the links in emails. `ipmarket serve` defaults it to its own --host and --port.
    public_base_url: str = Field(
        default=serving_base_url(DEFAULT_HOST, DEFAULT_PORT), alias="PUBLIC_BASE_URL"
    )

    rate_limit_user_per_hour: int = Field(default=1000, ge=1, alias="RATE_LIMIT_USER_PER_HOUR")
    rate_limit_auth_per_minute: int = Field(default=20, ge=1, alias="RATE_LIMIT_AUTH_PER_MINUTE")

    # PEM-encoded Ed25519 private key that signs access tokens.
    jwt_private_key: SecretStr | None = Field(default=None, alias="JWT_PRIVATE_KEY")
    jwt_issuer: str = Field(default="ipmarket", alias="JWT_ISSUER")
    access_token_ttl_seconds: int = Field(default=900, ge=30, alias="ACCESS_TOKEN_TTL_SECONDS")

    login_lockout_minutes: int = Field(default=15, ge=1, alias="LOGIN_LOCKOUT_MINUTES")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, alias="MAX_BODY_BYTES")
    # The request body ceiling of file uploads (/v1/files), in place of MAX_BODY_BYTES. Each
    # file is further limited by the platform setting content.maxFileSize.
    max_upload_bytes: int = Field(default=100 * 1024 * 1024, ge=1024, alias="MAX_UPLOAD_BYTES")
    # HMAC key of the signed file URLs. Development keeps a generated one under VAR_DIR.
    file_url_secret: SecretStr | None = Field(default=None, alias="FILE_URL_SECRET")
    file_url_ttl_seconds: int = Field(
        default=3600, ge=60, le=7 * 24 * 3600, alias="FILE_URL_TTL_SECONDS"
    )
    # Payments: without STRIPE_SECRET_KEY the built-in test provider (Stripe test mode, in
    # memory) takes payments. STRIPE_API_BASE points the Stripe SDK at another host (a
    # local stand-in in tests); unset, the SDK's own default is used.
    stripe_secret_key: SecretStr | None = Field(default=None, alias="STRIPE_SECRET_KEY")
    stripe_webhook_secret: SecretStr | None = Field(default=None, alias="STRIPE_WEBHOOK_SECRET")
    stripe_api_base: str | None = Field(default=None, alias="STRIPE_API_BASE")
    # Content credentials (C2PA) of product images: the PEM certificate chain (signer first)
    # and its PEM private key. Development generates a chain under VAR_DIR; production
    # refuses to start without both (`content_credentials.configure_signing`).
    c2pa_cert_chain: Path | None = Field(default=None, alias="C2PA_CERT_CHAIN")
    c2pa_private_key: Path | None = Field(default=None, alias="C2PA_PRIVATE_KEY")
    # Ed25519 key that signs the transparency log's checkpoints: PEM (PKCS#8) or the 32-byte
    # raw private key in hex. Development keeps a generated one under VAR_DIR; production
    # refuses to boot without it (`transparency.signer_from_settings`).
    transparency_signing_key: SecretStr | None = Field(
        default=None, alias="TRANSPARENCY_SIGNING_KEY"
    )
    # Chain anchoring (the `chain` module): without CHAIN_RPC_URL nothing is sent, the
    # transparency log alone vouches for authorizations. CHAIN_PRIVATE_KEY is the platform's
    # account (hex), the only one the contract lets write; CHAIN_ID guards against a node of
    # another chain (unset: whatever the node says). A transaction counts once it is
    # CHAIN_CONFIRMATIONS blocks deep; one not mined within CHAIN_STUCK_AFTER_SECONDS is sent
    # again with the same nonce and a higher fee.
    chain_rpc_url: str | None = Field(default=None, alias="CHAIN_RPC_URL")
    chain_private_key: SecretStr | None = Field(default=None, alias="CHAIN_PRIVATE_KEY")
    chain_contract_address: str | None = Field(default=None, alias="CHAIN_CONTRACT_ADDRESS")
    chain_id: int | None = Field(default=None, ge=1, alias="CHAIN_ID")
    chain_confirmations: int = Field(default=3, ge=1, le=1000, alias="CHAIN_CONFIRMATIONS")
    chain_stuck_after_seconds: int = Field(default=180, ge=5, alias="CHAIN_STUCK_AFTER_SECONDS")
    # Run the outbox relay inside the API process (the embedded mode).
    relay_in_process: bool | None = Field(default=None, alias="RELAY_IN_PROCESS")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")

    @property
    def is_production(self) -> bool:
        return self.ipmarket_env == "production"

    @property
    def run_relay_in_process(self) -> bool:
        """The relay runs in `serve` unless RabbitMQ carries events to workers."""
        if self.relay_in_process is not None:
            return self.relay_in_process
        return self.rabbitmq_url is None

    @model_validator(mode="after")
    def _refuse_default_secrets_in_production(self) -> Settings:
        if self.is_production:
            if self.jwt_private_key is None or not self.jwt_private_key.get_secret_value():
                raise ValueError("JWT_PRIVATE_KEY must be set when IPMARKET_ENV=production")
            if self.database_url is None:
                raise ValueError("DATABASE_URL must be set when IPMARKET_ENV=production")
            secret = self.file_url_secret.get_secret_value() if self.file_url_secret else ""
            if len(secret) < MIN_FILE_URL_SECRET_LENGTH:
                raise ValueError(
                    f"FILE_URL_SECRET must be set, at least {MIN_FILE_URL_SECRET_LENGTH} "
                    "characters, when IPMARKET_ENV=production"
                )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
