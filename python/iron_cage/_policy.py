"""Settings shared by router mode and library mode."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal

from iron_cage import _core
from iron_cage._exceptions import ConfigError
from iron_cage._pii import PiiScanner

SAFETY_MODES = ("redact", "block", "warn", "off")
BudgetArg = float | int | str | Decimal | _core.Budget | None
EgressArg = str | Mapping[str, str] | None
EGRESS_ACTIONS = ("allow", "warn", "redact", "pseudonymize", "block")


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


def egress_for(
    egress: EgressArg, scanner: PiiScanner | None, *, remote: bool = False
) -> tuple[str | None, _core.PiiScannerCore | None]:
    """The request policy as the core takes it: its JSON (``None``: requests are not
    scanned) and the scanner to find with (the reply scanner's rules when there is one).

    ``"default"``: credentials (API_KEY, PRIVATE_KEY) are blocked, everything else is
    pseudonymized; ``"off"`` or ``None``: not scanned; a mapping of entity (or
    ``"default"``) to action overrides the default policy. With a Control Panel
    (``remote``) there is always a scanner: its policy applies even when the agent's is off.
    """
    if egress is None or egress == "off":
        finder = PiiScanner(mode="warn")._core if remote and scanner is None else None
        return None, finder
    if isinstance(egress, str):
        if egress == "default":
            overrides: dict[str, str] = {}
        elif egress in EGRESS_ACTIONS:
            overrides = {"default": egress}
        else:
            raise ConfigError(
                f"unknown egress policy {egress!r}: use 'default', 'off', "
                f"one of {', '.join(EGRESS_ACTIONS)}, "
                'or a mapping like {"EMAIL": "redact", "default": "pseudonymize"}'
            )
    else:
        overrides = dict(egress)
        for entity, action in overrides.items():
            if action not in EGRESS_ACTIONS:
                raise ConfigError(
                    f"egress policy for {entity}: unknown action {action!r}; "
                    f"use one of {', '.join(EGRESS_ACTIONS)}"
                )
    finder = None if scanner is not None else PiiScanner(mode="warn")._core
    return json.dumps(overrides), finder
