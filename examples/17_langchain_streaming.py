"""LangChain streaming through iron-cage: tokens stream, PII never does."""

from _env import example_env
from langchain_openai import ChatOpenAI

from iron_cage.integrations.langchain import IronCageChain

with example_env() as env:
    if env.fake:
        env.fake.script_reply("Call the founder at (212) 555-0199 before Friday.")
    llm = ChatOpenAI(model="gpt-4o-mini", base_url=env.openai_base_url, api_key=env.openai_key, max_retries=0)
    governed = IronCageChain(llm, budget=0.10)
    for chunk in governed.stream("Who should I call?"):
        print(chunk.content, end="", flush=True)
    print()
