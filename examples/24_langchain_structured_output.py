"""LangChain structured output: a pydantic schema filled by the model, PII redacted before parsing."""

from _env import example_env
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from iron_cage.integrations.langchain import IronCageChain


class Lead(BaseModel):
    company: str
    contact: str
    employees: int


with example_env() as env:
    if env.fake is not None:
        env.fake.script_reply('{"company": "Acme", "contact": "jane.roe@example.com", "employees": 40}')
    llm = ChatOpenAI(model="gpt-4o-mini", base_url=env.openai_base_url, api_key=env.openai_key, max_retries=0)
    extract = IronCageChain(llm.with_structured_output(Lead, method="json_schema"), budget=0.05)
    lead = extract.invoke("Extract the lead: Acme has 40 people; write to jane.roe@example.com.")
    print(lead)
    found = extract.runtime.metrics()["pii_findings"]
    print(f"spent ${extract.runtime.spent_usd:.6f}; PII findings: {found}")
