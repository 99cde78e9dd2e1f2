"""FakeProvider: an OpenAI/Anthropic-compatible server on loopback."""

from __future__ import annotations

import json
from typing import Any

from iron_cage import _core
from iron_cage._loopback import LoopbackServer


class FakeProvider(LoopbackServer):
    """A deterministic LLM provider on ``127.0.0.1`` for tests, examples and demos.

    Serves ``POST /v1/chat/completions``, ``/v1/responses``, ``/v1/messages``,
    ``/v1/embeddings`` and ``GET /v1/models``. Replies are deterministic and
    report usage exactly as the real APIs do (cached and reasoning tokens
    included); streams come in 4-character pieces so values cross chunk
    boundaries. Script it::

        with FakeProvider() as fp:
            fp.fail_next(503, times=5)                 # status faults
            fp.fail_next(429, retry_after=7)           # with Retry-After
            fp.disconnect_next(after_chunks=3)         # cut a stream
            fp.script_reply("mail me at a@b.com", at_request=2)
            fp.set_latency(0.05)
            client = openai.OpenAI(base_url=fp.base_url, api_key="any")

    ``api_key``: when set, requests must present it (401 otherwise).
    """

    def __init__(self, port: int = 0, *, api_key: str | None = None, host: str = "127.0.0.1") -> None:
        self._core: _core.FakeProviderCore = _core.FakeProviderCore(port=port, api_key=api_key, host=host)

    @property
    def request_count(self) -> int:
        """Model requests received so far (faulted ones included)."""
        return self._core.request_count

    def fail_next(self, status: int, times: int = 1, retry_after: int | None = None) -> None:
        """The next ``times`` requests get ``status`` (and ``Retry-After: retry_after``)."""
        self._core.fail_next(status, times, retry_after)

    def disconnect_next(self, after_chunks: int, times: int = 1) -> None:
        """The next ``times`` streamed replies break off after ``after_chunks`` SSE events;
        a reply that is not streamed breaks off after its status line (200), with no body."""
        self._core.disconnect_next(after_chunks, times)

    def clear_faults(self) -> None:
        self._core.clear_faults()

    def set_latency(self, seconds: float) -> None:
        """Delay before every reply."""
        self._core.set_latency(seconds)

    def set_cached_tokens(self, tokens: int) -> None:
        """Input tokens reported as prompt-cache reads (at most the input)."""
        self._core.set_cached_tokens(tokens)

    def set_chunk_chars(self, chars: int) -> None:
        """Characters per streamed piece (default 4)."""
        self._core.set_chunk_chars(chars)

    def script_reply(self, text: str, at_request: int | None = None) -> None:
        """Reply ``text`` to request number ``at_request`` (1-based), or to the next request."""
        self._core.script_reply(text, at_request)

    def requests(self) -> list[dict[str, Any]]:
        """The requests received (last 1000): ``n``, ``path``, ``authorization``, ``x_api_key``, ``body``."""
        result: list[dict[str, Any]] = json.loads(self._core.requests_json())
        return result

    def __repr__(self) -> str:
        return f"FakeProvider({self.base_url!r}, requests={self.request_count})"
