"""Identity: users, credentials, sessions, tokens, roles and permissions.

Other modules use only what is named here.
"""

from ipmarket.identity.deps import (
    OPTIONAL_AUTH,
    AppSettings,
    Authorize,
    CurrentPrincipal,
    MaybePrincipal,
    Principal,
    Signer,
    bearer_subject,
    browser_principal,
    require_permissions,
)
from ipmarket.identity.models import AdminLevel, User, UserStatus, UserType
from ipmarket.identity.permissions import Permission
from ipmarket.identity.queries import PublicProfile, public_profile, usernames_of
from ipmarket.identity.schemas import (
    SuspendRequest,
    UnsuspendRequest,
    UserStatusUpdate,
    UserVerificationUpdate,
)
from ipmarket.identity.service import (
    AccountLocked,
    IdentityService,
    IssuedTokens,
    UserAdministration,
    WrongCurrentPassword,
    create_admin,
)
from ipmarket.identity.tokens import TokenSigner

__all__ = [
    "OPTIONAL_AUTH",
    "AccountLocked",
    "AdminLevel",
    "AppSettings",
    "Authorize",
    "CurrentPrincipal",
    "IdentityService",
    "IssuedTokens",
    "MaybePrincipal",
    "Permission",
    "Principal",
    "PublicProfile",
    "Signer",
    "SuspendRequest",
    "TokenSigner",
    "UnsuspendRequest",
    "User",
    "UserAdministration",
    "UserStatus",
    "UserStatusUpdate",
    "UserType",
    "UserVerificationUpdate",
    "WrongCurrentPassword",
    "bearer_subject",
    "browser_principal",
    "create_admin",
    "public_profile",
    "require_permissions",
    "usernames_of",
]
