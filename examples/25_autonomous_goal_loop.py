"""AutoGPT-style autonomous loop: a goal decomposed into tasks, each run by the model,
under a step cap and one budget (plain openai client, nothing framework-specific)."""

import re

import openai
from _env import example_env

import iron_cage as ic

GOAL = "Find three B2B leads for a budget guard for AI agents and draft the first e-mail."
MAX_STEPS = 6  # the loop's own cap, next to the budget's

with example_env() as env:
    if env.fake:
        env.fake.script_reply(
            "1. List companies running AI agents in production\n"
            "2. Pick the three with the largest LLM spend\n"
            "3. Draft the first e-mail to the best lead",
            at_request=1,
        )
        env.fake.script_reply("Initech, Globex and Umbrella run agents in production.", at_request=2)
        env.fake.script_reply("By LLM spend: Initech, Globex, Umbrella.", at_request=3)
        env.fake.script_reply(
            "Initech spends most; its CTO is reachable at cto@initech-private.com.", at_request=4
        )
    client = openai.OpenAI(**env.openai)
    with ic.AgentRuntime(budget=0.05, name="autonomous") as rt:
        plan = client.chat.completions.create(
            model="gpt-4o-mini",
            max_tokens=200,
            messages=[{"role": "user", "content": f"Break this goal into numbered tasks: {GOAL}"}],
        )
        tasks = re.findall(r"^\s*\d+[.)]\s*(.+)$", plan.choices[0].message.content or "", re.MULTILINE)
        print(f"goal: {GOAL}\nplan: {len(tasks)} tasks")
        memory: list[str] = []
        for step, task in enumerate(tasks[:MAX_STEPS], start=1):
            result = client.chat.completions.create(
                model="gpt-4o-mini",
                max_tokens=150,
                messages=[
                    {
                        "role": "system",
                        "content": "You are an autonomous agent. Notes so far: " + " | ".join(memory),
                    },
                    {"role": "user", "content": task},
                ],
            )
            note = result.choices[0].message.content or ""
            memory.append(note)
            print(f"step {step}: {task[:50]!r} -> {note[:70]}")
        m = rt.metrics()
        print(
            f"{m['calls']} model calls, PII findings {m['pii_findings']}, spent ${rt.spent_usd:.6f} of $0.05"
        )
    client.close()
