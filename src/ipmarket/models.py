"""Every module's tables, gathered for Alembic. Import nothing else from here."""

from ipmarket.audit.models import AuditLog
from ipmarket.eventbus.models import OutboxEvent, ProcessedEvent
from ipmarket.identity.models import AuthSession, OneTimeToken, RefreshToken, User
from ipmarket.kit.db import Base
from ipmarket.settings.models import AdminSetting

metadata = Base.metadata

__all__ = [
    "AdminSetting",
    "AuditLog",
    "AuthSession",
    "OneTimeToken",
    "OutboxEvent",
    "ProcessedEvent",
    "RefreshToken",
    "User",
    "metadata",
]
