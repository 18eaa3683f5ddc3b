"""Imports every module's event consumers, in-transaction hooks and periodic jobs so that
they register."""

import ipmarket.identity.handlers
import ipmarket.ip_assets.handlers
import ipmarket.licensing.handlers
import ipmarket.payments.consumers
import ipmarket.payments.hooks
import ipmarket.payments.jobs
import ipmarket.payments.stats
import ipmarket.products.handlers
import ipmarket.provenance.handlers  # noqa: F401
