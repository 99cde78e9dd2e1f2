"""FakeProvider's replies rendered in pure Python, for ``iron_cage.testing`` without the Rust core.

The shapes (ids, fields, SSE events, 4-character stream pieces), the default reply text,
truncation at the output cap, reasoning tokens and embeddings are those of
``crates/iron_runtime/src/fake.rs``. Token counts are not the model's tokenizer: a word,
a number or a punctuation mark counts one token, and a message adds 3 for its
framing, plus 3 per request (see docs/testing.md). Usage is reported exactly for those counts.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

APIS = {
    "/v1/chat/completions": "chat",
    "/v1/responses": "responses",
    "/v1/messages": "messages",
    "/v1/embeddings": "embeddings",
}
_TOKEN = re.compile(r"\w+|[^\w\s]")


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def api_of(path: str) -> str | None:
    """The API a request path calls (``chat``, ``responses``, ``messages``, ``embeddings``), or None."""
    for suffix, api in APIS.items():
        if path.endswith(suffix):
            return api
    return None


def count_text(text: str) -> int:
    """Tokens of ``text`` as the pure mode counts them: words, numbers and punctuation marks."""
    return len(_TOKEN.findall(text))


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _count_messages(messages: Any) -> int:
    if not isinstance(messages, list):
        return 0
    total = 3
    for m in messages:
        if isinstance(m, dict):
            total += 3 + count_text(str(m.get("role", ""))) + count_text(_text_of(m.get("content")))
    return total


def input_tokens(api: str, req: dict[str, Any]) -> int:
    """The input tokens the fake reports for ``req`` (and the mock reserves for)."""
    if api in ("chat", "messages"):
        system = req.get("system")
        system_text = system if isinstance(system, str) else json.dumps(system) if system is not None else ""
        tools = json.dumps(req["tools"]) if "tools" in req else ""
        return _count_messages(req.get("messages")) + count_text(system_text) + count_text(tools)
    inp = req.get("input")
    if api == "responses":
        n = count_text(inp) if isinstance(inp, str) else _count_messages(inp) if isinstance(inp, list) else 0
        instructions = req.get("instructions")
        return n + (count_text(instructions) if isinstance(instructions, str) else 0)
    if isinstance(inp, str):
        return count_text(inp)
    if isinstance(inp, list):
        return sum(count_text(i) if isinstance(i, str) else 1 for i in inp)
    return 0


def max_output(req: dict[str, Any]) -> int | None:
    for key in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        value = req.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def is_reasoning(model: str) -> bool:
    m = model.lower()
    return m.startswith("gpt-5") or m.startswith(("o1", "o3", "o4"))


def last_user_text(api: str, req: dict[str, Any]) -> str:
    if api == "responses":
        inp = req.get("input")
        if isinstance(inp, str):
            return inp
        if isinstance(inp, list) and inp and isinstance(inp[-1], dict):
            return _text_of(inp[-1].get("content"))
        return ""
    messages = req.get("messages")
    if isinstance(messages, list):
        for m in reversed(messages):
            if isinstance(m, dict) and m.get("role") == "user":
                return _text_of(m.get("content"))
    return ""


def default_reply(api: str, req: dict[str, Any], model: str, n: int) -> str:
    words = last_user_text(api, req).split()
    topic = " ".join(words[:8])
    return (
        f'Reply {n} from {model}: you wrote {len(words)} words, starting with "{topic}". '
        "Here is a short, deterministic answer."
    )


def embed(text: str) -> list[float]:
    h = 0xCBF29CE484222325
    out = []
    for i in range(8):
        for b in [*text.encode(), i]:
            h ^= b
            h = (h * 0x100000001B3) % (1 << 64)
        out.append((h % 2000) / 1000.0 - 1.0)
    return out


@dataclass
class Reply:
    """One deterministic reply; ``text`` is what the provider wrote (usage counts it)."""

    api: str
    model: str
    n: int
    text: str
    choices: int
    input: int
    output: int
    reasoning: int
    truncated: bool
    include_usage: bool
    inputs: list[str]

    @classmethod
    def render(cls, api: str, req: dict[str, Any], model: str, n: int, scripted: str | None) -> Reply:
        text = scripted if scripted is not None else default_reply(api, req, model, n)
        cap = max_output(req)
        reasoning = (min(cap, 8) if cap is not None else 8) if is_reasoning(model) else 0
        truncated = False
        if cap is not None:
            while count_text(text) + reasoning > cap and text:
                truncated = True
                cut = text.rstrip().rfind(" ")
                text = text[: max(cut, 0)]
        inp = req.get("input")
        inputs = [inp] if isinstance(inp, str) else [i if isinstance(i, str) else "" for i in inp or []]
        choices = req.get("n")
        return cls(
            api=api,
            model=model,
            n=n,
            text=text,
            choices=max(choices, 1) if isinstance(choices, int) else 1,
            input=input_tokens(api, req),
            output=0 if api == "embeddings" else count_text(text) + reasoning,
            reasoning=reasoning,
            truncated=truncated,
            include_usage=isinstance(req.get("stream_options"), dict)
            and req["stream_options"].get("include_usage") is True,
            inputs=inputs if api == "embeddings" else [],
        )

    @property
    def billed_output(self) -> int:
        return self.output * self.choices

    def _id(self, prefix: str) -> str:
        return f"{prefix}{(self.n * 0x9E3779B97F4A7C15) % (1 << 64):016x}"

    def usage(self) -> dict[str, Any]:
        if self.api == "chat":
            return {
                "prompt_tokens": self.input,
                "completion_tokens": self.output * self.choices,
                "total_tokens": self.input + self.output * self.choices,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": self.reasoning * self.choices,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            }
        if self.api == "embeddings":
            return {"prompt_tokens": self.input, "total_tokens": self.input}
        if self.api == "responses":
            return {
                "input_tokens": self.input,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": self.output,
                "output_tokens_details": {"reasoning_tokens": self.reasoning},
                "total_tokens": self.input + self.output,
            }
        return {
            "input_tokens": self.input,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
            "output_tokens": self.output,
        }

    def _finish_reason(self) -> str:
        if self.api == "messages":
            return "max_tokens" if self.truncated else "end_turn"
        return "length" if self.truncated else "stop"

    def _response_object(self, text: str, status: str, with_output: bool) -> dict[str, Any]:
        output = (
            [
                {
                    "type": "message",
                    "id": self._id("msg_"),
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }
            ]
            if with_output
            else []
        )
        return {
            "id": self._id("resp_"),
            "object": "response",
            "created_at": int(time.time()),
            "status": status,
            "model": self.model,
            "output": output,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": self.usage() if with_output else None,
        }

    def body(self, text: str) -> dict[str, Any]:
        """The JSON reply, with ``text`` (the reply as the agent may see it) as its content."""
        if self.api == "chat":
            choices = [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "finish_reason": self._finish_reason(),
                    "logprobs": None,
                }
                for i in range(self.choices)
            ]
            return {
                "id": self._id("chatcmpl-"),
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.model,
                "choices": choices,
                "usage": self.usage(),
                "system_fingerprint": "fp_fake",
            }
        if self.api == "responses":
            return self._response_object(text, "completed", True)
        if self.api == "messages":
            return {
                "id": self._id("msg_"),
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": self._finish_reason(),
                "stop_sequence": None,
                "usage": self.usage(),
            }
        data = [{"object": "embedding", "index": i, "embedding": embed(s)} for i, s in enumerate(self.inputs)]
        return {"object": "list", "data": data, "model": self.model, "usage": self.usage()}

    def stream(self, text: str, chars: int = 4) -> str:
        """The whole SSE stream carrying ``text`` in ``chars``-character pieces."""
        pieces = [text[i : i + chars] for i in range(0, len(text), chars)]
        out: list[str] = []

        def data(v: Any) -> None:
            out.append(f"data: {_compact(v)}\n\n")

        def named(name: str, v: Any) -> None:
            out.append(f"event: {name}\ndata: {_compact(v)}\n\n")

        if self.api in ("chat", "embeddings"):
            ident, created = self._id("chatcmpl-"), int(time.time())

            def chunk(choices: list[Any]) -> dict[str, Any]:
                return {
                    "id": ident,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": self.model,
                    "system_fingerprint": "fp_fake",
                    "choices": choices,
                }

            for i in range(self.choices):
                data(
                    chunk(
                        [{"index": i, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]
                    )
                )
            for piece in pieces:
                for i in range(self.choices):
                    data(chunk([{"index": i, "delta": {"content": piece}, "finish_reason": None}]))
            for i in range(self.choices):
                data(chunk([{"index": i, "delta": {}, "finish_reason": self._finish_reason()}]))
            if self.include_usage:
                data(chunk([]) | {"usage": self.usage()})
            out.append("data: [DONE]\n\n")
        elif self.api == "responses":
            item, seq = self._id("msg_"), 0

            def ev(name: str, v: dict[str, Any]) -> None:
                nonlocal seq
                named(name, v | {"type": name, "sequence_number": seq})
                seq += 1

            part = {"type": "output_text", "text": text, "annotations": []}
            at = {"item_id": item, "output_index": 0, "content_index": 0}
            ev("response.created", {"response": self._response_object(text, "in_progress", False)})
            added = {
                "type": "message",
                "id": item,
                "status": "in_progress",
                "role": "assistant",
                "content": [],
            }
            ev("response.output_item.added", {"output_index": 0, "item": added})
            ev("response.content_part.added", at | {"part": part | {"text": ""}})
            for piece in pieces:
                ev("response.output_text.delta", at | {"delta": piece})
            ev("response.output_text.done", at | {"text": text})
            ev("response.content_part.done", at | {"part": part})
            done = added | {"status": "completed", "content": [part]}
            ev("response.output_item.done", {"output_index": 0, "item": done})
            ev("response.completed", {"response": self._response_object(text, "completed", True)})
        else:
            start = self.usage() | {"output_tokens": 1}
            message: dict[str, Any] = {
                "id": self._id("msg_"),
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": start,
            }
            named("message_start", {"type": "message_start", "message": message})
            block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
            named("content_block_start", block)
            named("ping", {"type": "ping"})
            for piece in pieces:
                delta = {"type": "text_delta", "text": piece}
                named("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
            named("content_block_stop", {"type": "content_block_stop", "index": 0})
            stop: dict[str, Any] = {"stop_reason": self._finish_reason(), "stop_sequence": None}
            named(
                "message_delta",
                {"type": "message_delta", "delta": stop, "usage": {"output_tokens": self.output}},
            )
            named("message_stop", {"type": "message_stop"})
        return "".join(out)
