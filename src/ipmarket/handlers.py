"""Imports every module's event consumers, in-transaction hooks and periodic jobs so that
they register."""

import ipmarket.identity.handlers
import ipmarket.licensing.handlers
import ipmarket.products.handlers  # noqa: F401
