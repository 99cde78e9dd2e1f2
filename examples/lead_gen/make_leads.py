"""Regenerates leads.csv: 100 synthetic B2B leads from Faker with a fixed seed.

python examples/lead_gen/make_leads.py
"""

from __future__ import annotations

import csv
from pathlib import Path

from faker import Faker

FIELDS = ["id", "name", "title", "company", "domain", "industry", "employees", "city"]
TITLES = ["VP Engineering", "CTO", "Head of Data", "Staff Engineer", "Director of AI", "Platform Lead"]
INDUSTRIES = ["fintech", "logistics", "healthcare", "retail", "energy", "media", "insurance"]


def leads(n: int = 100, seed: int = 7) -> list[dict[str, object]]:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rows: list[dict[str, object]] = []
    for i in range(1, n + 1):
        company = fake.company()
        rows.append(
            {
                "id": i,
                "name": fake.name(),
                "title": fake.random_element(TITLES),
                "company": company,
                "domain": fake.domain_name(),
                "industry": fake.random_element(INDUSTRIES),
                "employees": fake.random_int(20, 5000),
                "city": fake.city(),
            }
        )
    return rows


if __name__ == "__main__":
    out = Path(__file__).with_name("leads.csv")
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(leads())
    print(f"wrote {out}")
