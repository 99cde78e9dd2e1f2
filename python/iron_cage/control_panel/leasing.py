"""Budget leasing (docs/architecture.md §5, docs/protocol.md): grant, report, refresh, return, expire.

Invariant: for every budget, ``spent + leased <= limit`` after every grant. Grants are
one conditional UPDATE whose SET and RETURNING compute ``min(requested, available)`` on
the locked row, so concurrent handshakes on any number of replicas cannot over-grant.
Statements touch a lease row before its budget row, always, so PostgreSQL never
deadlocks between report, refresh, return and the sweeper.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import case, func, insert, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from iron_cage.control_panel.budgets import forget, remember
from iron_cage.control_panel.db import Database, SafeSum, tx_memo
from iron_cage.control_panel.errors import ApiError
from iron_cage.control_panel.events import EventHub, emit, run_after_commit
from iron_cage.control_panel.models import Agent, Budget, Lease, Limit, PiiFinding, UsageRecord, User
from iron_cage.control_panel.money import MAX_USD, micros, usd
from iron_cage.control_panel.refusals import REFUSAL_COLUMNS, refusal_columns
from iron_cage.control_panel.wire import UsageIn

LEASE_PREFIX = "lse_"
# The most spend one agent's budget records ($1e12): a thousand times the largest allocation
# (late reports on closed leases can pass the allocation), far inside 64-bit micro-dollars.
MAX_SPENT_MICROS = 1000 * micros(MAX_USD)

UTC = timezone.utc


def grant(s: Session, agent_id: int, requested: int, *, required: bool = True) -> tuple[int, int]:
    """Moves ``min(requested, available)`` into ``leased``; returns (granted, available after).

    With nothing available: 402, or ``(0, 0)`` when not ``required`` (a refresh still
    restarts its lease's clock). One statement: atomic on SQLite and PostgreSQL.
    """
    avail = Budget.limit_micros - Budget.spent_micros - Budget.leased_micros
    amount = case((avail < requested, avail), else_=requested)
    row = s.scalars(
        update(Budget)
        .where(Budget.agent_id == agent_id, avail > 0)
        .values(
            leased_micros=Budget.leased_micros + amount,
            last_grant_micros=amount,
            updated_at=datetime.now(UTC),
        )
        .returning(Budget)
        .execution_options(populate_existing=True, synchronize_session=False)
    ).first()
    if row is None and not required:
        return 0, 0
    if row is None:
        b = s.scalar(select(Budget).where(Budget.agent_id == agent_id))
        limit, spent, leased = (b.limit_micros, b.spent_micros, b.leased_micros) if b else (0, 0, 0)
        raise ApiError(
            402,
            "budget_exceeded",
            f"no budget left to lease: ${usd(spent):.6f} spent and ${usd(leased):.6f} leased of "
            f"${usd(limit):.6f}; ask an admin for more (POST /api/v1/budget/requests)",
            limit_usd=usd(limit),
            spent_usd=usd(spent),
            leased_usd=usd(leased),
        )
    remember(s, row)
    return row.last_grant_micros, row.limit_micros - row.spent_micros - row.leased_micros


def _release(s: Session, agent_id: int, amount: int) -> None:
    if amount > 0:
        forget(s, agent_id)
        s.execute(
            update(Budget)
            .where(Budget.agent_id == agent_id)
            .values(leased_micros=Budget.leased_micros - amount, updated_at=datetime.now(UTC))
        )


def limits_of(s: Session, agent_id: int) -> dict[str, float]:
    """The limits that apply to the agent, by kind: the global ones, overridden by its own;
    read once per transaction (a handshake needs them for the grant and for its answer)."""
    memo = tx_memo(s, "limits")
    if agent_id not in memo:
        rows = s.execute(
            select(Limit.kind, Limit.value, Limit.agent_id).where(
                (Limit.agent_id == agent_id) | Limit.agent_id.is_(None)
            )
        ).all()
        memo[agent_id] = _by_kind([tuple(r) for r in rows])
    limits: dict[str, float] = memo[agent_id]
    return limits


def _by_kind(rows: list[tuple[Any, ...]]) -> dict[str, float]:
    """(kind, value, agent_id) rows: the global limits, overridden by the agent's own."""
    return {kind: value for kind, value, _ in sorted(rows, key=lambda r: r[2] is not None)}


def daily_room(s: Session, agent_id: int) -> int | None:
    """What a ``daily_usd`` limit still allows today (UTC), counting live leases as spent; None: no limit.

    Today's spend is what the server received today: a report's ``occurred_at`` is the
    runtime's word and cannot move spend out of the day."""
    value = limits_of(s, agent_id).get("daily_usd")  # the agent's own limit, else the global one
    if value is None:
        return None
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    today = s.scalar(
        select(SafeSum(UsageRecord.cost_micros)).where(
            UsageRecord.agent_id == agent_id, UsageRecord.received_at >= midnight
        )
    )
    leased = s.scalar(select(Budget.leased_micros).where(Budget.agent_id == agent_id)) or 0
    return max(0, micros(Decimal(str(value))) - int(today or 0) - int(leased))


def _within_daily(s: Session, agent_id: int, requested: int, *, required: bool) -> int:
    room = daily_room(s, agent_id)
    if room is None:
        return requested
    if room == 0 and required:
        raise ApiError(
            402,
            "budget_exceeded",
            "the agent's daily limit is used up (calls today plus live leases): it resets at 00:00 UTC, "
            "or an admin can raise the daily_usd limit",
        )
    return min(requested, room)


def new_lease(s: Session, agent_id: int, requested: int, ttl_s: int, runtime: str) -> Lease:
    granted, _ = grant(s, agent_id, _within_daily(s, agent_id, requested, required=True))
    lease = Lease(
        id=LEASE_PREFIX + secrets.token_urlsafe(18),
        agent_id=agent_id,
        granted_micros=granted,
        runtime=runtime,
        expires_at=datetime.now(UTC) + timedelta(seconds=ttl_s),
    )
    s.add(lease)
    s.flush()
    return lease


def owned_lease(s: Session, lease_id: str, agent_id: int, *, lock: bool = False) -> Lease:
    """The agent's lease; with ``lock``, its row locked until commit and read fresh (a report
    needs what the batches before it recorded).

    One statement reads the lease with its agent and the agent's developer (only the lease
    row is locked): the endpoints need all three, and ``s.get`` then finds them in the
    session instead of reading each on its own."""
    pg = s.get_bind().dialect.name == "postgresql"
    limits = (
        select(
            (func.json_agg if pg else func.json_group_array)(
                (func.json_build_array if pg else func.json_array)(Limit.kind, Limit.value, Limit.agent_id)
            )
        )
        .where((Limit.agent_id == Lease.agent_id) | Limit.agent_id.is_(None))
        .scalar_subquery()
    )
    stmt = (
        select(Lease, Agent, User, limits)
        .join(Agent, Agent.id == Lease.agent_id)
        .outerjoin(User, User.id == Agent.owner_id)
        .where(Lease.id == lease_id)
    )
    if lock:
        stmt = stmt.with_for_update(of=Lease).execution_options(populate_existing=True)
    row = s.execute(stmt).first()
    if row is None:
        raise ApiError(404, "lease_not_found", f"no lease {lease_id!r}: handshake for a new one")
    lease: Lease = row[0]
    agent: Agent = row[1]
    owner: User | None = row[2]
    limit_rows: Any = row[3]
    if lease.agent_id != agent_id:
        raise ApiError(403, "forbidden", f"lease {lease_id!r} belongs to another agent")
    # Held for the transaction: the identity map keeps rows only while they are referenced.
    tx_memo(s, "agents")[agent.id] = agent
    tx_memo(s, "owners")[agent.owner_id] = owner
    if isinstance(limit_rows, str):  # SQLite's JSON is text
        limit_rows = orjson.loads(limit_rows)
    tx_memo(s, "limits")[agent.id] = _by_kind([(str(k), float(v), a) for k, v, a in limit_rows or ()])
    return lease


@dataclass
class ReportResult:
    accepted: int
    duplicates: int
    new_ids: set[str]
    cost: int


def record_usage(db: Database, s: Session, lease: Lease, reports: Sequence[UsageIn]) -> ReportResult:
    """Stores each report once (``request_id`` is unique) and moves its cost from leased to spent.

    What a lease's reports add up to never exceeds what it was granted: a batch that would
    pass it (or holds one report costing more than the whole grant) is refused with 409
    ``lease_exceeded`` and records nothing. Reports on a lease already returned or expired
    (a late replay from an outbox) count as spent only, since ``leased`` no longer holds them.

    ``lease`` must come from ``owned_lease(..., lock=True)``: concurrent batches on one lease
    take turns on its row lock (taken before the budget row's, as everywhere), and each sees
    what the ones before it recorded.
    """
    ids = [r.request_id for r in reports]
    if len(set(ids)) != len(ids):
        raise ApiError(
            400, "invalid_request", "duplicate request_id inside one batch: each call reports once"
        )
    granted, spent, status = lease.granted_micros, lease.spent_micros, lease.status
    cost = {r.request_id: micros(r.cost_usd) for r in reports}
    for r in reports:
        if cost[r.request_id] > granted:
            raise _exceeded(
                f"report {r.request_id!r} costs ${usd(cost[r.request_id]):.6f}, more than lease "
                f"{lease.id!r} was granted in all (${usd(granted):.6f})",
                lease.id,
                granted,
                spent,
                request_id=r.request_id,
                cost_usd=usd(cost[r.request_id]),
            )
    now = datetime.now(UTC)
    rows = [
        {
            "request_id": r.request_id,
            "lease_id": lease.id,
            "agent_id": lease.agent_id,
            "provider": r.provider,
            "model": r.model,
            "input_tokens": r.input_tokens,
            "output_tokens": r.output_tokens,
            "cached_tokens": r.cached_tokens,
            "cost_micros": cost[r.request_id],
            "latency_ms": r.latency_ms,
            "pii_findings": r.reply_findings,
            "breaker_state": r.breaker_state,
            "status": r.status,
            "occurred_at": r.occurred_at.astimezone(UTC) if r.occurred_at and r.occurred_at.tzinfo else now,
            "received_at": now,
            **refusal_columns(r),
        }
        # In request_id order, so two batches sharing ids lock their index entries in one order.
        for r in sorted(reports, key=lambda r: r.request_id)
    ]
    inserted, lease_counted = _insert_new(db, s, rows, lease.id)
    accepted = len(inserted)
    total = sum(int(row[1]) for row in inserted)
    if total > granted - spent:
        # Raising rolls back the INSERT above: the batch records nothing.
        raise _exceeded(
            f"these reports add ${usd(total):.6f} to lease {lease.id!r}, which has "
            f"${usd(granted - spent):.6f} of its ${usd(granted):.6f} left",
            lease.id,
            granted,
            spent,
            batch_usd=usd(total),
        )
    if total:
        if not lease_counted:
            s.execute(
                update(Lease)
                .where(Lease.id == lease.id)
                .values(spent_micros=Lease.spent_micros + total)
                .execution_options(synchronize_session=False)
            )
        set_committed_value(lease, "spent_micros", spent + total)  # the row is ours until commit
        budget = s.scalars(
            update(Budget)
            .where(Budget.agent_id == lease.agent_id, Budget.spent_micros <= MAX_SPENT_MICROS - total)
            .values(
                spent_micros=Budget.spent_micros + total,
                # A live lease still holds this cost in leased; a closed one gave it back already.
                leased_micros=Budget.leased_micros - (total if status == "active" else 0),
                updated_at=now,
            )
            .returning(Budget)
            .execution_options(populate_existing=True, synchronize_session=False)
        ).first()
        if budget is None:
            raise ApiError(
                409,
                "spend_ceiling",
                f"these reports would bring the agent's recorded spend past ${usd(MAX_SPENT_MICROS):,.0f}, "
                "the most the Control Panel counts for one agent: nothing in this batch was recorded; "
                "an admin should look at what this agent's runtime reports",
                batch_usd=usd(total),
            )
        remember(s, budget)
    new_ids = {str(r[0]) for r in inserted}
    findings = [
        {
            "agent_id": lease.agent_id,
            "lease_id": lease.id,
            "request_id": r.request_id,
            "entity": f.entity,
            "severity": f.severity,
            "start": f.start,
            "end": f.end,
            "value_hmac": f.value_hmac,
            "direction": f.direction,
            "action": f.action,
            "received_at": now,
        }
        for r in reports
        if r.pii and r.request_id in new_ids  # a replayed report's findings are already stored
        for f in r.pii
    ]
    if findings:
        s.execute(insert(PiiFinding), findings)
    return ReportResult(
        accepted=accepted,
        duplicates=len(reports) - accepted,
        new_ids=new_ids,
        cost=total,
    )


# PostgreSQL: one statement of fixed text whatever the batch size, the rows sent as one JSON
# array (encoded by orjson, expanded by the server): compiled and parsed once, no per-row binds.
_USAGE_COLUMNS = [
    ("request_id", "varchar"),
    ("lease_id", "varchar"),
    ("agent_id", "integer"),
    ("provider", "varchar"),
    ("model", "varchar"),
    ("input_tokens", "bigint"),
    ("output_tokens", "bigint"),
    ("cached_tokens", "bigint"),
    ("cost_micros", "bigint"),
    ("latency_ms", "double precision"),
    ("pii_findings", "integer"),
    ("breaker_state", "varchar"),
    ("status", "varchar"),
    ("occurred_at", "timestamptz"),
    ("received_at", "timestamptz"),
    *REFUSAL_COLUMNS,
]
# The lease's spent grows by what was inserted in the same statement (a data-modifying CTE
# runs once, whether or not the outer query reads it): one round trip for both. A batch
# refused after it (over the lease, past the spend ceiling) rolls back both.
_PG_INSERT_USAGE = text(
    f"WITH ins AS (INSERT INTO {UsageRecord.__tablename__} ({', '.join(c for c, _ in _USAGE_COLUMNS)}) "
    f"SELECT {', '.join(c for c, _ in _USAGE_COLUMNS)} FROM jsonb_to_recordset(CAST(:rows AS jsonb)) "
    f"AS r({', '.join(f'{c} {t}' for c, t in _USAGE_COLUMNS)}) "
    "ON CONFLICT (request_id) DO NOTHING RETURNING request_id, cost_micros), "
    f"spend AS (UPDATE {Lease.__tablename__} SET spent_micros = {Lease.__tablename__}.spent_micros + t.total "
    "FROM (SELECT SUM(cost_micros) AS total FROM ins) AS t "
    f"WHERE {Lease.__tablename__}.id = :lease_id AND t.total > 0 RETURNING 1) "
    "SELECT request_id, cost_micros FROM ins"
)


def _insert_new(
    db: Database, s: Session, rows: list[dict[str, Any]], lease_id: str
) -> tuple[list[tuple[str, int]], bool]:
    """Inserts the usage rows whose ``request_id`` is new; returns (request_id, cost) of those,
    and whether the lease's ``spent_micros`` already counts them (PostgreSQL: same statement)."""
    if db.dialect == "postgresql":
        payload = orjson.dumps(rows).decode()
        got = s.execute(_PG_INSERT_USAGE, {"rows": payload, "lease_id": lease_id})
        return [(str(a), int(b)) for a, b in got], True
    # SQLite: an executemany that SQLAlchemy batches into multi-row INSERTs ("insertmanyvalues").
    stmt = (
        db.insert(UsageRecord.__table__)
        .on_conflict_do_nothing(index_elements=["request_id"])
        .returning(UsageRecord.__table__.c.request_id, UsageRecord.__table__.c.cost_micros)
    )
    return [(str(a), int(b)) for a, b in s.execute(stmt, rows)], False


def _exceeded(what: str, lease_id: str, granted: int, spent: int, **details: object) -> ApiError:
    return ApiError(
        409,
        "lease_exceeded",
        f"{what}: a lease's reports never add up to more than it was granted, so nothing in this "
        "batch was recorded; report each call on the lease it was spent under, and refresh the "
        "lease (POST /api/v1/budget/refresh) before spending beyond it",
        lease_id=lease_id,
        granted_usd=usd(granted),
        spent_usd=usd(spent),
        **details,
    )


def extend(s: Session, lease: Lease, requested: int, ttl_s: int) -> int:
    """Grants up to ``requested`` more (possibly nothing) to a live lease and restarts its clock;
    returns the grant."""
    now = datetime.now(UTC)
    locked = s.execute(
        update(Lease)
        .where(Lease.id == lease.id, Lease.status == "active", Lease.expires_at > now)
        .values(expires_at=now + timedelta(seconds=ttl_s))
        .returning(Lease.id)
    ).first()
    if locked is None:
        s.refresh(lease)
        state = "expired" if lease.status == "active" else lease.status
        raise ApiError(410, "lease_closed", f"lease {lease.id!r} is {state}: handshake again")
    requested = _within_daily(s, lease.agent_id, requested, required=False)
    granted, _ = grant(s, lease.agent_id, requested, required=False) if requested > 0 else (0, 0)
    s.execute(update(Lease).where(Lease.id == lease.id).values(granted_micros=Lease.granted_micros + granted))
    s.refresh(lease)
    return granted


def close(s: Session, lease: Lease, status: str, expired_before: datetime | None = None) -> bool:
    """Returns or expires a live lease, giving its unspent part back. False if already closed
    (or, with ``expired_before``, if a refresh extended it meanwhile)."""
    cond = [Lease.id == lease.id, Lease.status == "active"]
    if expired_before is not None:
        cond.append(Lease.expires_at < expired_before)
    row = s.execute(
        update(Lease)
        .where(*cond)
        .values(status=status, closed_at=datetime.now(UTC))
        .returning(Lease.granted_micros, Lease.spent_micros)
    ).first()
    if row is None:
        s.refresh(lease)
        return False
    _release(s, lease.agent_id, max(0, int(row[0]) - int(row[1])))
    s.refresh(lease)
    return True


def sweep(db: Database, grace_s: float = 0.0, hub: EventHub | None = None) -> int:
    """Expires leases past ``expires_at + grace_s`` and returns their unused budget; the count."""
    cutoff = datetime.now(UTC) - timedelta(seconds=grace_s)
    with db.session() as s:
        due = list(
            s.scalars(select(Lease.id).where(Lease.status == "active", Lease.expires_at < cutoff).limit(500))
        )
    n = 0
    for lease_id in due:
        with db.sessions() as s:
            if hub is not None:
                hub.bind(s)
            with s.begin():
                lease = s.get(Lease, lease_id)
                if lease is None or not close(s, lease, "expired", expired_before=cutoff):
                    continue
                n += 1
                agent = s.get(Agent, lease.agent_id)
                if agent is not None:
                    emit(s, "AGENT_EVENT", agent.id, agent.owner_id, event="lease_expired", lease_id=lease.id)
            run_after_commit(s)
    return n
