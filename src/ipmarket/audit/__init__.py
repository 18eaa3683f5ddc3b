"""Audit trail: an append-only record of every state-changing action."""

from ipmarket.audit.models import AuditLog
from ipmarket.audit.queries import list_audit_logs
from ipmarket.audit.schemas import AuditLogRead
from ipmarket.audit.service import record

__all__ = ["AuditLog", "AuditLogRead", "list_audit_logs", "record"]
