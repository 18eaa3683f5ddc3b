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
)
from ipmarket.identity.models import AdminLevel, User, UserStatus, UserType
from ipmarket.identity.permissions import Permission
from ipmarket.identity.schemas import (
    SuspendRequest,
    UnsuspendRequest,
    UserStatusUpdate,
    UserVerificationUpdate,
)
from ipmarket.identity.service import IdentityService, UserAdministration, create_admin
from ipmarket.identity.tokens import TokenSigner

__all__ = [
    "OPTIONAL_AUTH",
    "AdminLevel",
    "AppSettings",
    "Authorize",
    "CurrentPrincipal",
    "IdentityService",
    "MaybePrincipal",
    "Permission",
    "Principal",
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
    "bearer_subject",
    "create_admin",
]
