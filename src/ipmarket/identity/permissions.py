"""Roles and permissions (seed §4.1): per user type, admin level and department."""

from __future__ import annotations

from enum import StrEnum

from ipmarket.identity.models import AdminLevel, UserType


class Permission(StrEnum):
    # creators
    CREATE_IP = "create_ip"
    MANAGE_LICENSES = "manage_licenses"
    VIEW_ANALYTICS = "view_analytics"
    # secondary creators
    APPLY_LICENSE = "apply_license"
    CREATE_PRODUCTS = "create_products"
    MANAGE_INVENTORY = "manage_inventory"
    # buyers
    PURCHASE_PRODUCTS = "purchase_products"
    VERIFY_AUTHENTICITY = "verify_authenticity"
    # admin: users
    MANAGE_USERS = "manage_users"
    VIEW_USER_DETAILS = "view_user_details"
    SUSPEND_USERS = "suspend_users"
    VERIFY_USERS = "verify_users"
    # admin: content
    VERIFY_IP = "verify_ip"
    MODERATE_CONTENT = "moderate_content"
    RESOLVE_DISPUTES = "resolve_disputes"
    # admin: licenses
    APPROVE_LICENSES = "approve_licenses"
    REVOKE_LICENSES = "revoke_licenses"
    VIEW_LICENSE_DETAILS = "view_license_details"
    # admin: transactions
    VIEW_TRANSACTIONS = "view_transactions"
    PROCESS_REFUNDS = "process_refunds"
    RESOLVE_PAYMENT_ISSUES = "resolve_payment_issues"
    # admin: platform
    PLATFORM_SETTINGS = "platform_settings"
    MANAGE_NOTIFICATIONS = "manage_notifications"
    # admin: system
    AUDIT_LOGS = "audit_logs"
    GENERATE_REPORTS = "generate_reports"
    SYSTEM_MAINTENANCE = "system_maintenance"


P = Permission

USER_TYPE_PERMISSIONS: dict[UserType, frozenset[Permission]] = {
    UserType.CREATOR: frozenset({P.CREATE_IP, P.MANAGE_LICENSES, P.VIEW_ANALYTICS}),
    UserType.SECONDARY_CREATOR: frozenset({P.APPLY_LICENSE, P.CREATE_PRODUCTS, P.MANAGE_INVENTORY}),
    UserType.BUYER: frozenset({P.PURCHASE_PRODUCTS, P.VERIFY_AUTHENTICITY}),
    UserType.ADMIN: frozenset(),  # admins get theirs from level and departments
}


class Department(StrEnum):
    CONTENT = "content"
    PAYMENTS = "payments"
    USERS = "users"
    ANALYTICS = "analytics"


DEPARTMENT_PERMISSIONS: dict[Department, frozenset[Permission]] = {
    Department.USERS: frozenset(
        {P.MANAGE_USERS, P.VIEW_USER_DETAILS, P.SUSPEND_USERS, P.VERIFY_USERS}
    ),
    Department.CONTENT: frozenset(
        {
            P.VERIFY_IP,
            P.MODERATE_CONTENT,
            P.RESOLVE_DISPUTES,
            P.APPROVE_LICENSES,
            P.REVOKE_LICENSES,
            P.VIEW_LICENSE_DETAILS,
        }
    ),
    Department.PAYMENTS: frozenset(
        {P.VIEW_TRANSACTIONS, P.PROCESS_REFUNDS, P.RESOLVE_PAYMENT_ISSUES}
    ),
    Department.ANALYTICS: frozenset({P.VIEW_ANALYTICS, P.GENERATE_REPORTS}),
}

# What every `admin`-level administrator holds whatever their departments.
ADMIN_BASE_PERMISSIONS = frozenset(
    {P.PLATFORM_SETTINGS, P.MANAGE_NOTIFICATIONS, P.AUDIT_LOGS, P.SYSTEM_MAINTENANCE}
)

# Moderators review content and may look people up, nothing more.
MODERATOR_PERMISSIONS = frozenset(
    {
        P.VERIFY_IP,
        P.MODERATE_CONTENT,
        P.RESOLVE_DISPUTES,
        P.VIEW_LICENSE_DETAILS,
        P.VIEW_USER_DETAILS,
    }
)

# Permissions that create or buy: refused to a user whose email is not verified while
# `settings.general.requireEmailVerification` is on.
ACTING_PERMISSIONS = frozenset(
    {
        P.CREATE_IP,
        P.MANAGE_LICENSES,
        P.APPLY_LICENSE,
        P.CREATE_PRODUCTS,
        P.MANAGE_INVENTORY,
        P.PURCHASE_PRODUCTS,
    }
)

ALL = "*"


def permissions_for(
    user_type: str, admin_level: str | None, departments: list[str] | None
) -> list[str]:
    """The permission names a user holds; `["*"]` for a super admin."""
    if user_type != UserType.ADMIN:
        return sorted(USER_TYPE_PERMISSIONS[UserType(user_type)])
    if admin_level == AdminLevel.SUPER_ADMIN:
        return [ALL]
    if admin_level == AdminLevel.MODERATOR:
        return sorted(MODERATOR_PERMISSIONS)
    granted = set(ADMIN_BASE_PERMISSIONS)
    for department in departments or []:
        granted |= DEPARTMENT_PERMISSIONS[Department(department)]
    return sorted(granted)


def holds(permissions: list[str], permission: Permission) -> bool:
    return ALL in permissions or permission.value in permissions
