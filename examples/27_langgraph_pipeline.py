"""LangGraph: a research -> qualify -> write graph; a plain AgentRuntime scope governs
every node's model calls (the graph and its model were built before the scope)."""

from typing import TypedDict

from _env import example_env
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, StateGraph

import iron_cage as ic


class Lead(TypedDict, total=False):
    company: str
    research: str
    score: str
    email: str


with example_env() as env:
    if env.fake:
        env.fake.script_reply("Hi Dana, write back to dana@initech-private.com for a demo.", at_request=3)
    llm = ChatOpenAI(model="gpt-4o-mini", base_url=env.openai_base_url, api_key=env.openai_key, max_retries=0)

    def research(state: Lead) -> Lead:
        return {"research": str(llm.invoke(f"Research {state['company']} in two lines.").content)}

    def qualify(state: Lead) -> Lead:
        return {"score": str(llm.invoke(f"Score 1-10 as a lead: {state['research']}").content)}

    def write(state: Lead) -> Lead:
        return {
            "email": str(llm.invoke(f"Write a short outreach e-mail. Notes: {state['research']}").content)
        }

    graph = StateGraph(Lead)
    for name, node in (("research", research), ("qualify", qualify), ("write", write)):
        graph.add_node(name, node)
    graph.add_edge(START, "research")
    graph.add_edge("research", "qualify")
    graph.add_edge("qualify", "write")
    graph.add_edge("write", END)
    app = graph.compile()

    with ic.AgentRuntime(budget=0.05) as rt:
        out = app.invoke({"company": "Initech"})
        m = rt.metrics()
    print("e-mail:", out["email"])
    print(f"{m['calls']} model calls, PII findings {m['pii_findings']}, spent ${rt.spent_usd:.6f} of $0.05")
