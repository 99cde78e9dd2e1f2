#!/usr/bin/env python3
"""Writes the committed seed corpus, fuzz/seeds/<target>/, from request and
reply shapes of our own FakeProvider (crates/iron_runtime/src/fake.rs).

Inputs start with a format selector byte (0 chat, 1 responses, 2 messages,
3 embeddings; see crates/iron_fuzz). Run from anywhere: python3 fuzz/gen_seeds.py
"""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent / "seeds"
CHAT, RESPONSES, MESSAGES, EMBEDDINGS = 0, 1, 2, 3


def j(v):
    return json.dumps(v, ensure_ascii=False).encode()


def usage(fmt, i=11, o=7):
    if fmt == CHAT:
        return {"prompt_tokens": i, "completion_tokens": o, "total_tokens": i + o,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0}}
    if fmt == EMBEDDINGS:
        return {"prompt_tokens": i, "total_tokens": i}
    if fmt == RESPONSES:
        return {"input_tokens": i, "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": o, "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": i + o}
    return {"input_tokens": i, "output_tokens": o, "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0}


MSG = [{"role": "user", "content": "Email bob@example.com about order 42"}]
REQUESTS = [
    (CHAT, {"model": "gpt-4o-mini", "messages": MSG}),
    (CHAT, {"model": "gpt-4o", "stream": True, "max_tokens": 64, "n": 2, "messages": MSG}),
    (CHAT, {"model": "gpt-4o-mini", "max_completion_tokens": 5, "service_tier": "priority",
            "messages": [{"role": "system", "content": "be brief"},
                         {"role": "user", "content": [{"type": "text", "text": "h\u00e9llo \"q\"\n"}]}],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "maxItems": 1e5}}}]}),
    (CHAT, {"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "data:x"}}]}]}),
    (CHAT, {"model": "gpt-4o", "messages": [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\": 1}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "result"}]}),
    (MESSAGES, {"model": "claude-sonnet-4-5", "max_tokens": 100, "system": "sys", "messages": MSG}),
    (MESSAGES, {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]}],
        "tools": [{"type": "custom", "name": "t", "input_schema": {"type": "object"}}]}),
    (RESPONSES, {"model": "gpt-4o-mini", "input": "Call 555-0100", "instructions": "be brief",
                 "max_output_tokens": 32}),
    (RESPONSES, {"model": "gpt-4o-mini", "input": [{"role": "user", "content": [{"type": "input_text", "text": "a"}]},
                 {"type": "function_call_output", "call_id": "c", "output": "out"}]}),
    (EMBEDDINGS, {"model": "text-embedding-3-small", "input": ["one", "two", [1, 2, 3], 5]}),
    (EMBEDDINGS, {"model": "text-embedding-3-small", "input": "plain"}),
]
BAD_REQUESTS = [
    (CHAT, b"{not json"), (CHAT, b"[1]"), (CHAT, b'{"messages": []}'),
    (CHAT, b'{"model": "gpt-4o", "messages": [], "max_tokens": -1}'),
    (CHAT, b'{"model": "gpt-4o", "messages": [], "n": 129}'),
    (CHAT, b'{"model": "gpt-4o", "model": " ", "messages": []}'),
    (MESSAGES, b'{"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "x"}], "max_tokens": 2.0}'),
]


def reply(fmt, text="Hello from the fake provider."):
    if fmt == CHAT:
        return {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                             "finish_reason": "stop", "logprobs": None}],
                "usage": usage(fmt), "system_fingerprint": "fp_fake"}
    if fmt == RESPONSES:
        return {"id": "resp_1", "object": "response", "created_at": 0, "status": "completed",
                "output": [{"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                            "content": [{"type": "output_text", "text": text, "annotations": []}]}],
                "tools": [], "usage": usage(fmt)}
    if fmt == MESSAGES:
        return {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                "stop_sequence": None, "usage": usage(fmt)}
    return {"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.1, -0.2]}],
            "model": "text-embedding-3-small", "usage": usage(fmt)}


def sse(fmt, pieces=("Hel", "lo ", "b\u00f6b@example.com")):
    def data(v):
        return f"data: {json.dumps(v, ensure_ascii=False)}\n\n"

    def named(name, v):
        return f"event: {name}\n" + data(v)
    out = []
    text = "".join(pieces)
    if fmt in (CHAT, EMBEDDINGS):
        def chunk(choices):
            return {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4o", "choices": choices}
        out.append(data(chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])))
        out += [data(chunk([{"index": 0, "delta": {"content": p}, "finish_reason": None}])) for p in pieces]
        out.append(data(chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}])))
        last = chunk([])
        last["usage"] = usage(CHAT)
        out.append(data(last))
        out.append("data: [DONE]\n\n")
    elif fmt == RESPONSES:
        def ev(name, v, seq):
            return named(name, {"type": name, "sequence_number": seq, **v})
        r = reply(RESPONSES, text)
        out.append(ev("response.created", {"response": {**r, "status": "in_progress", "output": [], "usage": None}}, 0))
        out += [ev("response.output_text.delta", {"item_id": "msg_1", "output_index": 0, "content_index": 0,
                                                  "delta": p}, i + 1) for i, p in enumerate(pieces)]
        out.append(ev("response.output_text.done", {"item_id": "msg_1", "output_index": 0, "content_index": 0,
                                                    "text": text}, 8))
        out.append(ev("response.completed", {"response": r}, 9))
    else:
        start = usage(MESSAGES)
        start["output_tokens"] = 1
        out.append(named("message_start", {"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-sonnet-4-5",
            "stop_reason": None, "stop_sequence": None, "usage": start}}))
        out.append(named("content_block_start", {"type": "content_block_start", "index": 0,
                                                 "content_block": {"type": "text", "text": ""}}))
        out.append(named("ping", {"type": "ping"}))
        out += [named("content_block_delta", {"type": "content_block_delta", "index": 0,
                                              "delta": {"type": "text_delta", "text": p}}) for p in pieces]
        out.append(named("content_block_stop", {"type": "content_block_stop", "index": 0}))
        out.append(named("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn",
                                           "stop_sequence": None}, "usage": {"output_tokens": 7}}))
        out.append(named("message_stop", {"type": "message_stop"}))
    return "".join(out)


def main():
    seeds = {t: [] for t in ("request_parse", "reply_skim", "sse_parse", "pii_scan")}
    for fmt, body in REQUESTS:
        seeds["request_parse"].append(bytes([fmt]) + j(body))
    for fmt, body in BAD_REQUESTS:
        seeds["request_parse"].append(bytes([fmt]) + body)
    for fmt in (CHAT, RESPONSES, MESSAGES, EMBEDDINGS):
        seeds["reply_skim"].append(bytes([fmt]) + j(reply(fmt)))
        seeds["reply_skim"].append(bytes([fmt]) + json.dumps(reply(fmt, "caf\u00e9 \"x\"\n\U0001F600"), indent=1).encode())
    seeds["reply_skim"] += [
        bytes([CHAT]) + b'{"usage": null, "choices": [{"message": {"content": null}}]}',
        bytes([CHAT]) + b'{"usage": 5}',
        bytes([CHAT]) + b'{"usage": {"prompt_tokens": 1e3, "completion_tokens": -1}}',
        bytes([MESSAGES]) + b'{"usage": {"input_tokens": 3, "input_tokens": 4, "output_tokens": 18446744073709551616}}',
        bytes([RESPONSES]) + b'{"output": [{"content": [{"type": "output_text", "text": "a\\u00e9\\ud83d\\ude00"}]}]}',
        bytes([CHAT]) + b'[{"usage": {}}]',
        bytes([CHAT]) + b'{"usage": {"prompt_tokens": 1}',
    ]
    for fmt in (CHAT, RESPONSES, MESSAGES):
        stream = sse(fmt)
        for seed in (1, 77, 200):
            seeds["sse_parse"].append(bytes([fmt, seed]) + stream.encode())
        # Cut off mid-event, and with CRLF line ends.
        seeds["sse_parse"].append(bytes([fmt, 5]) + stream[: len(stream) * 2 // 3].encode())
        seeds["sse_parse"].append(bytes([fmt, 9]) + stream.replace("\n", "\r\n").encode())
    seeds["sse_parse"] += [
        bytes([CHAT, 3]) + b": comment\n\ndata: a\ndata: b\n\r\nevent:x\ndata:y\r\n\r\n\n\ndata",
        bytes([CHAT, 4]) + b"message_delta\n{\"a\":\n1}",
        bytes([MESSAGES, 6]) + b"data: \xff\xfe\n\ndata: \xc3\n\n",
    ]
    texts = [
        "Contact bob@example.com or call +1 (555) 010-0199.",
        "Card 4111 1111 1111 1111, SSN 078-05-1120, IBAN DE89 3704 0044 0532 0130 00.",
        "Server 192.168.0.1 and 2001:db8::1, MAC 00:1a:2b:3c:4d:5e.",
        "caf\u00e9 \u65e5\u672c\u8a9e m\u00fcller@b\u00fccher.de \U0001F600 4111-1111-1111-1111",
        "nothing to see here",
        "a@b.c" * 20,
    ]
    for i, t in enumerate(texts):
        for split in (0, 128, 255):
            seeds["pii_scan"].append(bytes([(split + i * 37) % 256]) + t.encode())
    for target, items in seeds.items():
        d = ROOT / target
        d.mkdir(parents=True, exist_ok=True)
        for old in d.glob("gen-*"):
            old.unlink()
        for n, data in enumerate(items):
            (d / f"gen-{n:03d}").write_bytes(data)
        print(target, len(items))


if __name__ == "__main__":
    main()
