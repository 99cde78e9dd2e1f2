"""LangGraph: a chat graph with a checkpointer (memory per thread), its tokens streamed
with stream_mode="messages"; PII is redacted in the stream before LangGraph sees it."""

from _env import example_env
from langchain_core.messages import AIMessageChunk, HumanMessage
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph

import iron_cage as ic

with example_env() as env:
    if env.fake:
        env.fake.script_reply("Their CTO is Dana; mail dana@initech-private.com.", at_request=2)
    llm = ChatOpenAI(model="gpt-4o-mini", base_url=env.openai_base_url, api_key=env.openai_key, max_retries=0)

    def chat(state: MessagesState) -> MessagesState:
        return {"messages": [llm.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("chat", chat)
    graph.add_edge(START, "chat")
    graph.add_edge("chat", END)
    app = graph.compile(checkpointer=InMemorySaver())
    thread = {"configurable": {"thread_id": "lead-initech"}}

    with ic.AgentRuntime(budget=0.05) as rt:
        for question in ("Who is Initech?", "Who should I contact there?"):
            print(f"> {question}\n< ", end="")
            stream = app.stream({"messages": [HumanMessage(question)]}, thread, stream_mode="messages")
            for chunk, _meta in stream:
                if isinstance(chunk, AIMessageChunk):
                    print(chunk.content, end="", flush=True)
            print()
        history = app.get_state(thread).values["messages"]
        print(f"{len(history)} messages remembered in the thread; spent ${rt.spent_usd:.6f}")
