"""iron-cage: governance for AI agents, with a Rust core.

Every LLM call an agent makes is priced with the provider's real billing,
checked against a hard budget (reserve before, commit after: concurrent calls
can never together overspend), and reported. See README.md for the quick start.

Without the compiled core (``iron_cage._core``) nothing here is importable but the
exceptions and ``iron_cage.testing``: every other name raises an ImportError that says
so (docs/decisions/0009), rather than giving code that would run ungoverned.
"""

import typing as _typing

from iron_cage import _native
from iron_cage._exceptions import (
    BudgetExceededError,
    CircuitOpenError,
    ConfigError,
    ControlPanelError,
    FallbackExhaustedError,
    IronCageError,
    LimitExceededError,
    PiiBlockedError,
    PolicyError,
    RateLimitedError,
    ReservationError,
    SecretError,
    UngovernedRequestError,
)

if _typing.TYPE_CHECKING or _native.MISSING is None:
    from iron_cage import library, sdk  # noqa: F401  (ic.library.current_runtime; sdk: the former name)
    from iron_cage._core import (
        PRICE_TABLE_VERSION,
        Budget,
        Finding,
        PriceTable,
        Reservation,
        ScanResult,
        SecretCipher,
        ThresholdEvent,
        active_price_table,
        cost_of,
        count_tokens,
        generate_master_key,
        token_count_is_exact,
        use_prices,
    )
    from iron_cage._core import __version__ as __version__
    from iron_cage._pii import PiiScanner
    from iron_cage._reliability import CircuitBreaker, FallbackChain, retry
    from iron_cage._router import LlmRouter
    from iron_cage._secrets import SecretVault
    from iron_cage.library import AgentRuntime, protect_agent
    from iron_cage.library._tools import governed_tool
    from iron_cage.supervisor.agent_api import outcome, progress
    from iron_cage.supervisor.runtime import Runtime
else:
    __version__ = _native.version()

    def __getattr__(name: str) -> _typing.Any:
        if name == "_core":  # `from iron_cage import _core` in a module that needs it
            raise _native.missing("This part of iron-cage")
        if name in _NEEDS_CORE:
            raise _native.missing(f"iron_cage.{name}")
        raise AttributeError(f"module 'iron_cage' has no attribute {name!r}")


__all__ = [
    "AgentRuntime",
    "Budget",
    "BudgetExceededError",
    "CircuitBreaker",
    "CircuitOpenError",
    "ConfigError",
    "ControlPanelError",
    "FallbackChain",
    "FallbackExhaustedError",
    "Finding",
    "IronCageError",
    "LimitExceededError",
    "LlmRouter",
    "PRICE_TABLE_VERSION",
    "PiiBlockedError",
    "PiiScanner",
    "PolicyError",
    "PriceTable",
    "RateLimitedError",
    "Reservation",
    "ReservationError",
    "Runtime",
    "ScanResult",
    "SecretCipher",
    "SecretError",
    "SecretVault",
    "ThresholdEvent",
    "UngovernedRequestError",
    "active_price_table",
    "cost_of",
    "count_tokens",
    "generate_master_key",
    "governed_tool",
    "outcome",
    "progress",
    "protect_agent",
    "retry",
    "token_count_is_exact",
    "use_prices",
]

_EXCEPTIONS = {
    "BudgetExceededError",
    "CircuitOpenError",
    "ConfigError",
    "ControlPanelError",
    "FallbackExhaustedError",
    "IronCageError",
    "LimitExceededError",
    "PiiBlockedError",
    "PolicyError",
    "RateLimitedError",
    "ReservationError",
    "SecretError",
    "UngovernedRequestError",
}
#: Every public name but the exceptions, and the modules that are the core or load it.
_NEEDS_CORE = (set(__all__) - _EXCEPTIONS) | {"_core", "library", "sdk"}
