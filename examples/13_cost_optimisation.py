"""Pick the cheapest model that fits: count tokens exactly, price them with the embedded table."""

import iron_cage as ic

messages = [{"role": "user", "content": "Classify this support ticket: 'My invoice is wrong.'" * 20}]
expected_reply_tokens = 50
for model in ("gpt-4o", "gpt-4o-mini", "gpt-4.1-nano", "claude-haiku-4-5"):
    prompt = ic.count_tokens(model, messages)
    usd = ic.cost_of(model, {"prompt_tokens": prompt, "completion_tokens": expected_reply_tokens})
    print(f"{model:18s} {prompt:5d} prompt tokens  ${usd:.6f} per call  ${usd * 10_000:8.2f} per 10k calls")
print(f"prices as of {ic.PRICE_TABLE_VERSION}; override with IRON_CAGE_PRICES=prices.toml")
