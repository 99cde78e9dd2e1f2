"""Settings shared by router mode and library mode."""

from __future__ import annotations

from decimal import Decimal

from iron_cage import _core
from iron_cage._exceptions import ConfigError
from iron_cage._pii import PiiScanner

SAFETY_MODES = ("redact", "block", "warn", "off")
BudgetArg = float | int | str | Decimal | _core.Budget | None


def scanner_for(safety_mode: str | None, pii: PiiScanner | None) -> PiiScanner | None:
    """The reply scanner for ``safety_mode`` (``None``/``"off"``: none), or ``pii`` as given."""
    mode = "off" if safety_mode is None else safety_mode
    if mode not in SAFETY_MODES:
        raise ConfigError(f"unknown safety_mode {safety_mode!r}: use one of {', '.join(SAFETY_MODES)}")
    if pii is not None:
        if mode not in ("redact", "off"):
            raise ConfigError("pass either pii=PiiScanner(mode=...) or safety_mode, not both")
        return pii
    return PiiScanner(mode=mode) if mode != "off" else None


def budget_for(budget: BudgetArg, name: str) -> _core.Budget | None:
    """A Budget from USD (float/int/Decimal/str), an existing Budget, or None (no limit)."""
    if budget is None or isinstance(budget, _core.Budget):
        return budget
    return _core.Budget(budget, name=name)
