"""Refused and failed calls that runtimes report (docs/protocol.md, "Refused and failed calls").

A runtime reports every call it refused (no budget, a limit, a model the policy refuses, PII
blocked in the request, an open breaker, a stopped agent) or that failed upstream, as a usage
report with one of the statuses in :data:`wire.REFUSED_STATUSES` / :data:`wire.FAILED_STATUSES`,
cost 0 (a failure: what the provider billed, if anything), a short reason and a ``count`` of the
identical calls it stands for. They are stored in ``usage_records`` next to charged calls, so
``/traces`` lists them, but:

- they are never usage: every total, breakdown and time series counts only :func:`counted`
  rows, and a refusal costs nothing, so ``spent`` does not move;
- a refused call for a model the agent may not use does not refuse its batch (the runtime
  did its job); it is recorded as an unauthorized action instead (:func:`after_report`);
- ``breaker_open`` reports carry what the breaker saved, which the ``BREAKER_EVENT`` says,
  and the batch's ``events`` (breaker transitions) become ``BREAKER_EVENT`` s too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, or_
from sqlalchemy.orm import Session

from iron_cage.control_panel.events import emit
from iron_cage.control_panel.models import Agent, UnauthorizedAction, UsageRecord
from iron_cage.control_panel.money import micros, usd
from iron_cage.control_panel.principal import Principal
from iron_cage.control_panel.wire import FAILED_STATUSES, REFUSED_STATUSES, RuntimeEventIn, UsageIn

log = logging.getLogger("iron_cage.control_panel")

UNCHARGED = REFUSED_STATUSES | FAILED_STATUSES

# The columns a report adds to its usage_records row, with their PostgreSQL types (for
# leasing's JSON-recordset INSERT).
REFUSAL_COLUMNS = [("reason", "varchar"), ("count", "bigint"), ("saved_micros", "bigint")]


def refusal_columns(r: UsageIn) -> dict[str, Any]:
    """A report's refusal columns (``''``, 1 and 0 for a charged call)."""
    return {"reason": r.reason, "count": r.count, "saved_micros": micros(r.saved_usd or Decimal(0))}


def _unauthorized_kind(r: UsageIn) -> str | None:
    """The unauthorized action a runtime's refusal stands for: a model, or a tool, the agent may
    not use (a tool refusal's reason starts with its code)."""
    if r.status == "refused_policy":
        return "model_not_allowed"
    if r.status == "refused_tool" and r.reason.startswith("tool_not_allowed"):
        return "tool_not_allowed"
    return None


def exempt_from_model_policy(r: UsageIn) -> bool:
    """A refused call was never sent: naming a disallowed model is the runtime refusing it."""
    return r.status in REFUSED_STATUSES


def counted() -> ColumnElement[bool]:
    """The usage_records rows that are usage: charged calls, and failures the provider billed."""
    return or_(UsageRecord.status.not_in(sorted(UNCHARGED)), UsageRecord.cost_micros > 0)


def status_filter(status: str) -> ColumnElement[bool]:
    """``/traces?status=``: one status, or ``refused`` / ``failed`` for all of them."""
    group = {"refused": REFUSED_STATUSES, "failed": FAILED_STATUSES}.get(status)
    return UsageRecord.status.in_(sorted(group)) if group else UsageRecord.status == status


def after_report(
    s: Session,
    who: Principal,
    agent: Agent,
    new: Sequence[UsageIn],
    events: Sequence[RuntimeEventIn],
) -> None:
    """What newly recorded refusals and the batch's events mean, in the report's transaction:
    unauthorized actions for refused disallowed models, ``BREAKER_EVENT`` s with what was saved,
    one ``AGENT_EVENT`` ``calls_refused`` summing the rest."""
    a, o = agent.id, agent.owner_id
    uncharged = [r for r in new if r.status in UNCHARGED]
    for r in uncharged:
        kind = _unauthorized_kind(r)
        if kind is not None:
            what = "use(s) of tool" if kind == "tool_not_allowed" else "call(s) to model"
            name = r.model.removeprefix("tool:") if kind == "tool_not_allowed" else r.model
            detail = f"the runtime refused {r.count} {what} {name!r}: {r.reason}"
            s.add(
                UnauthorizedAction(
                    kind=kind,
                    agent_id=a,
                    user_id=who.user_id,
                    role=who.role,
                    detail=detail[:2000],
                )
            )
            emit(s, "AGENT_EVENT", a, o, event="unauthorized_action", action=kind, detail=detail)
            log.warning("unauthorized action refused by agent %d's runtime: %s", a, detail)
    saved: dict[str, tuple[int, int, str]] = {}
    for r in uncharged:
        if r.status == "breaker_open":
            calls, amount, _ = saved.get(r.model, (0, 0, ""))
            saved[r.model] = (calls + r.count, amount + micros(r.saved_usd or Decimal(0)), r.provider)
    opened = set()
    for e in events:
        model = e.model or e.breaker
        extra: dict[str, Any] = {"failures": e.failures} if e.to_state == "open" and e.failures else {}
        if e.to_state == "open" and model in saved:
            calls, amount, _ = saved[model]
            extra |= {"calls_saved": calls, "usd_saved": usd(amount)}
            opened.add(model)
        emit(
            s,
            "BREAKER_EVENT",
            a,
            o,
            model=model,
            provider=e.provider or None,
            breaker=e.breaker,
            state=e.to_state,
            from_state=e.from_state,
            **extra,
        )
    for model, (calls, amount, provider) in sorted(saved.items()):
        if model not in opened:  # still open: what it saved since the last report
            emit(
                s,
                "BREAKER_EVENT",
                a,
                o,
                model=model,
                provider=provider or None,
                state="open",
                calls_saved=calls,
                usd_saved=usd(amount),
            )
    if uncharged:
        by_status: dict[str, int] = {}
        for r in uncharged:
            by_status[r.status] = by_status.get(r.status, 0) + r.count
        emit(
            s, "AGENT_EVENT", a, o, event="calls_refused", calls=sum(by_status.values()), by_status=by_status
        )
