"""AutoGPT-style loop that never declares itself done: a step cap, a per-step token cap
and the budget constrain it, and the budget stops it before the call that could overspend."""

import openai
from _env import example_env

import iron_cage as ic

MAX_STEPS = 200
BUDGET = 0.003

with example_env() as env:
    client = openai.OpenAI(**env.openai)
    steps = 0
    stopped_by = "the step cap"
    with ic.AgentRuntime(budget=BUDGET, name="autonomous") as rt:
        thought = "Goal: qualify every lead in the CRM. Decide the next action."
        try:
            while steps < MAX_STEPS:
                reply = client.chat.completions.create(
                    model="gpt-4o",
                    max_tokens=60,  # per-step cap: the reservation is bounded, so is the overshoot
                    messages=[
                        {"role": "system", "content": "Reply with the next action, or DONE."},
                        {"role": "user", "content": thought},
                    ],
                )
                thought = reply.choices[0].message.content or ""
                steps += 1
                if thought.strip() == "DONE":
                    stopped_by = "the agent itself"
                    break
        except ic.BudgetExceededError as exc:
            stopped_by = f"the budget ({exc})"
        print(f"{steps} steps, stopped by {stopped_by}")
        print(f"spent ${rt.spent_usd:.6f} of ${BUDGET} (overspend: {max(0.0, rt.spent_usd - BUDGET):.6f})")
        assert rt.spent_usd <= BUDGET
    client.close()
