"""LangGraph: a supervisor that routes between workers until it says FINISH; the budget,
not the recursion limit, ends a supervisor that never does (BudgetExceededError, no overspend)."""

from collections.abc import Callable
from typing import Any, TypedDict

from _env import example_env
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, StateGraph

import iron_cage as ic


class Work(TypedDict):
    notes: list[str]
    next: str


def build(llm: ChatOpenAI) -> Any:
    def supervisor(state: Work) -> Work:
        notes = " | ".join(state["notes"][-3:])
        decision = str(llm.invoke(f"Reply researcher, writer or FINISH. Notes: {notes}").content).split()
        route = (
            decision[0] if decision and decision[0] in ("researcher", "writer", "FINISH") else "researcher"
        )
        return {"notes": state["notes"], "next": route}

    def worker(name: str) -> Callable[[Work], Work]:
        def run(state: Work) -> Work:
            note = str(llm.invoke(f"As the {name}, add one line about Initech.").content)
            return {"notes": [*state["notes"], f"{name}: {note[:40]}"], "next": ""}

        return run

    graph = StateGraph(Work)
    graph.add_node("supervisor", supervisor)
    graph.add_node("researcher", worker("researcher"))
    graph.add_node("writer", worker("writer"))
    graph.add_edge(START, "supervisor")
    graph.add_conditional_edges(
        "supervisor", lambda s: END if s["next"] == "FINISH" else s["next"], ["researcher", "writer", END]
    )
    graph.add_edge("researcher", "supervisor")
    graph.add_edge("writer", "supervisor")
    return graph.compile()


with example_env() as env:
    if env.fake:
        for n, text in ((1, "researcher"), (3, "writer"), (5, "FINISH")):
            env.fake.script_reply(text, at_request=n)
    llm = ChatOpenAI(model="gpt-4o-mini", base_url=env.openai_base_url, api_key=env.openai_key, max_retries=0)
    app = build(llm)
    with ic.AgentRuntime(budget=0.05) as rt:
        out = app.invoke({"notes": [], "next": ""})
        print(f"finished by the supervisor after {len(out['notes'])} worker turns, spent ${rt.spent_usd:.6f}")

    # A supervisor that never says FINISH (the fake's default replies never do).
    tight = ChatOpenAI(
        model="gpt-4o", base_url=env.openai_base_url, api_key=env.openai_key, max_retries=0, max_tokens=40
    )
    with ic.AgentRuntime(budget=0.003) as rt:
        try:
            build(tight).invoke({"notes": [], "next": ""}, {"recursion_limit": 1000})
        except ic.BudgetExceededError:
            calls = rt.metrics()["calls"]
            print(f"stopped by the budget after {calls} calls: spent ${rt.spent_usd:.6f} of $0.003")
