"""Every module's tables, gathered for Alembic. Import nothing else from here."""

from ipmarket.audit.models import AuditLog
from ipmarket.chain.models import ChainAccount, ChainTransaction
from ipmarket.content_credentials.models import ImageCredentials, SignedImage
from ipmarket.eventbus.models import OutboxEvent, ProcessedEvent
from ipmarket.files.models import StoredFile
from ipmarket.identity.models import AuthSession, OneTimeToken, RefreshToken, User
from ipmarket.ip_assets.models import IPAsset
from ipmarket.kit.db import Base
from ipmarket.kit.idempotency import IdempotencyKey
from ipmarket.licensing.models import LicenseApplication, LicenseTerms
from ipmarket.payments.models import (
    LedgerAccount,
    LedgerEntry,
    LedgerPosting,
    Payout,
    ProviderEvent,
    Refund,
    Transaction,
)
from ipmarket.products.models import Product
from ipmarket.provenance.models import AuthorizationChain, Unit, UnitScan
from ipmarket.settings.models import AdminSetting
from ipmarket.transparency.models import LogEntry, LogHead, LogNode, SignedCheckpoint

metadata = Base.metadata

__all__ = [
    "AdminSetting",
    "AuditLog",
    "AuthSession",
    "AuthorizationChain",
    "ChainAccount",
    "ChainTransaction",
    "IPAsset",
    "IdempotencyKey",
    "ImageCredentials",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerPosting",
    "LicenseApplication",
    "LicenseTerms",
    "LogEntry",
    "LogHead",
    "LogNode",
    "OneTimeToken",
    "OutboxEvent",
    "Payout",
    "ProcessedEvent",
    "Product",
    "ProviderEvent",
    "RefreshToken",
    "Refund",
    "SignedCheckpoint",
    "SignedImage",
    "StoredFile",
    "Transaction",
    "Unit",
    "UnitScan",
    "User",
    "metadata",
]
