"""What the lead-generation agent sends and what its lookup services answer (shared by the
agent and the demo's mock services, so the demo can script the model's replies)."""

from __future__ import annotations

import csv
from pathlib import Path

MODEL = "gpt-4-32k"
MAX_TOKENS = 4800
SYSTEM = "You qualify B2B sales leads for an agent-governance product. Answer with a score from 1-10 and why."


def load_leads(path: str | Path | None = None) -> list[dict[str, str]]:
    with Path(path or Path(__file__).with_name("leads.csv")).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def linkedin_profile(lead: dict[str, str]) -> str:
    return f"{lead['name']}, {lead['title']} at {lead['company']} ({lead['city']}), 500+ connections"


def clearbit_profile(lead: dict[str, str]) -> str:
    return f"{lead['company']} ({lead['domain']}): {lead['industry']}, {lead['employees']} employees"


def messages_for(lead: dict[str, str], profile: str) -> list[dict[str, str]]:
    user = (
        f"Lead #{lead['id']}: {lead['name']}, {lead['title']} at {lead['company']}. "
        f"Enrichment: {profile}. Qualify this lead."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
