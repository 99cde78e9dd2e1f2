"""A lead-generation agent under a hard budget and a circuit breaker.

The agent is ordinary ``openai`` client code; it runs inside an
``ic.AgentRuntime`` (library mode) against ``FakeProvider``, a local
OpenAI-compatible server with deterministic replies and exact usage. The
runtime counts each prompt with the model's tokenizer, reserves the call's
worst case (prompt + ``max_tokens`` at the embedded price table's rates) before
it is sent, charges the usage the provider reports, fires the 90% threshold
once, scans every reply for PII, and raises ``BudgetExceededError`` BEFORE the
call that could overspend — nothing is sent then. The agent's LinkedIn lookup
starts failing at lead #30: a ``CircuitBreaker`` opens on the 5th consecutive
failure (lead #34) and a ``FallbackChain`` serves the rest from cached
profiles. At lead #67 the model's reply leaks a personal email and phone
number; the runtime redacts them before the agent sees the reply.

With the Control Panel installed (``iron-cage[control-panel]``), the budget comes from an
embedded Control Panel on a SQLite file: an admin account, the agent, its allocation and
IC token are created through ``iron_cage.client``, the runtime leases the allocation
(``AgentRuntime(control_panel=..., ic_token=...)``) and reports every call; at the end
the server's view (usage, alerts with their recommended action) is printed.
``--serve`` keeps the Control Panel running afterwards.
"""

from __future__ import annotations

import contextlib
import random
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def model_reply(lead: Lead) -> str:
    """What the (fake) model answers; at lead #67 it leaks the lead's personal contact details."""
    notes = " ".join(
        f"Signal {k}: engaged with {('pricing', 'docs', 'webinar', 'case study')[k % 4]} content."
        for k in range(1, 3 + lead.number % 5)
    )
    reply = (
        f"Score 8/10: {lead.name} ({lead.role}) owns the budget for agent tooling at {lead.company}. {notes}"
    )
    if lead.number == LEAKY_REPLY_AT:
        first = lead.name.split()[0].lower()
        reply += f" Reach {first} directly at {first}.private@gmail.com or (415) 555-2671."
    return reply


def _profile(lead: Lead) -> str:
    return linkedin_lookup(lead) if lead.number < LINKEDIN_DOWN_FROM else cached_profile(lead)


def _actual_usd(lead: Lead) -> float:
    """What FakeProvider will bill for the lead: exact prompt and reply tokens at the table's prices."""
    usage = {
        "prompt_tokens": ic.count_tokens(MODEL, messages_for(lead, _profile(lead))),
        "completion_tokens": ic.count_tokens(MODEL, model_reply(lead)),
    }
    return ic.cost_of(MODEL, usage)


def budget_for_story(leads: list[Lead]) -> float:
    """A limit at which 90% of it is crossed while qualifying lead #85."""
    spent_through = sum(_actual_usd(lead) for lead in leads[:WARN_AT_LEAD])
    spent_before = spent_through - _actual_usd(leads[WARN_AT_LEAD - 1])
    return round((spent_before + spent_through) / 2 / 0.9, 6)


@dataclass
class _Panel:
    url: str
    admin_password: str
    ic_token: str
    client: Any


@contextlib.contextmanager
def _control_panel(limit: float, workdir: Path, echo: Callable[[str], None]) -> Iterator[_Panel | None]:
    """An embedded Control Panel with the demo's agent and allocation, or None without the extra."""
    try:
        from iron_cage.client import ControlPanelClient
        from iron_cage.control_panel import Settings
        from iron_cage.control_panel.embedded import EmbeddedControlPanel
    except ImportError:
        echo("(Control Panel not installed: pip install 'iron-cage[control-panel]'; using a local budget)")
        yield None
        return
    settings = Settings(
        database_url=f"sqlite:///{workdir / 'control-panel.db'}",
        master_key=ic.generate_master_key(),
        admin_email="admin@localhost",
        admin_password=None,
        sweep_interval_s=1.0,
    )
    with EmbeddedControlPanel(settings) as cp:
        password = cp.admin_password or ""
        with ControlPanelClient(cp.url, email="admin@localhost", password=password) as client:
            agent = client.create_agent("lead-gen-agent", project="demo", budget_usd=f"{limit:.6f}")
            token = client.create_token(agent.id, "demo runtime").token
            yield _Panel(cp.url, password, token, client)


def run(echo: Callable[[str], None] = print, *, serve: bool = False) -> int:
    """Runs the demo and returns the number of leads qualified."""
    with tempfile.TemporaryDirectory(prefix="iron-cage-demo-") as tmp:
        leads = synthetic_leads()
        limit = budget_for_story(leads)
        with _control_panel(limit, Path(tmp), echo) as panel:
            done = _run_agent(leads, limit, panel, Path(tmp), echo)
            if panel is not None:
                _server_view(panel, limit, echo)
                if serve:
                    echo(
                        f"Dashboard: {panel.url}/ (log in as admin@localhost / {panel.admin_password}); "
                        f"API docs: {panel.url}/api/v1/docs; Ctrl-C to stop"
                    )
                    with contextlib.suppress(KeyboardInterrupt):
                        import time

                        while True:
                            time.sleep(3600)
    return done


def _server_view(panel: _Panel, limit: float, echo: Callable[[str], None]) -> None:
    usage = panel.client.usage_summary()
    alerts = list(reversed(panel.client.list_alerts()))
    budget = panel.client.list_agents()[0].budget
    echo(
        f"control panel: {usage.requests} calls reported, ${usage.cost_usd:.6f} spent of the "
        f"${budget.limit_usd:.6f} allocation, ${budget.leased_usd:.6f} still leased, "
        f"{usage.pii_findings} PII findings"
    )
    for alert in alerts:
        echo(f"control panel alert: {alert.message} -> {alert.recommended_action}")


def _run_agent(
    leads: list[Lead], limit: float, panel: _Panel | None, workdir: Path, echo: Callable[[str], None]
) -> int:
    import openai

    from iron_cage.testing import FakeProvider

    if panel is None:
        runtime = ic.AgentRuntime(
            budget=ic.Budget(limit, thresholds=[0.9], name="lead-gen-agent"), safety_mode="redact"
        )
    else:
        runtime = ic.AgentRuntime(
            budget=limit,
            safety_mode="redact",
            name="lead-gen-agent",
            control_panel=panel.url,
            ic_token=panel.ic_token,
            outbox_path=workdir / "outbox.db",
        )
    budget = runtime.budget
    assert budget is not None
    events: list[ic.ThresholdEvent] = []
    budget.on_threshold(events.append)
    breaker = ic.CircuitBreaker("linkedin", failure_threshold=5, cooldown_s=60.0, cost_estimate_usd=0.01)
    transitions: list[str] = []
    breaker.on_state_change(lambda name, old, new: transitions.append(f"{name} {old} -> {new}"))
    enrich = ic.FallbackChain([("live", breaker(linkedin_lookup)), ("cache", cached_profile)])
    found: list[dict[str, object]] = []
    done = shown = shown_transitions = 0
    with FakeProvider() as provider, runtime as rt:
        rt.on_event(lambda e: found.append(e) if e["type"] == "pii_detected" else None)
        for lead in leads:
            provider.script_reply(model_reply(lead), at_request=lead.number)
        client = openai.OpenAI(base_url=provider.base_url, api_key="demo-key", max_retries=0)
        echo(f"iron-cage demo: {LEADS} leads, model {MODEL}, prices of {ic.PRICE_TABLE_VERSION}")
        echo(f"agent: openai client -> AgentRuntime (library mode) -> FakeProvider at {provider.base_url}")
        if panel is not None:
            echo(
                f"budget leased from the Control Panel at {panel.url} "
                f"(SQLite, IC token {panel.ic_token[:10]}...)"
            )
        echo(
            f"budget ${limit:.6f}; 90% threshold armed; every call reserves its worst case before it is sent"
        )
        for lead in leads:
            profile = enrich(lead)
            for change in transitions[shown_transitions:]:
                echo(
                    f"lead #{lead.number:3d}: CIRCUIT BREAKER {change} after 5 failed lookups; "
                    "serving cached profiles"
                )
            shown_transitions = len(transitions)
            before = len(found)
            try:
                reply = client.chat.completions.create(
                    model=MODEL,
                    max_tokens=MAX_TOKENS,
                    messages=messages_for(lead, profile),  # type: ignore[arg-type]
                )
            except ic.BudgetExceededError as exc:
                echo(f"lead #{lead.number:3d}: STOPPED before the call: {exc}")
                break
            text = reply.choices[0].message.content or ""
            if len(found) > before:
                kinds = ", ".join(str(e["entity"]) for e in found[before:])
                echo(f"lead #{lead.number:3d}: PII REDACTED in the reply ({kinds}): {text}")
            done += 1
            if lead.number % 10 == 0:
                usage = reply.usage
                tokens = (
                    f"{usage.prompt_tokens} prompt + {usage.completion_tokens} reply tokens" if usage else ""
                )
                spent = f"spent ${budget.spent_usd:.6f} of ${budget.limit_usd:.6f}"
                echo(f"lead #{lead.number:3d}: {tokens}, {spent}")
            for ev in events[shown:]:
                echo(
                    f"lead #{lead.number:3d}: THRESHOLD {ev.threshold:.0%} crossed "
                    f"(spent ${ev.spent_usd:.6f} of ${ev.limit_usd:.6f}) -> alert the admin"
                )
            shown = len(events)
        client.close()
        sent = provider.request_count
        metrics = rt.metrics()
    m = breaker.metrics()
    echo(
        f"linkedin breaker: {m['state']}, {m['failures']} failures, {m['rejected']} calls not made "
        f"(~${m['cost_saved_usd']:.2f} saved); profiles {enrich.summary()}"
    )
    echo(f"PII: {len(found)} values redacted before the agent saw them")
    echo(
        f"LLM calls: {metrics['calls']} charged, {metrics['refused']} refused before sending, "
        f"{sent} reached the provider"
    )
    echo(
        f"qualified {done} leads; spent ${budget.spent_usd:.6f} of ${budget.limit_usd:.6f} "
        f"(overspend ${max(0.0, budget.spent_usd - budget.limit_usd):.6f}); threshold events: {len(events)}"
    )
    return done
