"""LangChain: a prompt | model | parser chain governed by IronCageChain."""

from _env import example_env
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_openai import ChatOpenAI

from iron_cage.integrations.langchain import IronCageChain

with example_env() as env:
    llm = ChatOpenAI(model="gpt-4o-mini", base_url=env.openai_base_url, api_key=env.openai_key, max_retries=0)
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You write taglines."), ("user", "Tagline for {product}")]
    )
    chain = IronCageChain(prompt | llm | StrOutputParser(), budget=0.10)
    for product in ("a budget guard for AI agents", "a PII scanner"):
        print(chain.invoke({"product": product}))
    print(f"spent ${chain.runtime.spent_usd:.6f}; calls seen by LangChain: {chain.handler.llm_calls}")
