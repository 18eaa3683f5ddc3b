"""The license-fee port is wired at startup, and a process that did not wire it refuses to
start rather than approving a license without capturing its fee."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from ipmarket.app import create_app
from ipmarket.config import Settings
from ipmarket.licensing import configure_license_fees, license_fees
from ipmarket.payments import LicenseFeePort


async def test_the_api_wires_the_payments_module_as_the_license_fee_port(app: FastAPI) -> None:
    # given a started API process
    # then licensing's fees go to the payments module
    assert isinstance(license_fees(), LicenseFeePort)


def test_asking_for_the_port_before_it_is_wired_fails_loudly() -> None:
    # given a process that has not wired the port
    configure_license_fees(None)
    try:
        # when licensing asks for it, then it is an error naming the missing wiring
        with pytest.raises(RuntimeError, match="No license-fee port is wired"):
            license_fees()
    finally:
        configure_license_fees(LicenseFeePort())


async def test_an_app_starts_with_the_port_wired(settings: Settings) -> None:
    # given no wiring at all
    configure_license_fees(None)
    # when the API starts
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        # then the port is there
        assert isinstance(license_fees(), LicenseFeePort)
