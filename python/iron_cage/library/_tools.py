"""Tool calls under a runtime: the tools a model is offered and asks for, and the tool functions
the agent runs.

- **Offered** (a request's ``tools``): with ``allowed_tools`` set, a request offering a tool
  outside the list is refused before anything is reserved or sent (:class:`PolicyError`,
  ``code="tool_not_allowed"``).
- **Requested** (tool calls in a reply): each is a ``tool_call_requested`` event (tool name,
  size of its arguments); one outside ``allowed_tools`` refuses the reply (the provider billed
  it: it is charged) so the agent never runs it.
- **Run** (a function under :func:`governed_tool`, ``rt.tool(fn)``, a LangChain tool inside
  the scope): ``allowed_tools``, the per-tool call limits (``tool_limits``) and an
  optional breaker per tool (``tool_breakers``) are checked before it runs; each run is a
  ``tool_call`` event (tool, duration, outcome ``ok``/``error``/``refused``, argument size).

Argument values are never in an event unless ``record_tool_args=True``. A refusal is also an
``unauthorized_action`` event (``tool_not_allowed``), counted in ``rt.metrics()["tools"]``.
"""

from __future__ import annotations

import functools
import inspect
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from iron_cage._exceptions import CircuitOpenError, ConfigError, PolicyError
from iron_cage._reliability import CircuitBreaker
from iron_cage.library._context import CURRENT

if TYPE_CHECKING:
    from iron_cage.library._runtime import AgentRuntime

F = TypeVar("F", bound=Callable[..., Any])
ANY = "*"


def _size(args: Any, kwargs: Any) -> int:
    try:
        return len(json.dumps([args, kwargs], default=str))
    except (TypeError, ValueError):
        return len(repr((args, kwargs)))


class ToolGovernor:
    """The tool rules of one runtime and what they counted."""

    def __init__(
        self,
        emit: Callable[[str, dict[str, Any]], None],
        allowed: Iterable[str] | None,
        limits: Mapping[str, int] | None,
        breakers: bool | Mapping[str, float],
        record_args: bool,
    ) -> None:
        if isinstance(allowed, str):
            raise ConfigError(f"allowed_tools is a list of tool names, got the string {allowed!r}")
        self.allowed = None if allowed is None else frozenset(allowed)
        self.limits = dict(limits or {})
        for name, limit in self.limits.items():
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                raise ConfigError(f"tool_limits[{name!r}] must be a whole number >= 0, got {limit!r}")
        if not isinstance(breakers, bool | Mapping):
            raise ConfigError(
                "tool_breakers must be True, False or settings like "
                f"{{'failure_threshold': 3}}, got {breakers!r}"
            )
        self._breaker_settings = (
            {} if breakers is True else dict(breakers) if isinstance(breakers, Mapping) else None
        )
        unknown = set(self._breaker_settings or {}) - {"failure_threshold", "cooldown_s"}
        if unknown:
            raise ConfigError(
                f"tool_breakers: unknown {', '.join(sorted(unknown))}; use failure_threshold, cooldown_s"
            )
        self.record_args = record_args
        self._emit = emit
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self._refused: Counter[str] = Counter()
        self._requested: Counter[str] = Counter()
        self._breakers: dict[str, CircuitBreaker] = {}

    @property
    def active(self) -> bool:
        """Whether requests and replies need reading for tools (an allow-list is set)."""
        return self.allowed is not None

    # -- the rules ------------------------------------------------------------
    def _refuse(self, tool: str, code: str, message: str) -> PolicyError:
        with self._lock:
            self._refused[tool] += 1
        if code == "tool_not_allowed":
            self._emit("unauthorized_action", {"kind": code, "tool": tool})
        err = PolicyError(message)
        err.code = code
        err.status = 403 if code == "tool_not_allowed" else 429
        return err

    def check_allowed(self, tool: str) -> None:
        if self.allowed is not None and tool not in self.allowed:
            allowed = ", ".join(sorted(self.allowed)) or "none"
            raise self._refuse(
                tool,
                "tool_not_allowed",
                f"tool {tool!r} is not allowed for this agent (allowed: {allowed}): it was not run. "
                "Add it to allowed_tools, or remove it from the agent",
            )

    def _admit(self, tool: str) -> CircuitBreaker | None:
        self.check_allowed(tool)
        limit = self.limits.get(tool, self.limits.get(ANY))
        with self._lock:
            if limit is not None and self._calls[tool] >= limit:
                over = True
            else:
                over = False
                self._calls[tool] += 1
        if over:
            raise self._refuse(
                tool,
                "tool_limit",
                f"tool {tool!r} has run {limit} times, its limit in this runtime: it was not run again. "
                "Raise tool_limits, or have the agent stop calling it",
            )
        if self._breaker_settings is None:
            return None
        with self._lock:
            breaker = self._breakers.get(tool)
            if breaker is None:
                breaker = CircuitBreaker(f"tool:{tool}", **self._breaker_settings)  # type: ignore[arg-type]
                self._breakers[tool] = breaker
        return breaker

    def _event(
        self, tool: str, started: float, outcome: str, args: Any, kwargs: Any, error: str = ""
    ) -> None:
        fields: dict[str, Any] = {
            "tool": tool,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            "outcome": outcome,
            "args_bytes": _size(args, kwargs),
        }
        if error:
            fields["error"] = error
        if self.record_args:
            fields["args"] = json.loads(json.dumps([args, kwargs], default=str))
        self._emit("tool_call", fields)

    # -- tools a framework runs (it calls these around each run) --------------------------
    def before(self, tool: str, args: Any) -> bool:
        """Whether ``tool`` may run now (counted as a run when it may); a refusal is its
        ``tool_call`` event. For frameworks whose hooks block a tool rather than raise."""
        try:
            self._admit(tool)
        except PolicyError as exc:
            self._event(tool, time.perf_counter(), "refused", (args,), {}, exc.code)
            return False
        return True

    def after(self, tool: str, started: float, args: Any, error: str = "") -> None:
        """The ``tool_call`` event of a run :meth:`before` admitted."""
        if error:
            with self._lock:
                self._errors[tool] += 1
        self._event(tool, started, "error" if error else "ok", (args,), {}, error)

    # -- running tools ----------------------------------------------------------
    def run(self, tool: str, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            breaker = self._admit(tool)
        except PolicyError as exc:
            self._event(tool, started, "refused", args, kwargs, getattr(exc, "code", ""))
            raise
        try:
            result = breaker.call(fn, *args, **kwargs) if breaker is not None else fn(*args, **kwargs)
        except CircuitOpenError:
            with self._lock:  # not run: a refusal, not a run
                self._calls[tool] -= 1
                self._refused[tool] += 1
            self._event(tool, started, "refused", args, kwargs, "circuit_open")
            raise
        except BaseException as exc:
            with self._lock:
                self._errors[tool] += 1
            self._event(tool, started, "error", args, kwargs, type(exc).__name__)
            raise
        self._event(tool, started, "ok", args, kwargs)
        return result

    async def arun(self, tool: str, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            breaker = self._admit(tool)
        except PolicyError as exc:
            self._event(tool, started, "refused", args, kwargs, getattr(exc, "code", ""))
            raise
        try:
            if breaker is not None:
                result = await breaker.call_async(fn, *args, **kwargs)
            else:
                result = await fn(*args, **kwargs)
        except CircuitOpenError:
            with self._lock:  # not run: a refusal, not a run
                self._calls[tool] -= 1
                self._refused[tool] += 1
            self._event(tool, started, "refused", args, kwargs, "circuit_open")
            raise
        except BaseException as exc:
            with self._lock:
                self._errors[tool] += 1
            self._event(tool, started, "error", args, kwargs, type(exc).__name__)
            raise
        self._event(tool, started, "ok", args, kwargs)
        return result

    # -- what requests offer and replies ask for ------------------------------------
    def check_request(self, path: str, body: bytes) -> None:
        """Refuses a request offering a tool outside ``allowed_tools`` (before it is sent)."""
        if self.allowed is None or b'"tools"' not in body:
            return
        try:
            doc = json.loads(body)
        except ValueError:
            return  # the pipeline refuses a body it cannot read
        for name in offered_tools(doc):
            self.check_allowed(name)

    def check_reply(self, body: bytes) -> None:
        """Events for the tool calls a reply asks for; a disallowed one refuses the reply."""
        if b'"tool_calls"' not in body and b'"tool_use"' not in body and b'"function_call"' not in body:
            return
        try:
            doc = json.loads(body)
        except ValueError:
            return
        names = requested_tools(doc)
        model = doc.get("model", "") if isinstance(doc, dict) else ""
        for name, args_bytes in names:
            with self._lock:
                self._requested[name] += 1
            self._emit("tool_call_requested", {"tool": name, "model": model, "args_bytes": args_bytes})
        for name, _ in names:
            self.check_allowed(name)

    def metrics(self) -> dict[str, Any]:
        with self._lock:
            tools = set(self._calls) | set(self._refused) | set(self._requested)
            return {
                t: {
                    "runs": self._calls[t],
                    "errors": self._errors[t],
                    "refused": self._refused[t],
                    "requested": self._requested[t],
                }
                for t in sorted(tools)
            }


def offered_tools(doc: Any) -> list[str]:
    """Names of the function tools a request body offers (Chat Completions, Responses,
    Anthropic Messages); server-side tools (web search, ...) are named by their type."""
    out: list[str] = []
    for tool in doc.get("tools") or [] if isinstance(doc, dict) else []:
        if not isinstance(tool, dict):
            continue
        fn = tool.get("function")
        name = fn.get("name") if isinstance(fn, dict) else tool.get("name") or tool.get("type")
        if isinstance(name, str):
            out.append(name)
    return out


def requested_tools(doc: Any) -> list[tuple[str, int]]:
    """(name, argument bytes) of each tool call in a reply (the three APIs)."""
    out: list[tuple[str, int]] = []
    if not isinstance(doc, dict):
        return out
    for choice in doc.get("choices") or []:  # Chat Completions
        message = choice.get("message") if isinstance(choice, dict) else None
        for call in (message or {}).get("tool_calls") or []:
            fn = call.get("function") or {}
            out.append((str(fn.get("name", "")), len(str(fn.get("arguments", "")))))
    content = doc.get("content")
    if isinstance(content, list):  # Anthropic Messages
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_use":
                out.append((str(block.get("name", "")), len(json.dumps(block.get("input", {})))))
    output = doc.get("output")
    if isinstance(output, list):  # Responses
        for item in output:
            if isinstance(item, dict) and item.get("type") == "function_call":
                out.append((str(item.get("name", "")), len(str(item.get("arguments", "")))))
    return out


def run_tool(tool: str, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` governed by the runtime in effect (as is outside one)."""
    rt = CURRENT.get()
    if rt is None:
        return fn(*args, **kwargs)
    return rt._tools.run(tool, fn, args, kwargs)


async def arun_tool(tool: str, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
    rt = CURRENT.get()
    if rt is None:
        return await fn(*args, **kwargs)
    return await rt._tools.arun(tool, fn, args, kwargs)


@overload
def governed_tool(fn: F, /) -> F: ...
@overload
def governed_tool(fn: None = None, /, *, name: str | None = None) -> Callable[[F], F]: ...
def governed_tool(fn: F | None = None, /, *, name: str | None = None) -> F | Callable[[F], F]:
    """``@ic.governed_tool`` (or ``@ic.governed_tool(name="search")``): each call of the
    function (sync or async) runs under the tool rules of the runtime in effect, and is a
    ``tool_call`` event. Outside a runtime it runs as it is."""

    def decorate(f: F) -> F:
        tool = name or f.__name__
        if inspect.iscoroutinefunction(f):

            @functools.wraps(f)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                return await arun_tool(tool, f, args, kwargs)

            return cast("F", async_wrapper)

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return run_tool(tool, f, args, kwargs)

        return cast("F", wrapper)

    return decorate(fn) if fn is not None else decorate


def bound_tool(runtime: AgentRuntime, fn: F, name: str | None) -> F:
    """``rt.tool(fn)``: ``fn`` governed by ``runtime`` wherever it is called."""
    tool = name or str(getattr(fn, "__name__", "tool"))
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            return await runtime._tools.arun(tool, fn, args, kwargs)

        return cast("F", async_wrapper)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return runtime._tools.run(tool, fn, args, kwargs)

    return cast("F", wrapper)


# -- framework tools: patched once, governed inside a runtime scope -------------------------
_patched: set[str] = set()
_patch_lock = threading.Lock()


def _tool_name(tool: Any) -> str:
    return str(getattr(tool, "name", None) or type(tool).__name__)


def _patch_langchain(base: type) -> None:
    """``BaseTool.run``/``arun`` (``invoke`` and agents go through them) under the runtime in
    effect; outside one they run as they are."""
    original, original_async = base.run, base.arun  # type: ignore[attr-defined]

    @functools.wraps(original)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        if CURRENT.get() is None:
            return original(self, *args, **kwargs)
        return run_tool(_tool_name(self), functools.partial(original, self), args, kwargs)

    @functools.wraps(original_async)
    async def arun(self: Any, *args: Any, **kwargs: Any) -> Any:
        if CURRENT.get() is None:
            return await original_async(self, *args, **kwargs)
        return await arun_tool(_tool_name(self), functools.partial(original_async, self), args, kwargs)

    base.run = run  # type: ignore[attr-defined]
    base.arun = arun  # type: ignore[attr-defined]


def install_framework_tools(modules: Mapping[str, Any]) -> None:
    """Governs LangChain's tools once ``langchain_core.tools`` is loaded."""
    if "langchain" in _patched or "langchain_core.tools" not in modules:
        return
    with _patch_lock:
        base = getattr(modules["langchain_core.tools"], "BaseTool", None)
        if base is not None and "langchain" not in _patched:
            _patch_langchain(base)
            _patched.add("langchain")
