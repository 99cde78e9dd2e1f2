"""The supervised demo: ``iron-cage start examples/lead_gen/agent.py --budget 50`` against an
embedded Control Panel (SQLite), FakeProvider and local mock LinkedIn/Clearbit services.

The agent is plain LangChain code over the committed 100-lead CSV. Its triggers are
deterministic and configurable (``--triggers linkedin=34,pii=67,budget=85``): LinkedIn
answers 429 from lead #34 (the agent's breaker opens, Clearbit serves instead), the model's
reply at lead #67 leaks an e-mail and a phone number (redacted before the agent sees it),
and the replies are scripted so that 90% of the budget is crossed at lead #85. The
supervisor prints those moments; the budget then stops the agent before the call that could
overspend. In a terminal (``--serve``) the Control Panel stays up for the dashboard.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import iron_cage as ic
from iron_cage._exceptions import ConfigError

if TYPE_CHECKING:
    from iron_cage.control_panel.embedded import EmbeddedControlPanel

DEFAULT_TRIGGERS = {"linkedin": 34, "pii": 67, "budget": 85}
DEFAULT_AGENT = Path("examples/lead_gen/agent.py")


def parse_triggers(text: str | None) -> dict[str, int]:
    triggers = dict(DEFAULT_TRIGGERS)
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, _, value = part.partition("=")
        key = key.strip()
        if key not in triggers or not value.strip().isdigit() or not 1 <= int(value) <= 100:
            raise ConfigError(
                f"--triggers {part!r}: use linkedin=N,pii=N,budget=N with N a lead number from 1 to 100"
            )
        triggers[key] = int(value)
    return triggers


def find_agent(path: str | None) -> Path:
    candidates = [Path(path)] if path else [DEFAULT_AGENT, Path(__file__).parents[3] / DEFAULT_AGENT]
    for p in candidates:
        if p.is_file():
            return p
    raise ConfigError(
        f"the demo agent {candidates[0]} is not here: run from the iron-cage checkout, or pass --agent PATH"
    )


def _prompts(agent: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("lead_gen_prompts", agent.with_name("prompts.py"))
    if spec is None or spec.loader is None:
        raise ConfigError(f"{agent.with_name('prompts.py')} is missing")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _reply_with_tokens(model: str, base: str, tokens: int) -> str:
    """``base`` padded to exactly ``tokens`` tokens (or ``base`` if it is longer)."""
    have = ic.count_tokens(model, base)
    text = base + " ok" * max(0, tokens - have)
    for _ in range(20):
        diff = tokens - ic.count_tokens(model, text)
        if diff == 0:
            break
        text = text + " ok" * diff if diff > 0 else text[: len(text) + 3 * diff]
    return text


def scripted_replies(prompts: ModuleType, triggers: dict[str, int], budget: float) -> list[str]:
    """Replies whose cost puts 90% of ``budget`` at lead ``triggers['budget']``."""
    model = prompts.MODEL
    price = ic.active_price_table().price(model)["standard"]
    per_lead = 0.9 * budget / (triggers["budget"] - 0.5)
    most = prompts.MAX_TOKENS * price["output"] / 1e6
    if per_lead > most:
        raise ConfigError(
            f"--triggers budget={triggers['budget']}: 90% of ${budget:g} by then needs "
            f"${per_lead:.2f} per lead, more than a reply of {prompts.MAX_TOKENS} tokens costs "
            f"(${most:.2f}): use a later lead or a smaller --budget"
        )
    replies = []
    for lead in prompts.load_leads():
        n = int(lead["id"])
        profile = (
            prompts.linkedin_profile(lead) if n < triggers["linkedin"] else prompts.clearbit_profile(lead)
        )
        input_usd = ic.count_tokens(model, prompts.messages_for(lead, profile)) * price["input"] / 1e6
        out_tokens = max(20, math.floor((per_lead - input_usd) / (price["output"] / 1e6)))
        first = lead["name"].split()[0].lower()
        base = (
            f"Score {6 + n % 4}/10: {lead['name']} ({lead['title']}) runs agent tooling at {lead['company']}."
        )
        if n == triggers["pii"]:
            base += f" Reach {first} directly at {first}.private@gmail.com or (415) 555-2671."
        replies.append(_reply_with_tokens(model, base, out_tokens))
    return replies


@contextlib.contextmanager
def mock_services(prompts: ModuleType, linkedin_429_from: int) -> Iterator[tuple[str, str]]:
    """LinkedIn (429 from lead ``linkedin_429_from``) and Clearbit on loopback."""
    leads = {lead["id"]: lead for lead in prompts.load_leads()}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            kind, _, lead_id = self.path.strip("/").partition("/")
            lead = leads.get(lead_id)
            if lead is None:
                self.send_error(404)
                return
            if kind == "profile" and int(lead_id) >= linkedin_429_from:
                self.send_response(429)
                self.send_header("Retry-After", "0")
                self.end_headers()
                return
            fn: Callable[[dict[str, str]], str] = (
                prompts.linkedin_profile if kind == "profile" else prompts.clearbit_profile
            )
            body = json.dumps({"profile": fn(lead)}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    servers = [ThreadingHTTPServer(("127.0.0.1", 0), Handler) for _ in range(2)]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    try:
        yield tuple(f"http://127.0.0.1:{s.server_address[1]}" for s in servers)  # type: ignore[misc]
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()


def run(
    *,
    agent: str | None = None,
    triggers: str | None = None,
    rate: float = 5.0,
    budget: float = 50.0,
    serve: bool = False,
    echo: Callable[[str], None] = print,
    ready: Callable[[EmbeddedControlPanel], None] | None = None,
    finished: Callable[[EmbeddedControlPanel], None] | None = None,
) -> int:
    """Runs the supervised demo; returns the supervisor's exit code. ``ready`` is called with
    the Control Panel once the agent exists, before the supervisor starts (the dashboard's
    tests open the browser there), ``finished`` once the agent has stopped, while the Control
    Panel still serves (``make screenshots`` takes its pictures there)."""
    import tempfile

    from iron_cage.client import ControlPanelClient
    from iron_cage.control_panel import Settings
    from iron_cage.control_panel.embedded import EmbeddedControlPanel
    from iron_cage.testing import FakeProvider

    agent_path = find_agent(agent)
    trig = parse_triggers(triggers)
    prompts = _prompts(agent_path)
    replies = scripted_replies(prompts, trig, budget)
    with tempfile.TemporaryDirectory(prefix="iron-cage-demo-") as tmp:
        settings = Settings(
            database_url=f"sqlite:///{Path(tmp) / 'control-panel.db'}",
            master_key=ic.generate_master_key(),
            admin_email="admin@localhost",
            admin_password=None,
            sweep_interval_s=1.0,
        )
        with (
            EmbeddedControlPanel(settings) as cp,
            ControlPanelClient(cp.url, email="admin@localhost", password=cp.admin_password or "") as client,
            FakeProvider() as provider,
            mock_services(prompts, trig["linkedin"]) as (linkedin_url, clearbit_url),
        ):
            for n, reply in enumerate(replies, start=1):
                provider.script_reply(reply, at_request=n)
            a = client.create_agent("lead-gen-agent", project="demo", budget_usd=f"{budget:.2f}")
            token = client.create_token(a.id, "demo supervisor", environment="development").token
            client.create_secret(
                "OPENAI_API_KEY",
                "sk-demo-" + os.urandom(12).hex(),
                environment="development",
                agent_ids=[a.id],
            )
            cmd = [
                sys.executable, "-m", "iron_cage", "start", str(agent_path), "--budget", f"{budget:g}",
                "--control-panel", cp.url, "--name", "lead-gen-agent",
            ]  # fmt: skip
            echo(
                f"iron-cage demo: {len(replies)} leads, triggers {trig}, Control Panel {cp.url} (SQLite), "
                f"FakeProvider {provider.base_url}"
            )
            echo(f"$ iron-cage start {agent_path} --budget {budget:g} --control-panel {cp.url}")
            env = {
                **os.environ,
                "IRON_CAGE_IC_TOKEN": token,
                "OPENAI_BASE_URL": provider.base_url,
                "LINKEDIN_URL": linkedin_url,
                "CLEARBIT_URL": clearbit_url,
                "LEAD_GEN_RATE": str(rate),
            }
            env.pop("OPENAI_API_KEY", None)  # the agent's key comes from the Control Panel
            if ready is not None:
                ready(cp)
            code = subprocess.run(cmd, env=env, check=False).returncode
            time.sleep(1.0)  # the last reports and alerts settle
            usage = client.usage_summary()
            echo(
                f"control panel: {usage.requests} calls, ${usage.cost_usd:.2f} spent of ${budget:.2f}, "
                f"{usage.pii_findings} PII findings"
            )
            for alert in reversed(client.list_alerts()):
                echo(f"control panel alert: {alert.message} -> {alert.recommended_action}")
            if finished is not None:
                finished(cp)
            if serve:
                echo(
                    f"Dashboard: {cp.url}/ (log in as admin@localhost / {cp.admin_password}); "
                    f"API docs: {cp.url}/api/v1/docs; Ctrl-C to stop"
                )
                with contextlib.suppress(KeyboardInterrupt):
                    while True:
                        time.sleep(3600)
    return code
