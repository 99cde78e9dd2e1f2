"""MockRuntime in pure Python: what ``iron_cage.testing.MockRuntime`` is when the Rust
core (``iron_cage._core``) cannot be imported.

Inside its scope, every request an ``httpx``/``httpx2`` client sends (the openai and
anthropic SDKs, and frameworks on them) is answered in-process, the way library mode
intercepts them (``Client._transport_for_url``): FakeProvider's replies, a Decimal budget
in micro-USD charged from a price subset shipped as data (``pure_prices.json``), the
default request policy (credentials refused, other PII sent as ``<EMAIL_1>`` placeholders
and put back in the reply) and the reply's PII redacted, blocked or counted. It governs
nothing real: it never sends a request anywhere. docs/testing.md lists what it does not do.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Iterable
from contextvars import ContextVar, Token
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from importlib import resources
from types import ModuleType, TracebackType
from typing import Any, TypeVar

from iron_cage._exceptions import BudgetExceededError, ConfigError, IronCageError, PiiBlockedError
from iron_cage.testing import _pure_pii as pii
from iron_cage.testing._pure_reply import Reply, api_of, input_tokens, max_output

R = TypeVar("R", bound="PureMockRuntime")

#: The response extension carrying a refusal; the SDKs raise it as is (the same key library mode uses).
ERROR_KEY = "iron_cage_error"
CURRENT: ContextVar[PureMockRuntime | None] = ContextVar("iron_cage_pure_mock", default=None)
_MICRO = Decimal(1_000_000)
_EGRESS_ACTIONS = ("pseudonymize", "redact", "warn", "allow", "block")
_SAFETY_MODES = ("redact", "block", "warn")
_CAP_KEY = {"chat": "max_completion_tokens", "responses": "max_output_tokens", "messages": "max_tokens"}
_SCANNED = ("messages", "system", "input", "instructions", "prompt")
_PLACEHOLDER = re.compile(r"<([A-Z_]+_\d+)>")
_lock = threading.Lock()
_installed: set[str] = set()


def load_prices() -> dict[str, Any]:
    """The price subset the pure mode charges from (USD per 1M tokens)."""
    text = resources.files("iron_cage.testing").joinpath("pure_prices.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


_PRICES = load_prices()


def _usd(micro: int | Decimal) -> str:
    """``$0.000027``: up to six decimals, at least two."""
    text = f"{Decimal(micro) / _MICRO:.6f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def _to_micro(amount: float | int | str | Decimal, what: str) -> int:
    if isinstance(amount, bool):
        raise ConfigError(f"{what} must be an amount in USD, got {amount!r}")
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise ConfigError(f"{what} must be an amount in USD, got {amount!r}") from None
    if not value.is_finite() or value < 0:
        raise ConfigError(f"{what} must be a finite amount of at least 0, got {amount!r}")
    return int((value * _MICRO).to_integral_value(ROUND_CEILING))


# -- interception: the same method library mode wraps -----------------------------------
def install() -> None:
    """Requests of httpx/httpx2 clients inside a pure MockRuntime scope are answered by it;
    the openai/anthropic SDKs raise the exception a refusal carries."""
    for name in ("httpx", "httpx2"):
        try:
            _intercept(importlib.import_module(name))
        except ImportError:
            continue
    for sdk in ("openai", "anthropic"):
        try:
            base = importlib.import_module(f"{sdk}._base_client").BaseClient
        except ImportError:
            continue
        _map_errors(sdk, base)


def _intercept(mod: ModuleType) -> None:
    with _lock:
        if f"httpx:{mod.__name__}" in _installed:
            return
        sync_cls, async_cls = _transports(mod)
        for client_cls, transport_cls in ((mod.Client, sync_cls), (mod.AsyncClient, async_cls)):
            client_cls._transport_for_url = _answering_lookup(client_cls._transport_for_url, transport_cls)
        _installed.add(f"httpx:{mod.__name__}")


def _answering_lookup(original: Any, transport_cls: type) -> Any:
    @functools.wraps(original)
    def _transport_for_url(self: Any, url: Any) -> Any:
        rt = CURRENT.get()
        return original(self, url) if rt is None else transport_cls(rt)

    return _transport_for_url


def _transports(mod: ModuleType) -> tuple[type, type]:
    class MockTransport(mod.BaseTransport):  # type: ignore[name-defined,misc]
        def __init__(self, runtime: PureMockRuntime) -> None:
            self.runtime = runtime

        def handle_request(self, request: Any) -> Any:
            return self.runtime._handle(mod, request, request.read())

    class AsyncMockTransport(mod.AsyncBaseTransport):  # type: ignore[name-defined,misc]
        def __init__(self, runtime: PureMockRuntime) -> None:
            self.runtime = runtime

        async def handle_async_request(self, request: Any) -> Any:
            return self.runtime._handle(mod, request, await request.aread())

    return MockTransport, AsyncMockTransport


def _map_errors(sdk: str, base: Any) -> None:
    with _lock:
        if f"errors:{sdk}" in _installed:
            return
        original = base._make_status_error_from_response

        def _make_status_error_from_response(self: Any, response: Any) -> Any:
            exc = response.extensions.get(ERROR_KEY) if hasattr(response, "extensions") else None
            return exc if exc is not None else original(self, response)

        base._make_status_error_from_response = _make_status_error_from_response
        _installed.add(f"errors:{sdk}")


def _refusal(mod: ModuleType, request: Any, exc: IronCageError, status: int, code: str) -> Any:
    exc.status, exc.code = status, code
    body = {"error": {"message": str(exc), "type": "iron_cage", "param": None, "code": code}}
    headers = {"x-should-retry": "false", "content-type": "application/json"}
    return mod.Response(status, headers=headers, json=body, request=request, extensions={ERROR_KEY: exc})


def _context_key() -> tuple[int, int]:
    try:
        task = id(asyncio.current_task())
    except RuntimeError:
        task = 0
    return (threading.get_ident(), task)


class PureMockRuntime:
    """``MockRuntime`` without the Rust core: answers openai/anthropic calls in its scope
    in-process with FakeProvider's replies, charges a Decimal budget (integer micro-USD,
    each call rounded up once) from the shipped price subset, refuses a call that cannot
    fit before answering it (:class:`BudgetExceededError`), applies the default request
    policy and the reply's ``safety_mode``, and records the calls::

        with MockRuntime(budget=0.01, replies=["Mail me at a@b.com"]) as rt:
            agent()                      # any openai/anthropic client code
        rt.calls[0]["request"]["model"]; rt.spent_usd; rt.metrics()["pii_findings"]
    """

    def __init__(
        self,
        budget: float | int | str | Decimal | None = 100.0,
        safety_mode: str | None = "redact",
        circuit_breaker: bool = True,
        *,
        replies: Iterable[str] = (),
        egress: str | None = "default",
        name: str = "agent",
        **options: Any,
    ) -> None:
        if options:
            raise ConfigError(
                f"MockRuntime without the Rust core does not support {', '.join(sorted(options))}: "
                "install iron-cage with its compiled core (pip install iron-cage) for the real engines"
            )
        if safety_mode not in (*_SAFETY_MODES, None, "off"):
            raise ConfigError(f"safety_mode must be redact, block, warn or None, got {safety_mode!r}")
        if egress not in ("default", "off", None, *_EGRESS_ACTIONS):
            raise ConfigError(
                f"egress must be default, off or one of {', '.join(_EGRESS_ACTIONS)} without the Rust core, "
                f"got {egress!r}"
            )
        self.name = name
        self.circuit_breaker = circuit_breaker
        self._limit = None if budget is None else _to_micro(budget, "budget")
        self._safety = None if safety_mode in (None, "off") else safety_mode
        self._egress = None if egress in (None, "off") else egress
        self.calls: list[dict[str, Any]] = []
        self._replies = deque(replies)
        self._lock = threading.Lock()
        self._spent = 0
        self._reserved = 0
        self._counts = {"calls": 0, "refused": 0, "failed": 0, "input_tokens": 0, "output_tokens": 0}
        self._pii_findings = 0
        self._by_model: dict[str, list[int]] = {}
        self._breakers: dict[str, str] = {}
        self._latencies: list[float] = []
        self._pseudonyms: dict[tuple[str, str], str] = {}
        self._values: dict[str, str] = {}
        self._tokens: dict[tuple[int, int], list[Token[PureMockRuntime | None]]] = {}
        install()

    # -- scope ---------------------------------------------------------------
    def __enter__(self: R) -> R:
        install()
        self._tokens.setdefault(_context_key(), []).append(CURRENT.set(self))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        key = _context_key()
        stack = self._tokens[key]
        CURRENT.reset(stack.pop())
        if not stack:
            del self._tokens[key]

    async def __aenter__(self: R) -> R:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    # -- state ---------------------------------------------------------------
    @property
    def spent(self) -> Decimal:
        """USD spent, exact."""
        return Decimal(self._spent) / _MICRO

    @property
    def spent_usd(self) -> float:
        return self._spent / 1_000_000

    @property
    def remaining_usd(self) -> float | None:
        """USD left (``None`` when there is no limit)."""
        if self._limit is None:
            return None
        return (self._limit - self._spent - self._reserved) / 1_000_000

    def metrics(self) -> dict[str, Any]:
        """The keys of ``AgentRuntime.metrics()``: calls, refusals, failures, tokens, cost by
        model, PII findings, breakers (always closed: nothing here fails), latency of the
        in-process answers (ms), and ``tools`` (empty: tool rules need the Rust core)."""
        with self._lock:
            result: dict[str, Any] = {
                "breakers": dict(sorted(self._breakers.items())),
                "by_model": {
                    m: {"calls": c, "cost_usd": cost / 1_000_000} for m, (c, cost) in self._by_model.items()
                },
                **self._counts,
                "limit_usd": None if self._limit is None else self._limit / 1_000_000,
                "pii_findings": self._pii_findings,
                "reserved_usd": self._reserved / 1_000_000,
                "spent_usd": self._spent / 1_000_000,
            }
            lat = sorted(self._latencies)
        if lat:

            def pick(p: float) -> float:
                return round(lat[min(len(lat) - 1, int(p * (len(lat) - 1) + 0.5))] * 1000, 3)

            result["latency_ms"] = {"p50": pick(0.5), "p95": pick(0.95), "p99": pick(0.99), "max": pick(1.0)}
        else:
            result["latency_ms"] = {}
        result["tools"] = {}
        return result

    def __repr__(self) -> str:
        limit = "unlimited" if self._limit is None else f"${self._limit / 1_000_000:.2f}"
        return f"MockRuntime({self.name!r}, spent=${self.spent_usd:.6f} of {limit}, no Rust core)"

    # -- one request -----------------------------------------------------------
    def _handle(self, mod: ModuleType, request: Any, body: bytes) -> Any:
        started = time.perf_counter()
        try:
            return self._answer(mod, request, body)
        finally:
            self._latencies.append(time.perf_counter() - started)

    def _record(self, request: Any, sent: Any) -> int:
        with self._lock:
            n = len(self.calls) + 1
            self.calls.append({"n": n, "method": request.method, "path": request.url.path, "request": sent})
            return n

    def _answer(self, mod: ModuleType, request: Any, body: bytes) -> Any:
        path = request.url.path
        api = api_of(path) if request.method == "POST" else None
        try:
            req = json.loads(body) if body else None
        except ValueError:
            req = None
        if api is None or not isinstance(req, dict) or not isinstance(req.get("model"), str):
            self._record(request, req if req is not None else body.decode(errors="replace"))
            return mod.Response(
                404, json={"error": {"message": f"MockRuntime has no {path}"}}, request=request
            )
        model: str = req["model"]
        try:
            price = self._price(model)
            sent = self._apply_egress(req)
            sent, reserved = self._reserve(api, sent, price)
        except BudgetExceededError as exc:
            self._refused()
            return _refusal(mod, request, exc, 402, "budget_exceeded")
        except PiiBlockedError as exc:
            self._refused()
            return _refusal(mod, request, exc, 422, "pii_blocked")
        except ConfigError as exc:
            return _refusal(mod, request, exc, 400, "invalid_request")
        if sent.get("stream") is True and api == "chat":
            sent["stream_options"] = {**(sent.get("stream_options") or {}), "include_usage": True}
        n = self._record(request, sent)
        with self._lock:
            scripted = self._replies.popleft() if self._replies else None
        reply = Reply.render(api, sent, model, n, scripted)
        findings = pii.find(reply.text) if self._safety is not None else []
        self._charge(model, price, reply, reserved, len(findings))
        if findings and self._safety == "block":
            self._refused()
            kinds = ", ".join(sorted({f.entity for f in findings}))
            blocked = PiiBlockedError(
                f"the reply contained {kinds} ({len(findings)} finding(s)) and the safety mode is block: "
                "nothing was returned",
                findings=findings,
            )
            return _refusal(mod, request, blocked, 422, "pii_blocked")
        text = reply.text
        if findings and self._safety == "redact":
            text = pii.replace(text, findings, lambda f: pii.TOKEN[f.entity])
        text = self._restore(text)
        if sent.get("stream") is True:
            content = reply.stream(text).encode()
            kind = "text/event-stream"
        else:
            content = json.dumps(reply.body(text)).encode()
            kind = "application/json"
        return mod.Response(200, headers={"content-type": kind}, content=content, request=request)

    def _refused(self) -> None:
        with self._lock:
            self._counts["refused"] += 1

    def _price(self, model: str) -> dict[str, Any]:
        entry: dict[str, Any] | None = _PRICES["models"].get(model)
        if entry is None:
            known = ", ".join(sorted(_PRICES["models"]))
            raise ConfigError(
                f"unknown model {model!r}: MockRuntime without the Rust core prices only {known} "
                f"(prices of {_PRICES['version']}); install iron-cage with its compiled core for every model"
            )
        with self._lock:
            self._breakers.setdefault(f"{entry['provider']}:{model}", "closed")
        return entry

    # -- request policy ----------------------------------------------------------
    def _apply_egress(self, req: dict[str, Any]) -> dict[str, Any]:
        if self._egress is None:
            return req
        blocked: list[pii.Finding] = []

        def scrub(text: str) -> str:
            findings = pii.find(text)
            if not findings:
                return text
            actions = {f: self._egress_action(f.entity) for f in findings}
            blocked.extend(f for f, a in actions.items() if a == "block")
            changed = [f for f, a in actions.items() if a in ("pseudonymize", "redact")]
            return pii.replace(
                text,
                changed,
                lambda f: (
                    self._pseudonym(f.entity, text[f.start : f.end])
                    if actions[f] == "pseudonymize"
                    else pii.TOKEN[f.entity]
                ),
            )

        sent = {k: (_walk(v, scrub) if k in _SCANNED else v) for k, v in req.items()}
        if blocked:
            kinds = ", ".join(sorted({f.entity for f in blocked}))
            raise PiiBlockedError(
                f"the request contains {kinds} and the PII policy for requests blocks it: nothing was sent "
                "or charged. Remove it from the prompt (a credential in a prompt is almost always a leak), "
                "or set the policy for that entity to redact or pseudonymize",
                findings=blocked,
            )
        return sent

    def _egress_action(self, entity: str) -> str:
        if self._egress == "default":
            return "block" if entity in pii.CREDENTIALS else "pseudonymize"
        return str(self._egress)

    def _pseudonym(self, entity: str, value: str) -> str:
        with self._lock:
            placeholder = self._pseudonyms.get((entity, value))
            if placeholder is None:
                count = sum(1 for e, _ in self._pseudonyms if e == entity) + 1
                placeholder = f"<{entity}_{count}>"
                self._pseudonyms[(entity, value)] = placeholder
                self._values[placeholder[1:-1]] = value
            return placeholder

    def _restore(self, text: str) -> str:
        if not self._values:
            return text
        return _PLACEHOLDER.sub(lambda m: self._values.get(m.group(1), m.group(0)), text)

    # -- budget ------------------------------------------------------------------
    def _reserve(self, api: str, req: dict[str, Any], price: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Reserves the worst case (input + 2% + 16, plus the output cap times ``n``); a
        request without an output cap gets the most the budget pays for, up to the model's."""
        p_in, p_out = Decimal(str(price["input"])), Decimal(str(price["output"]))
        tokens = input_tokens(api, req)
        in_cost = (tokens + tokens // 50 + 16) * p_in
        n = req.get("n")
        choices = n if isinstance(n, int) and n > 1 else 1
        with self._lock:
            available = None if self._limit is None else self._limit - self._spent - self._reserved
            cap = max_output(req)
            if api != "embeddings" and cap is None:
                cap = int(price.get("max_output_tokens", 4096))
                if available is not None and p_out > 0:
                    cap = min(cap, math.floor((available - in_cost) / (p_out * choices)))
                if cap < 1:
                    self._refuse(in_cost + p_out, available)
                req = {**req, _CAP_KEY[api]: cap}
            worst = int((in_cost + (cap or 0) * choices * p_out).to_integral_value(ROUND_CEILING))
            if available is not None and worst > available:
                self._refuse(Decimal(worst), available)
            self._reserved += worst
        return req, worst

    def _refuse(self, requested: Decimal, available: int | None) -> None:
        limit = self._limit or 0
        needed = int(requested.to_integral_value(ROUND_CEILING))
        left = available or 0
        raise BudgetExceededError(
            f"budget exceeded: this call may cost up to ${_usd(needed)}, only ${_usd(max(left, 0))} is left; "
            f"budget ${_usd(self._spent)} spent of ${_usd(limit)}. Raise the budget or wait for running "
            "calls to finish.",
            budget=self.name,
            limit_usd=limit / 1_000_000,
            spent_usd=self._spent / 1_000_000,
            reserved_usd=self._reserved / 1_000_000,
            requested_usd=needed / 1_000_000,
            remaining_usd=max(left, 0) / 1_000_000,
        )

    def _charge(self, model: str, price: dict[str, Any], reply: Reply, reserved: int, findings: int) -> None:
        cost = reply.input * Decimal(str(price["input"])) + reply.billed_output * Decimal(
            str(price["output"])
        )
        micro = int(cost.to_integral_value(ROUND_CEILING))
        with self._lock:
            self._reserved -= reserved
            self._spent += micro
            self._counts["calls"] += 1
            self._counts["input_tokens"] += reply.input
            self._counts["output_tokens"] += reply.billed_output
            self._pii_findings += findings
            entry = self._by_model.setdefault(model, [0, 0])
            entry[0] += 1
            entry[1] += micro


def _walk(value: Any, scrub: Any) -> Any:
    """``value`` with every text it sends (strings, ``content``/``text``/``input`` fields) scrubbed."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        return [_walk(v, scrub) for v in value]
    if isinstance(value, dict):
        return {k: (_walk(v, scrub) if k in ("content", "text", "input") else v) for k, v in value.items()}
    return value
