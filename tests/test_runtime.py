"""The composition root: what `bootstrap` loads before a process starts."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from ipmarket.runtime import REGISTRATIONS_MODULE, load_consumers


def test_the_registrations_module_is_imported() -> None:
    # when the consumers are loaded from a module that exists, then it is imported
    load_consumers("ipmarket.eventbus.maintenance")
    assert "ipmarket.eventbus.maintenance" in sys.modules
    # and the default is the module that registers every consumer, hook answer and job
    load_consumers()
    assert REGISTRATIONS_MODULE in sys.modules


@pytest.mark.parametrize("missing", ["ipmarket.no_such_module", "ipmarket_gone.registrations"])
def test_a_registrations_module_that_cannot_be_found_fails_the_boot(missing: str) -> None:
    # when the module to load consumers from is missing (or its package is), then loading
    # fails rather than starting a process whose events and jobs would do nothing
    with pytest.raises(RuntimeError, match="cannot be found"):
        load_consumers(missing)
    assert missing not in sys.modules


def test_an_error_inside_the_registrations_module_propagates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a registrations module that imports something missing
    (tmp_path / "broken_registrations.py").write_text(
        "import ipmarket.no_such_consumers  # noqa: F401\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    # when it is loaded, then the import's own error reaches the caller
    with pytest.raises(ModuleNotFoundError, match=re.escape("ipmarket.no_such_consumers")):
        load_consumers("broken_registrations")
