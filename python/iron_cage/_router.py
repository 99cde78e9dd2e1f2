"""Router mode: a governed OpenAI/Anthropic-compatible proxy on loopback."""

from __future__ import annotations

import json
import os
import secrets
from decimal import Decimal
from typing import Any

from iron_cage import _core, _lease
from iron_cage._events import Events
from iron_cage._exceptions import ConfigError
from iron_cage._loopback import LoopbackServer
from iron_cage._pii import PiiScanner
from iron_cage._policy import (
    BreakerArg,
    EgressArg,
    IngressArg,
    breaker_for,
    budget_for,
    control_panel_args,
    pii_policies,
    safety_for,
    scanner_for,
)

OPENAI_UPSTREAM = "https://api.openai.com/v1"
ANTHROPIC_UPSTREAM = "https://api.anthropic.com/v1"


class LlmRouter(Events, LoopbackServer):
    """A local proxy that governs every call made through it.

    Point any OpenAI or Anthropic client (or framework) at it::

        with ic.LlmRouter(budget=5.0, provider_key="sk-...") as router:
            client = openai.OpenAI(base_url=router.base_url, api_key=router.api_key)

    Each call is priced before it is forwarded (its worst case is reserved; a
    request without ``max_tokens`` is capped at what the budget can pay for),
    charged from the provider's usage afterwards, and its reply scanned for PII
    (``safety_mode``: ``"redact"``, ``"block"``, ``"warn"`` or ``"off"``). A
    breaker per provider and model stops calling an upstream that keeps failing.
    Errors come back in the provider's error shape: 402 ``budget_exceeded``,
    503 ``circuit_open`` (with ``Retry-After``), 401 ``invalid_api_key``,
    422 ``pii_blocked``.

    ``upstream`` is the OpenAI-format base URL (``/v1`` included; default
    OpenAI's). ``anthropic_upstream`` defaults to ``upstream`` when that is
    given (one server speaking both, like ``FakeProvider``), else Anthropic's.
    ``provider_key`` is sent upstream (default ``$OPENAI_API_KEY``);
    ``anthropic_key`` defaults to ``provider_key``, else ``$ANTHROPIC_API_KEY``.
    ``budget``: USD as float/int/Decimal/str, or an ``ic.Budget`` to share;
    ``None`` tracks spend without a limit.

    Control Panel mode: ``control_panel=`` and ``ic_token=`` (as in library mode; the older
    ``server_url=`` and ``api_key=`` are the same settings) lease
    the budget from the Control Panel (``budget`` is then the USD leased at a time,
    default 10), take the provider key it releases, and report every call; clients
    present the IC token as their API key.

    Requests are scanned before they are forwarded (``egress``, as in
    :class:`AgentRuntime`): credentials refused with 422 ``pii_blocked``, other PII sent as
    placeholders and restored in the reply.

    A request whose cost has no upper bound (server-side tools such as web search,
    an input kind iron-cage cannot price) is refused with 402 ``cost_unbounded``
    under a budget; ``unbounded_reserve_usd`` admits such requests with that amount
    reserved on top of what can be bounded (the stated bound is the caller's promise).
    """

    def __init__(
        self,
        budget: float | int | str | Decimal | _core.Budget | None = None,
        provider_key: str | None = None,
        upstream: str | None = None,
        api_key: str | None = None,
        server_url: _lease.ServerArg | None = None,
        safety_mode: str | None = "redact",
        port: int = 0,
        *,
        control_panel: _lease.ServerArg | None = None,
        ic_token: str | None = None,
        pii_detection: bool | None = None,
        anthropic_upstream: str | None = None,
        anthropic_key: str | None = None,
        pii: PiiScanner | None = None,
        circuit_breaker: BreakerArg = True,
        failure_threshold: int = 5,
        cooldown_s: float = 60.0,
        max_body_bytes: int = 8 << 20,
        upstream_timeout_s: float = 600.0,
        events_path: str | os.PathLike[str] | None = None,
        host: str = "127.0.0.1",
        threads: int = 1,
        outbox_path: str | os.PathLike[str] | None = None,
        unbounded_reserve_usd: float | None = None,
        egress: EgressArg = "default",
        ingress: IngressArg = None,
    ) -> None:
        scanner = scanner_for(safety_for(safety_mode, pii_detection), pii)
        breaker, failure_threshold, cooldown_s = breaker_for(circuit_breaker, failure_threshold, cooldown_s)
        server_url, api_key = control_panel_args(control_panel, ic_token, server_url, api_key)
        remote = _lease.resolve(server_url, api_key, "control_panel= and ic_token= (an IC token)")
        egress_policy, ingress_policy, egress_scanner = pii_policies(
            egress, ingress, scanner, remote=remote is not None
        )
        self._lease: _lease.ControlPanelLease | None = None
        openai_key = provider_key if provider_key is not None else os.environ.get("OPENAI_API_KEY")
        claude_key = anthropic_key or provider_key or os.environ.get("ANTHROPIC_API_KEY")
        if remote is None:
            self._budget = budget_for(budget, "router")
            self._api_key = "ic-local-" + secrets.token_urlsafe(24)
        else:
            # The Control Panel's lease drives the budget and supplies the provider key;
            # clients present the IC token. `budget` is the most one lease asks for.
            slice_usd = 10.0 if budget is None else budget
            self._budget = _lease.leased_budget(slice_usd, "server_url=...", "router")
            self._lease = _lease.ControlPanelLease(
                self._budget,
                remote[0],
                remote[1],
                slice_usd=slice_usd,  # type: ignore[arg-type]  # checked by leased_budget
                outbox_path=outbox_path,
                runtime="router",
            )
            self._api_key = remote[1]
            # A provider key the Control Panel released stays in the Rust lease
            # client; the router signs with it there (RouterCore(lease=...)).
            base = self._lease.provider_base_url
            if self._lease.provider == "anthropic":
                anthropic_upstream = anthropic_upstream or base
            else:
                upstream = upstream or base
        self._core: _core.RouterCore = _core.RouterCore(
            api_key=self._api_key,
            budget=self._budget,
            scanner=scanner._core if scanner is not None else None,
            openai_upstream=upstream or OPENAI_UPSTREAM,
            anthropic_upstream=anthropic_upstream or upstream or ANTHROPIC_UPSTREAM,
            openai_key=openai_key,
            anthropic_key=claude_key,
            circuit_breaker=breaker,
            failure_threshold=failure_threshold,
            cooldown_s=cooldown_s,
            host=host,
            port=port,
            max_body_bytes=max_body_bytes,
            upstream_timeout_s=upstream_timeout_s,
            unbounded_reserve_usd=unbounded_reserve_usd,
            lease=self._lease._core if self._lease is not None else None,
            egress=egress_policy,
            egress_scanner=egress_scanner,
            ingress=ingress_policy,
            events_path=os.fspath(events_path) if events_path is not None else None,
            threads=threads,
        )
        if self._lease is not None:
            self._lease.attach(self._core)

    @property
    def lease(self) -> _lease.ControlPanelLease | None:
        """The Control Panel lease behind the budget (``None`` in local mode)."""
        return self._lease

    def stop(self) -> None:
        """Stops serving, then flushes usage reports and returns the lease. Idempotent."""
        super().stop()
        if self._lease is not None:
            self._lease.close()

    @property
    def api_key(self) -> str:
        """The key clients present to the router (never the provider key)."""
        return self._api_key

    @property
    def budget(self) -> float | None:
        """The limit in USD (``None``: unlimited)."""
        return self._core.limit_usd if self._budget is not None else None

    @property
    def budget_status(self) -> tuple[float, float | None]:
        """``(spent_usd, limit_usd)``; the limit is ``None`` when unlimited."""
        return (self._core.spent_usd, self.budget)

    def total_spent(self) -> float:
        """USD committed so far."""
        return self._core.spent_usd

    def set_budget(self, usd: float | int | str | Decimal) -> None:
        """Changes the limit (calls in flight keep their reservations)."""
        if self._budget is None:
            raise ConfigError("this router was started without a budget; start it with budget=... to set one")
        self._core.set_limit(usd)

    def metrics(self) -> dict[str, Any]:
        """Calls, refusals, failures, tokens, PII findings, spend, and calls and cost by model."""
        result: dict[str, Any] = json.loads(self._core.metrics_json())
        return result

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return f"LlmRouter({self.base_url!r}, {state}, spent=${self.total_spent():.6f})"
