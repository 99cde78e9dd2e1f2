"""A conversation with memory: the history grows, so does each call's (exactly counted) cost."""

from _env import example_env
from langchain_core.chat_history import InMemoryChatMessageHistory
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory
from langchain_openai import ChatOpenAI

import iron_cage as ic
from iron_cage.integrations.langchain import IronCageChain

with example_env() as env:
    llm = ChatOpenAI(model="gpt-4o-mini", base_url=env.openai_base_url, api_key=env.openai_key, max_retries=0)
    prompt = ChatPromptTemplate.from_messages([MessagesPlaceholder("history"), ("user", "{input}")])
    history = InMemoryChatMessageHistory()
    chat = RunnableWithMessageHistory(
        prompt | llm, lambda _session: history, input_messages_key="input", history_messages_key="history"
    )
    rt = ic.AgentRuntime(budget=0.10)
    governed = IronCageChain(chat, runtime=rt)
    last = 0.0
    for turn in ("Hi, I'm planning a product launch.", "What should I do first?", "And second?"):
        governed.invoke({"input": turn}, config={"configurable": {"session_id": "demo"}})
        print(f"turn cost ${rt.spent_usd - last:.6f} ({len(history.messages)} messages in memory)")
        last = rt.spent_usd
