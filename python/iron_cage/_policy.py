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
IngressArg = Mapping[str, str] | None
EGRESS_ACTIONS = ("allow", "warn", "redact", "pseudonymize", "block")
INGRESS_ACTIONS = ("allow", "warn", "redact", "block")


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


def ingress_for(ingress: IngressArg) -> str | None:
    """The reply policy's per-entity actions as the core takes them (``None``: the reply
    scanner's mode for every entity). ``{"EMAIL": "allow", "API_KEY": "block"}`` changes those
    entities; ``"default"`` the rest (otherwise ``safety_mode``, or allow when it is off)."""
    if ingress is None:
        return None
    if isinstance(ingress, str) or not isinstance(ingress, Mapping):
        raise ConfigError(
            f"ingress must be a mapping of entity to action like {{'EMAIL': 'allow'}}, got {ingress!r}; "
            "for one action for every entity use safety_mode"
        )
    for entity, action in ingress.items():
        if action not in INGRESS_ACTIONS:
            hint = " (pseudonymize applies to requests only)" if action == "pseudonymize" else ""
            raise ConfigError(
                f"ingress policy for {entity}: unknown action {action!r}{hint}; "
                f"use one of {', '.join(INGRESS_ACTIONS)}"
            )
    return json.dumps(dict(ingress))


def pii_policies(
    egress: EgressArg, ingress: IngressArg, scanner: PiiScanner | None, *, remote: bool
) -> tuple[str | None, str | None, _core.PiiScannerCore | None]:
    """Both directions' policies for the core and the scanner that finds for requests (and for
    replies when a reply policy names entities but ``safety_mode`` is off)."""
    egress_json, finder = egress_for(egress, scanner, remote=remote)
    ingress_json = ingress_for(ingress)
    if ingress_json is not None and scanner is None and finder is None:
        finder = PiiScanner(mode="warn")._core
    return egress_json, ingress_json, finder
