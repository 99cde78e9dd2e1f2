"""A lead-generation agent under a hard budget, using the real cost engine.

Until the FakeProvider and the policy pipeline exist, the LLM's replies are
generated here deterministically. Everything else is real: prompts are counted
with the model's BPE tokenizer, each call reserves its worst case (prompt
tokens + max_tokens at the embedded price table's rates) before it runs,
commits the exact cost of the provider-shaped usage object afterwards, the 90%
threshold fires once as an event, and the agent is stopped by
``BudgetExceededError`` BEFORE the call that could overspend.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import iron_cage as ic

MODEL = "gpt-4o"
MAX_TOKENS = 400
LEADS = 100
WARN_AT_LEAD = 85

_FIRST = ["Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "Alan", "Radia"]
_LAST = ["Lovelace", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie", "Allen", "Kay"]
_COMPANIES = ["Acme Robotics", "Globex", "Initech", "Umbrella Labs", "Hooli", "Stark Data", "Wayne Cloud"]
_ROLES = ["VP Engineering", "CTO", "Head of Data", "Staff Engineer", "Director of AI", "Platform Lead"]


@dataclass(frozen=True)
class Lead:
    number: int
    name: str
    company: str
    role: str


def synthetic_leads(n: int = LEADS, seed: int = 7) -> list[Lead]:
    """The same ``n`` leads on every run."""
    rng = random.Random(seed)
    return [
        Lead(i, f"{rng.choice(_FIRST)} {rng.choice(_LAST)}", rng.choice(_COMPANIES), rng.choice(_ROLES))
        for i in range(1, n + 1)
    ]


def messages_for(lead: Lead) -> list[dict[str, str]]:
    return [
        {
            "role": "system",
            "content": "You qualify B2B sales leads. Answer with a score from 1-10 and one reason.",
        },
        {
            "role": "user",
            "content": f"Lead #{lead.number}: {lead.name}, {lead.role} at {lead.company}. "
            "They downloaded our whitepaper on agent governance and attended a webinar. Qualify them.",
        },
    ]


def simulated_usage(lead: Lead, prompt_tokens: int) -> dict[str, object]:
    """An OpenAI-shaped usage object; completion length varies per lead, deterministically."""
    completion = 180 + (lead.number * 37) % 140
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def _worst_case_usd(prompt_tokens: int) -> float:
    return ic.cost_of(MODEL, {"prompt_tokens": prompt_tokens, "completion_tokens": MAX_TOKENS})


def _actual_usd(lead: Lead) -> float:
    prompt_tokens = ic.count_tokens(MODEL, messages_for(lead))
    return ic.cost_of(MODEL, simulated_usage(lead, prompt_tokens))


def budget_for_story(leads: list[Lead]) -> float:
    """A limit at which 90% of it is crossed while qualifying lead #85."""
    spent_through = sum(_actual_usd(lead) for lead in leads[:WARN_AT_LEAD])
    spent_before = spent_through - _actual_usd(leads[WARN_AT_LEAD - 1])
    return round((spent_before + spent_through) / 2 / 0.9, 6)


def run(echo: Callable[[str], None] = print) -> int:
    """Runs the demo and returns the number of leads qualified."""
    leads = synthetic_leads()
    limit = budget_for_story(leads)
    budget = ic.Budget(limit, thresholds=[0.9], name="lead-gen-agent")
    events: list[ic.ThresholdEvent] = []
    budget.on_threshold(events.append)
    echo(f"iron-cage budget demo: {LEADS} leads, model {MODEL}, prices of {ic.PRICE_TABLE_VERSION}")
    echo(f"budget ${limit:.6f}; 90% threshold armed; every call reserves its worst case first")
    echo("LLM replies are simulated until FakeProvider lands;")
    echo("token counts, prices, reservations, commits and thresholds are the real engine.")
    done = shown = 0
    for lead in leads:
        msgs = messages_for(lead)
        prompt_tokens = ic.count_tokens(MODEL, msgs)
        worst = _worst_case_usd(prompt_tokens)
        try:
            reservation = budget.reserve(worst)
        except ic.BudgetExceededError as exc:
            echo(f"lead #{lead.number:3d}: STOPPED before the call: {exc}")
            break
        with reservation:
            cost = ic.cost_of(MODEL, simulated_usage(lead, prompt_tokens))
            reservation.commit(cost)
        done += 1
        if lead.number % 10 == 0:
            echo(
                f"lead #{lead.number:3d}: {prompt_tokens} prompt tokens, reserved ${worst:.6f}, "
                f"charged ${cost:.6f}, spent ${budget.spent_usd:.6f} of ${budget.limit_usd:.6f}"
            )
        for ev in events[shown:]:
            echo(
                f"lead #{lead.number:3d}: THRESHOLD {ev.threshold:.0%} crossed "
                f"(spent ${ev.spent_usd:.6f} of ${ev.limit_usd:.6f}) -> alert the admin"
            )
        shown = len(events)
    echo(
        f"qualified {done} leads; spent ${budget.spent_usd:.6f} of ${budget.limit_usd:.6f} "
        f"(overspend ${max(0.0, budget.spent_usd - budget.limit_usd):.6f}); threshold events: {len(events)}"
    )
    return done
