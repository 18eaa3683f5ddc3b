"""Platform settings that administrators change at run time (seed `PlatformSettings`).

Deployment settings (URLs, secrets) come from the environment: see `ipmarket.config`.
"""

from ipmarket.settings.schemas import (
    ContentModerationLevel,
    ContentSettings,
    ContentSettingsPatch,
    GeneralSettings,
    GeneralSettingsPatch,
    PaymentSettings,
    PaymentSettingsPatch,
    PayoutSchedule,
    PlatformSettings,
    PlatformSettingsPatch,
    SecuritySettings,
    SecuritySettingsPatch,
    VerificationSettings,
    VerificationSettingsPatch,
)
from ipmarket.settings.service import get_platform_settings, update_platform_settings

__all__ = [
    "ContentModerationLevel",
    "ContentSettings",
    "ContentSettingsPatch",
    "GeneralSettings",
    "GeneralSettingsPatch",
    "PaymentSettings",
    "PaymentSettingsPatch",
    "PayoutSchedule",
    "PlatformSettings",
    "PlatformSettingsPatch",
    "SecuritySettings",
    "SecuritySettingsPatch",
    "VerificationSettings",
    "VerificationSettingsPatch",
    "get_platform_settings",
    "update_platform_settings",
]
