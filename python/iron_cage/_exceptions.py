"""The exceptions iron-cage raises. Catch ``IronCageError`` to catch them all.

::

    IronCageError
    ├── BudgetExceededError      a call would take a budget past its limit; raised before the call
    │   └── LimitExceededError   a call is over a per-request cost or token limit
    ├── RateLimitedError         over the calls-per-minute limit; retry after ``retry_after_s``
    ├── PiiBlockedError          safety_mode="block" found PII; nothing was returned
    ├── CircuitOpenError         a circuit breaker is open; retry after ``retry_after_s``
    ├── UngovernedRequestError   inside a runtime, a provider request that cannot be governed; not sent
    ├── PolicyError              a model, provider or tool this agent may not use (or a tool over
    │                            its call limit); not sent, not run
    ├── FallbackExhaustedError   every tier of a FallbackChain failed; ``errors`` has each one
    ├── ConfigError (ValueError) bad configuration or argument: amount, model, price table, usage
    ├── SecretError              the vault cannot be unlocked, or a secret is tampered with
    ├── ControlPanelError        the Control Panel refused or could not be reached
    └── ReservationError (RuntimeError)
                                 a reservation was committed or released twice

The Rust core raises these same classes: ``iron_cage._core`` maps every domain
error to exactly one of them (see ``crates/iron_cage_py/src/errors.rs``).
Messages say what happened, the numbers involved, and what to do; they never
contain a secret or a PII value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
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
]


class IronCageError(Exception):
    """Base class of every error iron-cage raises on purpose.

    A refused LLM call also carries ``status`` (the HTTP status router mode answers
    with: 402, 403, 422, 429, 503, ...) and ``code`` (``budget_exceeded``,
    ``cost_unbounded``, ``limit_exceeded``, ``pii_blocked``, ``circuit_open``,
    ``rate_limited``, ...), set by the Rust core; they are ``0`` and ``""`` otherwise.
    """

    status: int = 0
    code: str = ""


class BudgetExceededError(IronCageError):
    """A reservation would take a budget past its limit. Nothing was spent or changed.

    ``budget`` names the budget that had no room (a child or one of its parents).
    """

    def __init__(
        self,
        message: str,
        *,
        budget: str = "budget",
        limit_usd: float = 0.0,
        spent_usd: float = 0.0,
        reserved_usd: float = 0.0,
        requested_usd: float = 0.0,
        remaining_usd: float = 0.0,
    ) -> None:
        super().__init__(message)
        self.budget = budget
        self.limit_usd = limit_usd
        self.spent_usd = spent_usd
        self.reserved_usd = reserved_usd
        self.requested_usd = requested_usd
        self.remaining_usd = remaining_usd


class PiiBlockedError(IronCageError):
    """PII was found in ``safety_mode="block"``; the text was not returned.

    ``findings`` lists what was found (entity, offsets, severity, keyed HMAC), never the values.
    """

    def __init__(self, message: str, *, findings: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.findings = list(findings)


class CircuitOpenError(IronCageError):
    """A circuit breaker rejected the call without making it.

    ``state`` is ``"open"`` (cooling down) or ``"half_open"`` (every probe slot is
    taken); ``retry_after_s`` is when a call may be admitted again.
    """

    def __init__(
        self, message: str, *, breaker: str = "", state: str = "open", retry_after_s: float = 0.0
    ) -> None:
        super().__init__(message)
        self.breaker = breaker
        self.state = state
        self.retry_after_s = retry_after_s


class PolicyError(IronCageError):
    """The call asked for a model (or a provider) outside the list the Control Panel allows
    this agent, or a tool outside ``allowed_tools`` (``code="tool_not_allowed"``) or over its
    ``tool_limits`` (``code="tool_limit"``). Nothing was sent or run; the message lists what
    is allowed."""


class UngovernedRequestError(IronCageError):
    """Inside a runtime scope, a request to a provider that iron-cage cannot meter (an
    HTTP library or client it does not govern) was refused instead of being sent unmetered.
    The message names the client and the fix (``rt.instrument(client)`` or router mode)."""


class LimitExceededError(BudgetExceededError):
    """The call is over a per-request limit (its worst-case cost or its tokens), set on the
    Control Panel. Nothing was sent; a smaller call may pass."""


class RateLimitedError(IronCageError):
    """Over the calls-per-minute limit set on the Control Panel; ``retry_after_s`` says when
    a call may be admitted again. Nothing was sent."""

    def __init__(self, message: str, *, retry_after_s: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class FallbackExhaustedError(IronCageError):
    """Every tier of a fallback chain failed; ``errors`` holds each tier's exception in order."""

    def __init__(self, message: str, errors: Sequence[BaseException] = ()) -> None:
        super().__init__(message)
        self.errors = list(errors)


class ConfigError(IronCageError, ValueError):
    """A configuration value or argument is invalid; the message says which and what is accepted.

    For an unknown model, ``model`` and ``suggestions`` (close matches) are set.
    """

    def __init__(
        self, message: str, *, model: str | None = None, suggestions: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.model = model
        self.suggestions = suggestions or []


class SecretError(IronCageError):
    """The vault cannot be unlocked with the given key, or a stored secret fails to verify."""


class ControlPanelError(IronCageError):
    """The Control Panel refused a request or could not be reached.

    ``status`` is the HTTP status (0 when unreachable) and ``code`` the error code of
    the server's answer (``budget_exceeded``, ``forbidden``, ...).
    """

    def __init__(self, message: str, *, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class ReservationError(IronCageError, RuntimeError):
    """A reservation was settled twice (committed or released after it was already settled)."""
