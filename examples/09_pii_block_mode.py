"""Block mode: a reply containing PII is refused and nothing of it is returned."""

import openai
from _env import example_env

import iron_cage as ic

with example_env() as env, ic.AgentRuntime(budget=0.50, safety_mode="block"):
    if env.fake:
        env.fake.script_reply("The customer's SSN is 536-22-8726.")
    client = openai.OpenAI(**env.openai)
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "SSN?"}])
        print("no PII in the reply")
    except ic.PiiBlockedError as exc:
        print(f"blocked: {exc}")
    client.close()
