"""Governing requests at send time.

Every request an ``httpx`` or ``httpx2`` client sends goes through
``Client._transport_for_url`` (the connection pool, or the proxy mounted for
the URL). iron-cage wraps that one method: inside a runtime scope the chosen
transport is wrapped in a governed one for the request, so a client is governed
however and whenever it was made — before the scope, with its own
``http_client``, inside a framework (LangChain, pydantic-ai, the Agents SDK),
behind a proxy. ``rt.instrument(client)`` binds a client to one runtime, in or
out of a scope.

Fail closed: inside a scope, an ``openai``/``anthropic`` client whose HTTP
client cannot be governed (another HTTP library, or an httpx subclass that
replaces the send path), and a ``requests``/``urllib3``/``aiohttp`` request (or one
of DSPy's built-in HTTP client) to a provider's API, are refused with
:class:`UngovernedRequestError` instead of being sent unmetered. A request a
governed transport has admitted and hands to a transport built on one of those
libraries (LiteLLM's aiohttp transport under httpx) is already charged and
passes.
"""

from __future__ import annotations

import functools
import importlib
import sys
import threading
import urllib.parse
from typing import TYPE_CHECKING, Any, TypeVar

from iron_cage._exceptions import UngovernedRequestError
from iron_cage.library import _tools
from iron_cage.library._context import CURRENT, SENDING_GOVERNED
from iron_cage.library._transport import ERROR_KEY, transports_for

if TYPE_CHECKING:
    from iron_cage.library._runtime import AgentRuntime

C = TypeVar("C")
SDKS = ("openai", "anthropic")
HTTPX = ("httpx", "httpx2")
#: Where a runtime bound by ``rt.instrument(client)`` is kept on the HTTP client.
BOUND = "_iron_cage_runtime"
_MARK = "__iron_cage_governs__"
#: The governed wrapper last made for a client: (inner transport, runtime, wrapper).
_LAST = "_iron_cage_last"
_lock = threading.Lock()
_installed: set[str] = set()

#: Hosts of provider APIs: requests to them from inside a scope must be governed.
PROVIDER_HOSTS = (
    "api.openai.com",
    "api.anthropic.com",
    ".openai.azure.com",
    "generativelanguage.googleapis.com",
    "api.mistral.ai",
    "api.groq.com",
    "api.deepseek.com",
    "api.together.xyz",
    "api.fireworks.ai",
    "openrouter.ai",
    "api.x.ai",
    "api.cohere.com",
    "api.cohere.ai",
    "api.perplexity.ai",
)


def is_provider_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    return any(host == h or (h.startswith(".") and host.endswith(h)) for h in PROVIDER_HOSTS)


def governing(explicit: AgentRuntime | None) -> AgentRuntime | None:
    """The runtime that governs a request: the one a client is bound to, else
    the current scope's (unless it was made with ``auto_instrument=False``)."""
    if explicit is not None:
        return explicit
    rt = CURRENT.get()
    return rt if rt is not None and rt.auto_instrument else None


def _http_client(client: Any) -> Any:
    inner = getattr(client, "_client", None)
    if inner is None or not hasattr(inner, "_transport"):
        raise TypeError(
            f"cannot instrument {type(client).__name__}: expected an openai.OpenAI/AsyncOpenAI or "
            "anthropic.Anthropic/AsyncAnthropic client (or one built on them)"
        )
    return inner


def _httpx_module(http: Any) -> Any | None:
    for cls in type(http).__mro__:
        top = cls.__module__.split(".")[0]
        if top in HTTPX:
            return sys.modules.get(top) or importlib.import_module(top)
    return None


def wrap(client: Any, runtime: AgentRuntime | None) -> None:
    """Governs every request ``client`` sends: by ``runtime``, or (None) by the current runtime."""
    http = _http_client(client)
    mod = _httpx_module(http)
    if mod is None:
        raise TypeError(
            f"cannot instrument {type(client).__name__}: its HTTP client is neither httpx nor httpx2"
        )
    _govern_module(mod)
    setattr(http, BOUND, runtime)
    install_error_mapping(type(client).__module__.split(".")[0])


_verdicts: dict[type, str | None] = {}


def why_ungoverned(http: Any) -> str | None:
    """Why requests of the SDK HTTP client ``http`` would escape governance (None: they will not)."""
    cls = type(http)
    if cls not in _verdicts:
        _verdicts[cls] = _why_ungoverned(http)
    return _verdicts[cls]


def _why_ungoverned(http: Any) -> str | None:
    mod = _httpx_module(http)
    if mod is None:
        return f"its HTTP client is a {type(http).__module__}.{type(http).__qualname__}, not an httpx client"
    base = mod.AsyncClient if isinstance(http, mod.AsyncClient) else mod.Client
    cls = type(http)
    if not getattr(cls._transport_for_url, _MARK, False):
        return f"{cls.__qualname__} replaces _transport_for_url"
    if cls._send_single_request is not base._send_single_request:
        return f"{cls.__qualname__} replaces _send_single_request"
    return None


def _refuse(what: str, why: str) -> UngovernedRequestError:
    return UngovernedRequestError(
        f"{what} cannot be governed inside this runtime ({why}), so it was not sent. "
        "Use the openai/anthropic SDK with an httpx http_client and rt.instrument(client), "
        "or point the client at an iron-cage router (LlmRouter / `iron-cage router`)."
    )


# -- httpx / httpx2: the one place requests are governed ------------------------------
def _govern_module(mod: Any) -> None:
    if f"httpx:{mod.__name__}" in _installed:
        return
    with _lock:
        if f"httpx:{mod.__name__}" in _installed:
            return
        sync_cls, async_cls = transports_for(mod)
        for client_cls, governed_cls in ((mod.Client, sync_cls), (mod.AsyncClient, async_cls)):
            client_cls._transport_for_url = _governing_lookup(client_cls._transport_for_url, governed_cls)
        _installed.add(f"httpx:{mod.__name__}")


def _governing_lookup(original: Any, governed_cls: type) -> Any:
    @functools.wraps(original)
    def _transport_for_url(self: Any, url: Any) -> Any:
        transport = original(self, url)
        if isinstance(transport, governed_cls):
            return transport
        state = self.__dict__
        rt = governing(state.get(BOUND))
        if rt is None:
            return transport
        last = state.get(_LAST)
        if last is not None and last[0] is transport and last[1] is rt:
            return last[2]
        governed = governed_cls(transport, rt)
        state[_LAST] = (transport, rt, governed)
        return governed

    setattr(_transport_for_url, _MARK, True)
    return _transport_for_url


# -- the SDKs: refusals as exceptions, and a check before each request ---------------
def install_error_mapping(sdk: str) -> None:
    """SDKs raise the iron-cage exception carried by a refusal, not an APIStatusError."""
    with _lock:
        if f"errors:{sdk}" in _installed:
            return
        base = importlib.import_module(f"{sdk}._base_client").BaseClient
        original = base._make_status_error_from_response

        def _make_status_error_from_response(self: Any, response: Any) -> Any:
            exc = response.extensions.get(ERROR_KEY) if hasattr(response, "extensions") else None
            return exc if exc is not None else original(self, response)

        base._make_status_error_from_response = _make_status_error_from_response
        _installed.add(f"errors:{sdk}")


def _install_send_check(sdk: str) -> None:
    """Inside a scope, an SDK client whose requests would not be governed raises
    before anything is sent."""
    with _lock:
        if f"check:{sdk}" in _installed:
            return
        base = importlib.import_module(f"{sdk}._base_client")

        def check(self: Any) -> None:
            http = getattr(self, "_client", None)
            if governing(http.__dict__.get(BOUND) if hasattr(http, "__dict__") else None) is None:
                return
            why = why_ungoverned(http)
            if why is not None:
                raise _refuse(f"a request of {type(self).__name__}", why)

        sync_request = base.SyncAPIClient.request
        async_request = base.AsyncAPIClient.request

        @functools.wraps(sync_request)
        def request(self: Any, *args: Any, **kwargs: Any) -> Any:
            check(self)
            return sync_request(self, *args, **kwargs)

        @functools.wraps(async_request)
        async def arequest(self: Any, *args: Any, **kwargs: Any) -> Any:
            check(self)
            return await async_request(self, *args, **kwargs)

        base.SyncAPIClient.request = request
        base.AsyncAPIClient.request = arequest
        _installed.add(f"check:{sdk}")


# -- other HTTP libraries: provider APIs are refused inside a scope -----------------
def _guard_urllib3() -> None:
    pool_cls = sys.modules["urllib3"].connectionpool.HTTPConnectionPool
    original = pool_cls.urlopen

    @functools.wraps(original)
    def urlopen(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if not SENDING_GOVERNED.get() and governing(None) is not None and is_provider_host(str(self.host)):
            raise _refuse(
                f"{method} {self.scheme}://{self.host}{url} (urllib3/requests)", "urllib3 is not governed"
            )
        return original(self, method, url, *args, **kwargs)

    pool_cls.urlopen = urlopen


def _guard_aiohttp() -> None:
    session_cls = sys.modules["aiohttp"].ClientSession
    original = session_cls._request

    @functools.wraps(original)
    async def _request(self: Any, method: str, str_or_url: Any, *args: Any, **kwargs: Any) -> Any:
        if not SENDING_GOVERNED.get() and governing(None) is not None:
            host = sys.modules["yarl"].URL(str(str_or_url)).host or ""
            if is_provider_host(host):
                raise _refuse(f"{method} {str_or_url} (aiohttp)", "aiohttp is not governed")
        return await original(self, method, str_or_url, *args, **kwargs)

    session_cls._request = _request


def _guard_lm15() -> None:
    # DSPy's default engine: HTTP/1.1 written to its own sockets.
    transports = sys.modules[_LM15]
    for cls in (transports.StdlibTransport, transports.StdlibAsyncTransport):
        original = cls.stream

        def stream(self: Any, request: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            if not SENDING_GOVERNED.get() and governing(None) is not None:
                host = urllib.parse.urlsplit(str(request.url)).hostname or ""
                if is_provider_host(host):
                    raise _refuse(
                        f"{request.method} {request.url} (DSPy's built-in HTTP client)",
                        "DSPy's default engine is not governed; use engine='litellm' or an iron-cage router",
                    )
            return _original(self, request, *args, **kwargs)

        cls.stream = functools.wraps(original)(stream)


_LM15 = "dspy._vendor.lm15.transports"
_GUARDS = {"urllib3": _guard_urllib3, "aiohttp": _guard_aiohttp, _LM15: _guard_lm15}


def install_auto_instrument() -> None:
    """Requests sent inside a runtime scope are governed at send time (see the
    module docs); HTTP libraries imported since the last call are guarded too."""
    if "auto" not in _installed:
        for name in HTTPX:
            try:
                _govern_module(importlib.import_module(name))
            except ImportError:
                continue
        for sdk in SDKS:
            try:
                importlib.import_module(f"{sdk}._base_client")
            except ImportError:
                continue
            install_error_mapping(sdk)
            _install_send_check(sdk)
        _installed.add("auto")
    _tools.install_framework_tools(sys.modules)
    for name, guard in _GUARDS.items():
        if name in sys.modules and f"guard:{name}" not in _installed:
            with _lock:
                if f"guard:{name}" not in _installed:
                    guard()
                    _installed.add(f"guard:{name}")
