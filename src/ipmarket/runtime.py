"""The composition root: `bootstrap(settings)` wires one process, the API (`create_app`),
the worker (`run_worker`) and the CLI's commands alike, so that the wiring lives here only.

It configures logging, registers every module's event consumers, in-transaction hook
answers and periodic jobs, makes the database and the cache the process holds, and
configures the ports the modules call (email, the verification cache, the payment provider,
licensing's license fees).
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from ipmarket.config import Settings
from ipmarket.content_credentials import configure_signing
from ipmarket.kit.cache import Cache, make_cache
from ipmarket.kit.db import Database
from ipmarket.kit.embedded_db import resolve_database_url
from ipmarket.kit.logging import configure_logging
from ipmarket.licensing import configure_license_fees, license_fees
from ipmarket.notifications import configure_email, make_email_sender
from ipmarket.payments import LicenseFeePort, configure_provider
from ipmarket.payments.providers import make_provider
from ipmarket.provenance import configure_verification_cache
from ipmarket.transparency import configure_signer, signer_from_settings

# Imports every module's consumers, hook answers and periodic jobs (they register on import).
REGISTRATIONS_MODULE = "ipmarket.registrations"


@dataclass
class Runtime:
    """What one process holds: its settings, database and cache."""

    settings: Settings
    db: Database
    cache: Cache

    async def close(self) -> None:
        await self.cache.close()
        await self.db.dispose()


def load_consumers(module: str = REGISTRATIONS_MODULE) -> None:
    """Import `module` (every module's event consumers, hook answers and periodic jobs
    register themselves on import). A module that cannot be found fails the boot: a process
    without them would start, then silently drop what its consumers and jobs should do.
    Errors inside it propagate."""
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        found = False
    if not found:
        raise RuntimeError(
            f"The registrations module {module!r} cannot be found: no consumer, hook answer "
            "or periodic job would be registered"
        )
    importlib.import_module(module)


def bootstrap(settings: Settings) -> Runtime:
    """Wire this process from `settings` and return what it holds (close it at exit).

    Without DATABASE_URL the embedded PostgreSQL under VAR_DIR is started first. Calling it
    again (tests build several apps in one process) configures the ports anew.
    """
    configure_logging(settings)
    load_consumers()
    db = Database(resolve_database_url(settings))
    cache = make_cache(settings.redis_url, prefix=settings.redis_prefix)
    configure_email(make_email_sender(settings))
    configure_verification_cache(cache)
    configure_provider(make_provider(settings))
    configure_signing(settings)  # refuses production without its C2PA certificate
    configure_signer(signer_from_settings(settings))  # production without a key stops here
    configure_license_fees(LicenseFeePort())
    license_fees()  # a process that wires no license-fee port fails here, not mid-approval
    return Runtime(settings=settings, db=db, cache=cache)
