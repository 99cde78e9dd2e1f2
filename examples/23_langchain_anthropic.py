"""LangChain with Claude: ChatAnthropic in a chain, invoked and streamed under IronCageChain."""

from _env import example_env
from langchain_anthropic import ChatAnthropic
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from iron_cage.integrations.langchain import IronCageChain

with example_env() as env:
    if env.fake is not None:
        env.fake.script_reply("Sure - reach the founder at jane.roe@example.com.", at_request=2)
    llm = ChatAnthropic(  # type: ignore[call-arg]
        model="claude-haiku-4-5",
        base_url=env.anthropic_base_url,
        api_key=env.anthropic_key,  # type: ignore[arg-type]
        max_tokens=200,
        max_retries=0,
    )
    prompt = ChatPromptTemplate.from_messages([("user", "{question}")])
    chain = IronCageChain(prompt | llm | StrOutputParser(), budget=0.10)
    print("clients bound:", chain.instrumented)
    print(chain.invoke({"question": "One sentence on why agents need budgets."}))
    print("streamed:", "".join(chain.stream({"question": "Who should I contact at Acme?"})))
    m = chain.runtime.metrics()
    print(
        f"spent ${chain.runtime.spent_usd:.6f} on {m['calls']} Claude calls; PII found: {m['pii_findings']}"
    )
