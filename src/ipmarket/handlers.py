"""Imports every module's event consumers, in-transaction hooks and periodic jobs so that
they register."""

import ipmarket.identity.handlers  # noqa: F401
import ipmarket.licensing.handlers  # noqa: F401
import ipmarket.products.handlers  # noqa: F401
