"""Imports every module's event consumers so they register with the event bus."""

import ipmarket.identity.handlers  # noqa: F401
