"""LangChain tool calling: the tool schemas are priced as input; a tool loop runs under one budget."""

from _env import example_env
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from iron_cage.integrations.langchain import IronCageChain


@tool
def crm_lookup(company: str) -> str:
    """Return what the CRM knows about a company."""
    return f"{company}: 3 open deals, last contact 2026-10-02"


with example_env() as env:
    llm = ChatOpenAI(model="gpt-4o-mini", base_url=env.openai_base_url, api_key=env.openai_key, max_retries=0)
    agent = IronCageChain(llm.bind_tools([crm_lookup]), budget=0.10)
    messages = [HumanMessage("What do we know about Initech?")]
    for _ in range(3):  # a minimal agent loop
        reply = agent.invoke(messages)
        messages.append(reply)
        if not reply.tool_calls:
            break
        for call in reply.tool_calls:
            messages.append(ToolMessage(crm_lookup.invoke(call["args"]), tool_call_id=call["id"]))
    print(messages[-1].content)
    print(f"input tokens priced (tool schema included): {agent.runtime.metrics()['input_tokens']}")
