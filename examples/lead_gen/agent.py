"""A LangChain lead-generation agent: ordinary code, no iron-cage setup.

For each lead of leads.csv it looks the person up on LinkedIn (falling back to Clearbit's
company data when LinkedIn fails: a circuit breaker stops calling it), asks the model to
qualify the lead, and reports its progress. Run it governed and supervised:

    iron-cage start examples/lead_gen/agent.py --budget 50

(`make demo` does that against an embedded Control Panel, FakeProvider and local mock
LinkedIn/Clearbit services.) Settings come from the environment: OPENAI_API_KEY and
OPENAI_BASE_URL, LINKEDIN_URL, CLEARBIT_URL, LEAD_GEN_RATE (leads per second, default 5).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request

from langchain_core.output_parsers import StrOutputParser
from langchain_openai import ChatOpenAI
from prompts import MAX_TOKENS, MODEL, load_leads, messages_for  # beside this script (sys.path[0])

import iron_cage as ic

RATE = float(os.environ.get("LEAD_GEN_RATE", "5"))
linkedin_breaker = ic.CircuitBreaker("linkedin", failure_threshold=3, cooldown_s=3600)


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as r:
        return str(json.loads(r.read())["profile"])


def linkedin(lead: dict[str, str]) -> str:
    last: Exception | None = None
    for _attempt in range(3):  # a rate limit is retried; each try counts for the breaker
        try:
            return linkedin_breaker.call(fetch, f"{os.environ['LINKEDIN_URL']}/profile/{lead['id']}")
        except urllib.error.HTTPError as exc:
            if exc.code != 429:
                raise
            last = exc
    assert last is not None
    raise last


def clearbit(lead: dict[str, str]) -> str:
    return fetch(f"{os.environ['CLEARBIT_URL']}/company/{lead['id']}")


def main() -> int:
    leads = load_leads()
    enrich = ic.FallbackChain([("linkedin", linkedin), ("clearbit", clearbit)])
    chain = ChatOpenAI(model=MODEL, max_tokens=MAX_TOKENS, max_retries=0) | StrOutputParser()
    qualified = 0
    for n, lead in enumerate(leads, start=1):
        profile = enrich(lead)
        messages = [(m["role"], m["content"]) for m in messages_for(lead, profile)]
        try:
            answer = chain.invoke(messages)
        except ic.BudgetExceededError as exc:
            print(f"lead #{n}: stopped before the call: {exc}", flush=True)
            ic.outcome(False)
            break
        qualified += answer.startswith("Score")
        ic.outcome(True)
        ic.progress(n, len(leads), unit="leads")
        time.sleep(1 / RATE)
    print(f"qualified {qualified} leads; enrichment {enrich.summary()}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
