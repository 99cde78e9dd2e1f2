"""Budget alerts: each threshold fires once (across replicas), with a recommended action,
to the configured webhooks and email addresses."""

from __future__ import annotations

import json
import logging
import math
import smtplib
import threading
from email.message import EmailMessage
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from iron_cage.control_panel.db import updated
from iron_cage.control_panel.events import after_commit, emit
from iron_cage.control_panel.models import Agent, Alert, AlertChannel, Budget
from iron_cage.control_panel.money import usd
from iron_cage.control_panel.state import ControlPanel

log = logging.getLogger("iron_cage.control_panel")


def recommended_increase(limit_micros: int) -> float:
    """A quarter of the allocation, rounded up to a round amount (1, 2, 2.5 or 5 times a power of ten)."""
    quarter = max(usd(limit_micros) / 4, 0.01)
    scale = 10.0 ** math.floor(math.log10(quarter))
    step = next(m for m in (1, 2, 2.5, 5, 10) if m * scale >= quarter * (1 - 1e-9))
    return round(step * scale, 2)


def money(x: float) -> str:
    """$25, $2.50, $0.02: whole dollars bare, otherwise cents (sub-cent amounts to the micro-dollar)."""
    if x >= 1 and x == int(x):
        return f"${int(x)}"
    return f"${x:.2f}" if x >= 0.01 else f"${x:.6f}"


def check_budget(cp: ControlPanel, s: Session, agent: Agent) -> None:
    """Fires the highest threshold the agent's spend has newly crossed (at most once each)."""
    b = s.scalar(select(Budget).where(Budget.agent_id == agent.id))
    if b is None or b.limit_micros <= 0:
        return
    pct = b.spent_micros * 100 // b.limit_micros
    crossed = [t for t in cp.settings.alert_thresholds if pct >= t > b.alerted_pct]
    if not crossed:
        return
    top = max(crossed)
    # The conditional UPDATE makes "once" hold across concurrent reports and replicas.
    won = updated(
        s, update(Budget).where(Budget.agent_id == agent.id, Budget.alerted_pct < top).values(alerted_pct=top)
    )
    if won != 1:
        return
    increase = recommended_increase(b.limit_micros)
    spent, limit = usd(b.spent_micros), usd(b.limit_micros)

    def fmt(x: float) -> str:  # small budgets need more than cents to be readable
        return f"${x:.6f}" if limit < 10 else money(x)

    message = f"agent {agent.name!r} (#{agent.id}) has spent {fmt(spent)} of its {fmt(limit)} budget ({top}%)"
    action = f"Approve {money(increase)} increase"
    alert = Alert(
        agent_id=agent.id,
        kind="budget_threshold",
        threshold_pct=top,
        message=message,
        recommended_action=action,
    )
    s.add(alert)
    s.flush()
    payload = {
        "id": alert.id,
        "kind": alert.kind,
        "agent_id": agent.id,
        "agent": agent.name,
        "threshold_pct": top,
        "spent_usd": usd(b.spent_micros),
        "limit_usd": usd(b.limit_micros),
        "message": message,
        "recommended_action": action,
        "recommended_increase_usd": increase,
    }
    emit(s, "COST_ALERT", agent.id, agent.owner_id, alert=payload)
    after_commit(s, lambda: deliver_in_background(cp, payload))


def deliver_in_background(cp: ControlPanel, payload: dict[str, Any]) -> threading.Thread:
    t = threading.Thread(target=deliver, args=(cp, payload), name="iron-cage-alert", daemon=True)
    t.start()
    return t


def deliver(cp: ControlPanel, payload: dict[str, Any]) -> list[str]:
    """Sends ``payload`` to every enabled channel; records the outcome on the alert row."""
    with cp.db.session() as s:
        channels = [(c.kind, c.target) for c in s.scalars(select(AlertChannel).where(AlertChannel.enabled))]
    results = []
    for kind, target in channels:
        try:
            if kind == "webhook":
                r = httpx.post(target, json=payload, timeout=5)
                r.raise_for_status()
            else:
                send_email(cp, target, payload)
            results.append(f"{kind}:{target}:ok")
        except Exception as exc:  # one bad channel must not stop the others
            log.warning("alert %s to %s %s failed: %s", payload["id"], kind, target, type(exc).__name__)
            results.append(f"{kind}:{target}:failed:{type(exc).__name__}")
    with cp.db.session() as s:
        s.execute(update(Alert).where(Alert.id == payload["id"]).values(deliveries=json.dumps(results)))
    return results


def send_email(cp: ControlPanel, to: str, payload: dict[str, Any]) -> None:
    st = cp.settings
    if not st.smtp_host:
        raise RuntimeError("no SMTP server: set IRON_CAGE_SMTP_HOST")
    msg = EmailMessage()
    msg["From"] = st.smtp_from
    msg["To"] = to
    msg["Subject"] = f"[iron-cage] {payload['agent']} reached {payload['threshold_pct']}% of its budget"
    msg.set_content(
        f"{payload['message']}.\n\nRecommended action: {payload['recommended_action']} "
        f"(POST /api/v1/budget/requests, then approve it).\n"
    )
    with smtplib.SMTP(st.smtp_host, st.smtp_port, timeout=10) as smtp:
        smtp.send_message(msg)
