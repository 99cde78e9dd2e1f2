"""DSPy: a ChainOfThought program governed in router mode (DSPy's default engine has its own
HTTP client, so its base URL points at an LlmRouter); run it in the DSPy environment
(`make test-dspy`; DSPy's LiteLLM pins openai<3)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import dspy
from _env import example_env

import iron_cage as ic


def reply(reasoning: str, decision_maker: str) -> str:
    """A reply in the format of DSPy's ChatAdapter (FakeProvider's scripted answers)."""
    fields = {"reasoning": reasoning, "decision_maker": decision_maker}
    return "".join(f"[[ ## {k} ## ]]\n{v}\n\n" for k, v in fields.items()) + "[[ ## completed ## ]]"


with example_env() as env:
    if env.fake:
        env.fake.script_reply(reply("Initech's CTO owns the budget.", "Dana, at dana@initech-private.com"))
        env.fake.script_reply(reply("Globex is hiring.", "Hank, at hank@globex-private.com"))
    upstream = env.openai_base_url or "https://api.openai.com/v1"
    with ic.LlmRouter(budget=0.05, upstream=upstream, provider_key=env.openai_key) as router:
        lm = dspy.LM("openai/gpt-4o-mini", api_base=router.base_url, api_key=router.api_key, cache=False)
        contact = dspy.ChainOfThought("company -> decision_maker")
        with dspy.context(lm=lm):
            for company in ("Initech", "Globex"):
                print(f"{company}: {contact(company=company).decision_maker}")
        m = router.metrics()
        found, spent = m["pii_findings"], m["spent_usd"]
        print(f"{m['calls']} calls through the router, PII findings {found}, spent ${spent:.6f}")
