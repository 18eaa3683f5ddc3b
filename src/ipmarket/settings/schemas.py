"""Platform settings (seed `PlatformSettings`, §3.2.7) and their partial update.

The wire format is camelCase; unknown keys are rejected. Each field type below is shared by
the full model and the patch, so a bad value in a patch is reported with its path before the
merge. Booleans, integers and strings are strict (``"true"`` is not a boolean, ``10.0`` is not
an integer); amounts and percentages are decimals with at most two places, given as JSON
numbers and shown as JSON numbers.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
)

from ipmarket.kit.money import Amount, JsonNumberOnly, Percentage
from ipmarket.kit.schemas import Schema

__all__ = [
    "SETTINGS_SECTIONS",
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
]

MIB = 1024 * 1024
MINUTES_PER_DAY = 24 * 60

PayoutSchedule = Literal["daily", "weekly", "monthly"]
ContentModerationLevel = Literal["relaxed", "moderate", "strict"]

# RFC 6838 type/subtype names (restricted-name), compared in lower case.
_MIME_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
# A Stripe publishable key (pk_test_... or pk_live_...), or empty when Stripe is not used.
_STRIPE_PUBLISHABLE_KEY = r"^(pk_(test|live)_[A-Za-z0-9]{1,247})?$"


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("Value should not be blank")
    return value


def _mime_types(values: list[str]) -> list[str]:
    """Lower-cased, validated and de-duplicated, first occurrence kept."""
    seen: dict[str, None] = {}
    for value in values:
        normal = value.strip().lower()
        if not _MIME_TYPE.fullmatch(normal):
            raise ValueError(f"{value!r} is not a MIME type such as image/png")
        seen.setdefault(normal, None)
    return list(seen)


# Amounts and percentages come as JSON numbers here: no strings, no booleans.
NUMBER_ONLY = JsonNumberOnly()

PlatformName = Annotated[StrictStr, Field(min_length=1, max_length=100), AfterValidator(_not_blank)]
PlatformDescription = Annotated[StrictStr, Field(max_length=1000)]
StripePublishableKey = Annotated[StrictStr, Field(pattern=_STRIPE_PUBLISHABLE_KEY)]
FileSize = Annotated[StrictInt, Field(gt=0)]
MimeTypes = Annotated[
    list[StrictStr], Field(min_length=1, max_length=100), AfterValidator(_mime_types)
]
ReservationMinutes = Annotated[StrictInt, Field(ge=1, le=MINUTES_PER_DAY)]
PayoutHoldDays = Annotated[StrictInt, Field(ge=0, le=365)]
SessionTimeoutMinutes = Annotated[StrictInt, Field(gt=0, le=366 * MINUTES_PER_DAY)]
PasswordMinLength = Annotated[StrictInt, Field(ge=8, le=128)]
MaxLoginAttempts = Annotated[StrictInt, Field(ge=1, le=1000)]

DEFAULT_ALLOWED_FILE_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "model/gltf-binary",
    "audio/mpeg",
    "video/mp4",
)


# -- the settings ----------------------------------------------------------------------------


class GeneralSettings(Schema):
    platform_name: PlatformName = Field(
        default="ipmarket", description="Name shown on pages and in emails."
    )
    platform_description: PlatformDescription = Field(
        default="A marketplace for licensed secondary creation.",
        description="One-paragraph description of the platform.",
    )
    support_email: EmailStr = Field(
        default="support@example.com", description="Address users write to for help."
    )
    maintenance_mode: StrictBool = Field(
        default=False, description="When on, only administrators can use the platform."
    )
    allow_new_registrations: StrictBool = Field(
        default=True, description="When off, sign-up is refused."
    )
    require_email_verification: StrictBool = Field(
        default=True, description="Users must confirm their email address before acting."
    )


class PaymentSettings(Schema):
    platform_fee_percentage: Annotated[Percentage, NUMBER_ONLY] = Field(
        default=Decimal(10),
        description="Share of every sale kept by the platform, percent (0-100, 2 decimals).",
    )
    minimum_payout: Annotated[Amount, NUMBER_ONLY] = Field(
        default=Decimal(10),
        description="Smallest payout, in the platform currency's major unit (>= 0).",
    )
    payout_schedule: PayoutSchedule = Field(
        default="weekly", description="How often available earnings are paid out."
    )
    stripe_publishable_key: StripePublishableKey = Field(
        default="", description="Stripe publishable key (pk_test_... or pk_live_...), or empty."
    )
    paypal_enabled: StrictBool = Field(default=False, description="Offer PayPal at checkout.")
    crypto_enabled: StrictBool = Field(
        default=False, description="Offer cryptocurrency at checkout."
    )
    reservation_minutes: ReservationMinutes = Field(
        default=15,
        description="Minutes stock stays reserved for a started purchase (1-1440).",
    )
    payout_hold_days: PayoutHoldDays = Field(
        default=7,
        description="Days earnings stay pending before they become available (0-365).",
    )


class VerificationSettings(Schema):
    auto_verify_creators: StrictBool = Field(
        default=False, description="Verify creators without an administrator's review."
    )
    require_portfolio_for_creators: StrictBool = Field(
        default=True, description="Creators must submit a portfolio to be verified."
    )
    require_business_docs_for_premium: StrictBool = Field(
        default=True, description="Premium verification requires business documents."
    )
    verification_fee: Annotated[Amount, NUMBER_ONLY] = Field(
        default=Decimal(0),
        description="Fee for a verification request, in the platform currency (>= 0).",
    )
    manual_review_threshold: Annotated[Amount, NUMBER_ONLY] = Field(
        default=Decimal(1000),
        description=(
            "Amount in the platform currency at or above which a verification or transaction "
            "goes to manual review instead of automatic approval (>= 0)."
        ),
    )


class ContentSettings(Schema):
    auto_approve_ips: StrictBool = Field(
        default=False,
        alias="autoApproveIPs",
        description="Approve new IP assets without an administrator's review.",
    )
    ai_content_detection: StrictBool = Field(
        default=False, description="Scan uploads for AI-generated content."
    )
    copyright_check_enabled: StrictBool = Field(
        default=True, description="Check uploads against registered works."
    )
    max_file_size: FileSize = Field(
        default=50 * MIB, description="Largest accepted upload, in bytes (> 0)."
    )
    allowed_file_types: MimeTypes = Field(
        default_factory=lambda: list(DEFAULT_ALLOWED_FILE_TYPES),
        description="MIME types accepted for uploads.",
    )
    content_moderation_level: ContentModerationLevel = Field(
        default="moderate", description="How strictly reported and scanned content is handled."
    )


class SecuritySettings(Schema):
    two_factor_required: StrictBool = Field(
        default=False, description="Every account must use two-factor authentication."
    )
    session_timeout: SessionTimeoutMinutes = Field(
        default=7 * MINUTES_PER_DAY,
        description=(
            "Lifetime of a login session in minutes: how long a refresh session lasts before "
            "the user must sign in again (access tokens are short-lived and set by "
            "ACCESS_TOKEN_TTL_SECONDS). At most one year."
        ),
    )
    password_min_length: PasswordMinLength = Field(
        default=8, description="Minimum password length (8-128)."
    )
    password_require_special_chars: StrictBool = Field(
        default=True,
        description="Passwords must contain a character that is not a letter or digit.",
    )
    max_login_attempts: MaxLoginAttempts = Field(
        default=5, description="Failed sign-ins in a row before the account is locked (>= 1)."
    )


class PlatformSettings(Schema):
    """Every platform setting, each with its value or its default."""

    general: GeneralSettings = Field(default_factory=GeneralSettings)
    payments: PaymentSettings = Field(default_factory=PaymentSettings)
    verification: VerificationSettings = Field(default_factory=VerificationSettings)
    content: ContentSettings = Field(default_factory=ContentSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)


# -- the partial update: the same fields, every one optional ---------------------------------


def _without_null(schema: dict[str, Any]) -> None:
    """The patch's JSON schema: fields are optional but never null."""
    for prop in schema.get("properties", {}).values():
        options = prop.get("anyOf")
        if options is not None:
            rest = [option for option in options if option != {"type": "null"}]
            if len(rest) == 1:
                del prop["anyOf"]
                prop.update(rest[0])
            else:
                prop["anyOf"] = rest
        if prop.get("default", ...) is None:
            del prop["default"]


class _Patch(Schema):
    """Leaving a field out keeps its value; an explicit null is refused at its path."""

    model_config = ConfigDict(**Schema.model_config, json_schema_extra=_without_null)

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("null is not allowed: leave the field out to keep its value")
        return value


class GeneralSettingsPatch(_Patch):
    platform_name: PlatformName | None = None
    platform_description: PlatformDescription | None = None
    support_email: EmailStr | None = None
    maintenance_mode: StrictBool | None = None
    allow_new_registrations: StrictBool | None = None
    require_email_verification: StrictBool | None = None


class PaymentSettingsPatch(_Patch):
    platform_fee_percentage: Annotated[Percentage, NUMBER_ONLY] | None = None
    minimum_payout: Annotated[Amount, NUMBER_ONLY] | None = None
    payout_schedule: PayoutSchedule | None = None
    stripe_publishable_key: StripePublishableKey | None = None
    paypal_enabled: StrictBool | None = None
    crypto_enabled: StrictBool | None = None
    reservation_minutes: ReservationMinutes | None = None
    payout_hold_days: PayoutHoldDays | None = None


class VerificationSettingsPatch(_Patch):
    auto_verify_creators: StrictBool | None = None
    require_portfolio_for_creators: StrictBool | None = None
    require_business_docs_for_premium: StrictBool | None = None
    verification_fee: Annotated[Amount, NUMBER_ONLY] | None = None
    manual_review_threshold: Annotated[Amount, NUMBER_ONLY] | None = None


class ContentSettingsPatch(_Patch):
    auto_approve_ips: StrictBool | None = Field(default=None, alias="autoApproveIPs")
    ai_content_detection: StrictBool | None = None
    copyright_check_enabled: StrictBool | None = None
    max_file_size: FileSize | None = None
    allowed_file_types: MimeTypes | None = None
    content_moderation_level: ContentModerationLevel | None = None


class SecuritySettingsPatch(_Patch):
    two_factor_required: StrictBool | None = None
    session_timeout: SessionTimeoutMinutes | None = None
    password_min_length: PasswordMinLength | None = None
    password_require_special_chars: StrictBool | None = None
    max_login_attempts: MaxLoginAttempts | None = None


class PlatformSettingsPatch(_Patch):
    """A partial update: only the fields given change; null is not a value (it is refused)."""

    general: GeneralSettingsPatch | None = None
    payments: PaymentSettingsPatch | None = None
    verification: VerificationSettingsPatch | None = None
    content: ContentSettingsPatch | None = None
    security: SecuritySettingsPatch | None = None


# The sections in the order of the seed interface, with their model.
SETTINGS_SECTIONS: dict[str, type[Schema]] = {
    "general": GeneralSettings,
    "payments": PaymentSettings,
    "verification": VerificationSettings,
    "content": ContentSettings,
    "security": SecuritySettings,
}
