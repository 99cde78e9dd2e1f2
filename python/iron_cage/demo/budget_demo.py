"""A lead-generation agent under a hard budget and a circuit breaker.

Until the FakeProvider and the policy pipeline exist, the LLM's replies are
generated here deterministically. Everything else is real: prompts are counted
with the model's BPE tokenizer, each call reserves its worst case (prompt
tokens + max_tokens at the embedded price table's rates) before it runs,
commits the exact cost of the provider-shaped usage object afterwards, the 90%
threshold fires once as an event, and the agent is stopped by
``BudgetExceededError`` BEFORE the call that could overspend. The agent's
LinkedIn lookup starts failing at lead #30: a real ``CircuitBreaker`` opens on
the 5th consecutive failure (lead #34) and a ``FallbackChain`` serves the rest
from cached profiles without calling the failing API again. At lead #67 the
model's reply leaks a personal email and phone number; the PII scanner redacts
them before the reply is stored.
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
LINKEDIN_DOWN_FROM = 30
LEAKY_REPLY_AT = 67

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


class LinkedInUnavailableError(ConnectionError):
    """The lookup API is down (the demo's scripted outage)."""


def linkedin_lookup(lead: Lead) -> str:
    if lead.number >= LINKEDIN_DOWN_FROM:
        raise LinkedInUnavailableError(f"LinkedIn API unreachable for lead #{lead.number}")
    return f"{lead.name}: 500+ connections, {lead.role} at {lead.company} (live)"


def cached_profile(lead: Lead) -> str:
    return f"{lead.name}: {lead.role} at {lead.company} (cached)"


def messages_for(lead: Lead, profile: str = "") -> list[dict[str, str]]:
    return [
        {
            "role": "system",
            "content": "You qualify B2B sales leads. Answer with a score from 1-10 and one reason.",
        },
        {
            "role": "user",
            "content": f"Lead #{lead.number}: {lead.name}, {lead.role} at {lead.company}. "
            "They downloaded our whitepaper on agent governance and attended a webinar. Qualify them."
            + (f" Profile: {profile}" if profile else ""),
        },
    ]


def simulated_reply(lead: Lead) -> str:
    """The model's answer; at lead #67 it leaks the lead's personal contact details."""
    reply = f"Score 8/10: {lead.name} ({lead.role}) owns the budget for agent tooling at {lead.company}."
    if lead.number == LEAKY_REPLY_AT:
        first = lead.name.split()[0].lower()
        reply += f" Reach {first} directly at {first}.private@gmail.com or (415) 555-2671."
    return reply


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


def _profile(lead: Lead) -> str:
    return linkedin_lookup(lead) if lead.number < LINKEDIN_DOWN_FROM else cached_profile(lead)


def _actual_usd(lead: Lead) -> float:
    prompt_tokens = ic.count_tokens(MODEL, messages_for(lead, _profile(lead)))
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
    breaker = ic.CircuitBreaker("linkedin", failure_threshold=5, cooldown_s=60.0, cost_estimate_usd=0.01)
    transitions: list[str] = []
    breaker.on_state_change(lambda name, old, new: transitions.append(f"{name} {old} -> {new}"))
    enrich = ic.FallbackChain([("live", breaker(linkedin_lookup)), ("cache", cached_profile)])
    pii = ic.PiiScanner(mode="redact")
    redactions = 0
    echo(f"iron-cage budget demo: {LEADS} leads, model {MODEL}, prices of {ic.PRICE_TABLE_VERSION}")
    echo(f"budget ${limit:.6f}; 90% threshold armed; every call reserves its worst case first")
    echo("LLM replies are simulated until FakeProvider lands;")
    echo(
        "token counts, prices, reservations, commits, thresholds and the circuit breaker are the real engine."
    )
    done = shown = shown_transitions = 0
    for lead in leads:
        profile = enrich(lead)
        for change in transitions[shown_transitions:]:
            echo(
                f"lead #{lead.number:3d}: CIRCUIT BREAKER {change} after 5 failed lookups; "
                "serving cached profiles"
            )
        shown_transitions = len(transitions)
        msgs = messages_for(lead, profile)
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
        scanned = pii.scan(simulated_reply(lead))
        if scanned.findings:
            redactions += len(scanned.findings)
            kinds = ", ".join(f.entity for f in scanned.findings)
            echo(f"lead #{lead.number:3d}: PII REDACTED in the reply ({kinds}): {scanned.text}")
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
    m = breaker.metrics()
    echo(
        f"linkedin breaker: {m['state']}, {m['failures']} failures, {m['rejected']} calls not made "
        f"(~${m['cost_saved_usd']:.2f} saved); profiles {enrich.summary()}"
    )
    echo(f"PII: {redactions} values redacted before reaching the CRM")
    echo(
        f"qualified {done} leads; spent ${budget.spent_usd:.6f} of ${budget.limit_usd:.6f} "
        f"(overspend ${max(0.0, budget.spent_usd - budget.limit_usd):.6f}); threshold events: {len(events)}"
    )
    return done
