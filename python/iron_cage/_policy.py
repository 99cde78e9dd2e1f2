"""Settings shared by router mode and library mode."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal

from iron_cage import _core
from iron_cage._exceptions import ConfigError
from iron_cage._lease import ServerArg
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


BreakerArg = bool | Mapping[str, float] | None
BREAKER_KEYS = ("failure_threshold", "cooldown_s")


def safety_for(safety_mode: str | None, pii_detection: bool | None) -> str | None:
    """``safety_mode``, or what ``pii_detection=True/False`` (the spec's spelling) means."""
    if pii_detection is None:
        return safety_mode
    if not isinstance(pii_detection, bool):
        raise ConfigError(f"pii_detection must be True or False, got {pii_detection!r}")
    if pii_detection is False:
        return "off"
    return safety_mode if safety_mode not in (None, "off") else "redact"


def breaker_for(
    circuit_breaker: BreakerArg, failure_threshold: int, cooldown_s: float
) -> tuple[bool, int, float]:
    """(enabled, failure_threshold, cooldown_s) from ``circuit_breaker=True/False`` or its
    settings (``{"failure_threshold": 3, "cooldown_s": 30}``, which turn it on)."""
    if circuit_breaker is None or isinstance(circuit_breaker, bool):
        return bool(circuit_breaker), failure_threshold, cooldown_s
    if not isinstance(circuit_breaker, Mapping):
        raise ConfigError(
            "circuit_breaker must be True, False or settings like "
            f"{{'failure_threshold': 3, 'cooldown_s': 30}}, got {circuit_breaker!r}"
        )
    unknown = sorted(set(circuit_breaker) - set(BREAKER_KEYS))
    if unknown:
        raise ConfigError(
            f"circuit_breaker settings: unknown {', '.join(unknown)}; use {', '.join(BREAKER_KEYS)}"
        )
    threshold = circuit_breaker.get("failure_threshold", failure_threshold)
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise ConfigError(f"circuit_breaker failure_threshold must be a whole number >= 1, got {threshold!r}")
    return True, threshold, float(circuit_breaker.get("cooldown_s", cooldown_s))


def control_panel_args(
    control_panel: ServerArg | None,
    ic_token: str | None,
    server_url: ServerArg | None,
    api_key: str | None,
) -> tuple[ServerArg | None, str | None]:
    """One spelling of the Control Panel arguments: ``control_panel=``/``ic_token=``, with the
    router's older ``server_url=``/``api_key=`` as aliases."""
    for new, old, new_name, old_name in (
        (control_panel, server_url, "control_panel", "server_url"),
        (ic_token, api_key, "ic_token", "api_key"),
    ):
        if new is not None and old is not None and new != old:
            raise ConfigError(f"{new_name}= and {old_name}= are the same setting: pass one")
    return control_panel or server_url, ic_token or api_key


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
