"""Custom PII policy: company emails allowed, an employee-id pattern added, warn-only mode."""

import openai
from _env import example_env

import iron_cage as ic

scanner = ic.PiiScanner(
    mode="redact", allow_domains=["acme.com"], custom_patterns={"EMPLOYEE_ID": r"\bEMP-\d{6}\b"}
)
with example_env() as env, ic.AgentRuntime(budget=0.50, pii=scanner) as rt:
    if env.fake:
        env.fake.script_reply("Ask sales@acme.com about EMP-004211, or mail bob@gmail.com.")
    client = openai.OpenAI(**env.openai)
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Who?"}]
    )
    print(reply.choices[0].message.content)
    client.close()
print("offline scan:", ic.PiiScanner(mode="warn").scan("card 4111 1111 1111 1111").findings[0].entity)
