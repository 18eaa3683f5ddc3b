"""Imports every module's event consumers (`consumers`), in-transaction hook answers
(`hooks`) and periodic jobs (`jobs`) so that they register; `runtime.bootstrap` loads it."""

import ipmarket.chain.consumers
import ipmarket.chain.jobs
import ipmarket.identity.consumers
import ipmarket.ip_assets.consumers
import ipmarket.licensing.hooks
import ipmarket.licensing.jobs
import ipmarket.payments.consumers
import ipmarket.payments.jobs
import ipmarket.products.hooks
import ipmarket.products.jobs
import ipmarket.provenance.consumers
import ipmarket.transparency.consumers
import ipmarket.transparency.jobs  # noqa: F401
