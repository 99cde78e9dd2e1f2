"""LlamaIndex: a RAG query engine (OpenAI embeddings + LLM) and a streamed ReAct agent, all
governed by a plain AgentRuntime scope (run it in the LlamaIndex environment, `make
test-llamaindex`; llama-index-llms-openai pins openai<3)."""

import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _env import example_env
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.agent.workflow import AgentStream, ReActAgent
from llama_index.embeddings.openai import OpenAIEmbedding
from llama_index.llms.openai import OpenAI

import iron_cage as ic

DOCS = [
    "Initech sells staplers to 4,000 offices. Its CTO, Dana, owns the AI agent budget.",
    "Globex builds lasers and is hiring platform engineers.",
]

with example_env() as env:
    if env.fake:
        # 1: embed the documents, 2: embed the question, 3: answer, 4: the agent's answer.
        env.fake.script_reply("Dana, the CTO; reach her at dana@initech-private.com.", at_request=3)
        env.fake.script_reply(
            "Thought: I can answer.\nAnswer: Write to dana@initech-private.com today.", at_request=4
        )
    llm = OpenAI(model="gpt-4o-mini", api_base=env.openai_base_url, api_key=env.openai_key, max_retries=0)
    embed = OpenAIEmbedding(
        model="text-embedding-3-small", api_base=env.openai_base_url, api_key=env.openai_key, max_retries=0
    )
    with ic.AgentRuntime(budget=0.05) as rt:
        index = VectorStoreIndex.from_documents([Document(text=d) for d in DOCS], embed_model=embed)
        print(
            "query:", index.as_query_engine(llm=llm, similarity_top_k=1).query("Who owns the agent budget?")
        )

        async def agent_run() -> None:
            handler = ReActAgent(tools=[], llm=llm).run(user_msg="How do I reach Initech's CTO?")
            print("agent (streamed): ", end="")
            async for event in handler.stream_events():
                if isinstance(event, AgentStream):
                    print(event.delta, end="", flush=True)
            print(f"\nagent answer: {await handler}")

        asyncio.run(agent_run())
        m = rt.metrics()
        print(f"{m['calls']} calls by model: { {k: v['calls'] for k, v in m['by_model'].items()} }")
        print(f"PII findings {m['pii_findings']}, spent ${rt.spent_usd:.6f} of $0.05")
