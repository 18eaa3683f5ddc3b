"""The settings models: seed field names, defaults, strict validation, the patch shape."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from ipmarket.settings import (
    ContentSettingsPatch,
    GeneralSettingsPatch,
    PaymentSettingsPatch,
    PlatformSettings,
    PlatformSettingsPatch,
    SecuritySettingsPatch,
    VerificationSettingsPatch,
)
from ipmarket.settings.schemas import SETTINGS_SECTIONS

# The seed's PlatformSettings interface (technical-design §3.2.7), plus the two payment
# settings later issues need.
SEED_FIELDS = {
    "general": {
        "platformName",
        "platformDescription",
        "supportEmail",
        "maintenanceMode",
        "allowNewRegistrations",
        "requireEmailVerification",
    },
    "payments": {
        "platformFeePercentage",
        "minimumPayout",
        "payoutSchedule",
        "stripePublishableKey",
        "paypalEnabled",
        "cryptoEnabled",
        "reservationMinutes",
        "payoutHoldDays",
    },
    "verification": {
        "autoVerifyCreators",
        "requirePortfolioForCreators",
        "requireBusinessDocsForPremium",
        "verificationFee",
        "manualReviewThreshold",
    },
    "content": {
        "autoApproveIPs",
        "aiContentDetection",
        "copyrightCheckEnabled",
        "maxFileSize",
        "allowedFileTypes",
        "contentModerationLevel",
    },
    "security": {
        "twoFactorRequired",
        "sessionTimeout",
        "passwordMinLength",
        "passwordRequireSpecialChars",
        "maxLoginAttempts",
    },
}

PATCH_SECTIONS: dict[str, type[BaseModel]] = {
    "general": GeneralSettingsPatch,
    "payments": PaymentSettingsPatch,
    "verification": VerificationSettingsPatch,
    "content": ContentSettingsPatch,
    "security": SecuritySettingsPatch,
}


def _aliases(model: type[BaseModel]) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items()}


def test_field_names_are_the_seed_interface() -> None:
    dumped = PlatformSettings().model_dump(mode="json", by_alias=True)
    assert {section: set(fields) for section, fields in dumped.items()} == SEED_FIELDS
    assert list(SETTINGS_SECTIONS) == list(SEED_FIELDS)


def test_patch_mirrors_the_settings() -> None:
    assert _aliases(PlatformSettingsPatch) == _aliases(PlatformSettings)
    for section, model in SETTINGS_SECTIONS.items():
        assert _aliases(PATCH_SECTIONS[section]) == _aliases(model), section
        assert PlatformSettings.model_fields[section].annotation is model
        assert PlatformSettingsPatch.model_fields[section].annotation == (
            PATCH_SECTIONS[section] | None
        )


def test_defaults() -> None:
    settings = PlatformSettings()
    assert settings.general.require_email_verification is True
    assert settings.general.allow_new_registrations is True
    assert settings.general.maintenance_mode is False
    assert settings.payments.platform_fee_percentage == Decimal(10)
    assert settings.payments.minimum_payout == Decimal(10)
    assert settings.payments.payout_schedule == "weekly"
    assert settings.payments.reservation_minutes == 15
    assert settings.payments.payout_hold_days == 7
    assert settings.content.max_file_size == 50 * 1024 * 1024
    assert settings.content.allowed_file_types == [
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "model/gltf-binary",
        "audio/mpeg",
        "video/mp4",
    ]
    assert settings.security.session_timeout == 10080
    assert settings.security.password_min_length == 8
    assert settings.security.password_require_special_chars is True
    assert settings.security.max_login_attempts == 5
    # The defaults themselves pass validation, through JSON and back.
    assert PlatformSettings.model_validate_json(settings.model_dump_json(by_alias=True)) == settings


def test_decimals_are_json_numbers() -> None:
    settings = PlatformSettings.model_validate({"payments": {"platformFeePercentage": 12.35}})
    assert settings.payments.platform_fee_percentage == Decimal("12.35")
    assert settings.model_dump(mode="json", by_alias=True)["payments"]["platformFeePercentage"] == (
        12.35
    )


def _error_paths(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    with pytest.raises(ValidationError) as info:
        PlatformSettingsPatch.model_validate(data)
    return [tuple(e["loc"]) for e in info.value.errors()]


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("general", "platformName", ""),
        ("general", "platformName", "   "),
        ("general", "platformName", "x" * 101),
        ("general", "supportEmail", "not-an-email"),
        ("general", "maintenanceMode", "true"),
        ("general", "allowNewRegistrations", 1),
        ("payments", "platformFeePercentage", -0.01),
        ("payments", "platformFeePercentage", 100.01),
        ("payments", "platformFeePercentage", 10.005),
        ("payments", "platformFeePercentage", "10"),
        ("payments", "platformFeePercentage", True),
        ("payments", "minimumPayout", -1),
        ("payments", "payoutSchedule", "hourly"),
        ("payments", "stripePublishableKey", "sk_live_abc"),
        ("payments", "reservationMinutes", 0),
        ("payments", "payoutHoldDays", -1),
        ("verification", "verificationFee", -5),
        ("verification", "manualReviewThreshold", "high"),
        ("content", "maxFileSize", 0),
        ("content", "maxFileSize", 1.5),
        ("content", "allowedFileTypes", []),
        ("content", "allowedFileTypes", ["png"]),
        ("content", "allowedFileTypes", "image/png"),
        ("content", "contentModerationLevel", "none"),
        ("security", "sessionTimeout", 0),
        ("security", "passwordMinLength", 7),
        ("security", "passwordMinLength", 129),
        ("security", "maxLoginAttempts", 0),
        ("security", "twoFactorRequired", None),
    ],
)
def test_invalid_values_are_reported_at_their_path(section: str, key: str, value: Any) -> None:
    paths = _error_paths({section: {key: value}})
    assert paths
    assert all(path[:2] == (section, key) for path in paths), paths


def test_unknown_keys_and_null_sections_are_refused() -> None:
    assert _error_paths({"general": {"platformTitle": "x"}}) == [("general", "platformTitle")]
    assert _error_paths({"billing": {}}) == [("billing",)]
    assert _error_paths({"general": None}) == [("general",)]
    # Snake case is how Python callers spell fields, never an extra key.
    patch = PlatformSettingsPatch.model_validate({"payments": {"minimum_payout": 5}})
    assert patch.payments is not None
    assert patch.payments.minimum_payout == Decimal(5)


def test_mime_types_are_normalised() -> None:
    patch = PlatformSettingsPatch.model_validate(
        {"content": {"allowedFileTypes": ["IMAGE/PNG", " image/png", "model/gltf+json"]}}
    )
    assert patch.content is not None
    assert patch.content.allowed_file_types == ["image/png", "model/gltf+json"]


def test_stripe_key_may_be_empty_or_publishable() -> None:
    for key in ("", "pk_test_51HabcDEF", "pk_live_0123456789"):
        patch = PlatformSettingsPatch.model_validate({"payments": {"stripePublishableKey": key}})
        assert patch.payments is not None
        assert patch.payments.stripe_publishable_key == key


def test_patch_json_schema_has_no_nulls() -> None:
    schema = PlatformSettingsPatch.model_json_schema()
    text = repr(schema)
    assert "'null'" not in text
    fee = schema["$defs"]["PaymentSettingsPatch"]["properties"]["platformFeePercentage"]
    assert fee["type"] == "number"
    assert (fee["minimum"], fee["maximum"]) == (0, 100)
