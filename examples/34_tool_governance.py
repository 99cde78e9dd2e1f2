"""Tool governance: an allow-list, a call limit and a breaker per tool; tool calls as events."""

from _env import example_env
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

import iron_cage as ic
from iron_cage.integrations.langchain import IronCageChain


@tool
def crm_lookup(company: str) -> str:
    """Return what the CRM knows about a company."""
    return f"{company}: 3 open deals, last contact 2026-10-02"


@ic.governed_tool
def send_email(to: str, body: str) -> str:
    return f"queued for {to}"


with example_env() as env:
    rt = ic.AgentRuntime(
        budget=0.10,
        allowed_tools=["crm_lookup"],  # send_email is not the agent's to use
        tool_limits={"crm_lookup": 3},
        tool_breakers={"failure_threshold": 2, "cooldown_s": 30},
    )
    rt.on_event(
        lambda e: print(f"  event {e['type']}: {e['tool']} {e.get('outcome', '')}") if "tool" in e else None
    )
    llm = ChatOpenAI(model="gpt-4o-mini", base_url=env.openai_base_url, api_key=env.openai_key, max_retries=0)
    agent = IronCageChain(llm.bind_tools([crm_lookup]), runtime=rt)
    messages = [HumanMessage("What do we know about Initech?")]
    print(agent.invoke(messages).content or "(a tool call)")
    with rt:
        print(crm_lookup.invoke({"company": "Initech"}))
        try:
            send_email("ceo@initech.example", "hello")
        except ic.PolicyError as exc:
            print(f"refused: {exc.code}")
    print(f"tools: {rt.metrics()['tools']}")
