"""Imports every module's event consumers, in-transaction hooks and periodic jobs so that
they register."""

import ipmarket.identity.handlers
import ipmarket.licensing.handlers
import ipmarket.payments.handlers
import ipmarket.payments.jobs
import ipmarket.payments.transfers
import ipmarket.products.handlers
import ipmarket.provenance.handlers  # noqa: F401
