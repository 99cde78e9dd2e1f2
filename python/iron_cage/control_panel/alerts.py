"""Alerts to the configured webhooks and email addresses, each once (across replicas), with a
recommended action: budget thresholds, and PII reported by an agent's runtime (once per agent,
entity and window, ``Settings.pii_alert_window_s``)."""

from __future__ import annotations

import json
import logging
import math
import smtplib
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from email.message import EmailMessage
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from iron_cage.control_panel.budgets import budget_of, forget
from iron_cage.control_panel.db import updated
from iron_cage.control_panel.events import after_commit, emit
from iron_cage.control_panel.models import Agent, Alert, AlertChannel, Budget, PiiAlertMark
from iron_cage.control_panel.money import usd
from iron_cage.control_panel.state import ControlPanel
from iron_cage.control_panel.wire import UsageIn

log = logging.getLogger("iron_cage.control_panel")
UTC = timezone.utc
SEVERITY = ("low", "medium", "high", "critical")


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
    b = budget_of(s, agent.id)
    if b.limit_micros <= 0:
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
    forget(s, agent.id)  # its alerted_pct moved
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


def check_pii(cp: ControlPanel, s: Session, agent: Agent, reports: Sequence[UsageIn]) -> list[dict[str, Any]]:
    """Fires a PII alert for each entity in ``reports``' findings that has not fired for this
    agent in the current window; the alerts' payloads."""
    found: dict[str, list[str]] = {}  # entity -> severities
    calls: dict[str, int] = {}
    for r in reports:
        seen = set()
        for f in r.pii or ():
            found.setdefault(f.entity, []).append(f.severity)
            seen.add(f.entity)
        for entity in seen:
            calls[entity] = calls.get(entity, 0) + 1
    if not found:
        return []
    window = max(1, cp.settings.pii_alert_window_s)
    now = datetime.now(UTC)
    start = datetime.fromtimestamp(int(now.timestamp()) // window * window, UTC)
    payloads = []
    for entity in sorted(found):
        # The primary key makes "once per window" hold across concurrent reports and replicas.
        won = s.execute(
            cp.db.insert(PiiAlertMark)
            .values(agent_id=agent.id, entity=entity, window_start=start)
            .on_conflict_do_nothing()
            .returning(PiiAlertMark.entity)
        ).first()
        if won is None:
            continue
        worst = max(found[entity], key=SEVERITY.index)
        n, k = len(found[entity]), calls[entity]
        message = (
            f"agent {agent.name!r} (#{agent.id}) reported {n} {entity} finding(s), up to {worst} "
            f"severity, in {k} call(s)"
        )
        action = (
            f"Review agent #{agent.id}'s recent calls (GET /api/v1/pii/findings?agent_id={agent.id}) and "
            "its safety mode (redact or block); no further alert for this entity before "
            f"{datetime.fromtimestamp(start.timestamp() + window, UTC).isoformat()}"
        )
        alert = Alert(agent_id=agent.id, kind="pii_detected", message=message, recommended_action=action)
        s.add(alert)
        s.flush()
        payload = {
            "id": alert.id,
            "kind": alert.kind,
            "agent_id": agent.id,
            "agent": agent.name,
            "entity": entity,
            "severity": worst,
            "findings": n,
            "calls": k,
            "message": message,
            "recommended_action": action,
        }
        after_commit(s, lambda p=payload: deliver_in_background(cp, p))  # type: ignore[misc]
        payloads.append(payload)
    return payloads


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


def _line(text: object) -> str:
    """One line of printable text (a header value cannot hold a line break)."""
    return "".join(c if c.isprintable() else " " for c in str(text))


def send_email(cp: ControlPanel, to: str, payload: dict[str, Any]) -> None:
    st = cp.settings
    if not st.smtp_host:
        raise RuntimeError("no SMTP server: set IRON_CAGE_SMTP_HOST")
    msg = EmailMessage()
    msg["From"] = st.smtp_from
    msg["To"] = to
    if payload["kind"] == "pii_detected":
        msg["Subject"] = _line(f"[iron-cage] {payload['agent']} reported {payload['entity']} PII")
        msg.set_content(f"{payload['message']}.\n\nRecommended action: {payload['recommended_action']}.\n")
    else:
        subject = f"[iron-cage] {payload['agent']} reached {payload['threshold_pct']}% of its budget"
        msg["Subject"] = _line(subject)
        msg.set_content(
            f"{payload['message']}.\n\nRecommended action: {payload['recommended_action']} "
            f"(POST /api/v1/budget/requests, then approve it).\n"
        )
    with smtplib.SMTP(st.smtp_host, st.smtp_port, timeout=10) as smtp:
        smtp.send_message(msg)
