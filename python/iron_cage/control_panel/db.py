"""Engine, sessions and migrations for SQLite and PostgreSQL.

SQLite runs in WAL mode and every transaction starts with ``BEGIN IMMEDIATE``, so
writers queue on the file lock instead of failing to upgrade a read lock. PostgreSQL
runs at READ COMMITTED; the grant and report statements are single conditional
UPDATEs, which re-check their WHERE clause on the row they lock.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import CursorResult, Engine, Executable, create_engine, event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction

from iron_cage._exceptions import ConfigError
from iron_cage.control_panel.models import Setting
from iron_cage.control_panel.settings import Settings

MIGRATIONS = Path(__file__).with_name("migrations")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith("postgresql"):
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    raise ConfigError(
        f"unsupported database URL {url.split(':', 1)[0]!r}: use sqlite:///path/to/file.db "
        "or postgresql+psycopg://user:password@host:5432/dbname"
    )


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Brings the schema to the latest migration (idempotent; safe from several replicas on PostgreSQL)."""
    cfg = alembic_config(engine)
    if engine.dialect.name == "postgresql":
        # Replicas starting together: one migrates, the others wait on the advisory lock.
        with engine.begin() as conn:
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(712031)")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    else:
        command.upgrade(cfg, "head")


class SafeSum(GenericFunction[Any]):
    """``SUM`` that never overflows and is 0 over no rows (read the result with ``int()``).

    PostgreSQL sums BIGINT into NUMERIC. SQLite's ``sum()`` of integers raises "integer
    overflow" past 2^63, so SQLite uses ``total()``, a float sum: exact below 2^53
    (9e15 micro-USD, $9e9), approximate beyond, never an error.
    """

    inherit_cache = True
    name = "safe_sum"


@compiles(SafeSum)
def _safe_sum(element: SafeSum, compiler: SQLCompiler, **kw: Any) -> str:
    return f"coalesce(sum({compiler.process(element.clauses, **kw)}), 0)"


@compiles(SafeSum, "sqlite")
def _safe_sum_sqlite(element: SafeSum, compiler: SQLCompiler, **kw: Any) -> str:
    return f"total({compiler.process(element.clauses, **kw)})"


def tx_memo(s: Session, name: str) -> dict[Any, Any]:
    """A dict that lives as long as ``s``'s current transaction: what one request learned
    under its row locks (cleared when the transaction ends, with the locks)."""
    memo: dict[str, dict[Any, Any]] = s.info.setdefault("tx", {})
    return memo.setdefault(name, {})


def _end_of_transaction(s: Session, transaction: Any) -> None:
    if transaction.parent is None:
        s.info.pop("tx", None)


def updated(s: Session, stmt: Executable) -> int:
    """Rows an UPDATE/DELETE matched (for conditional updates that must know if they won)."""
    return cast(CursorResult[Any], s.execute(stmt)).rowcount


class Database:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = make_engine(settings.database_url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self.sessions, "after_transaction_end", _end_of_transaction)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def insert(self, table: Any) -> Any:
        """A dialect INSERT that supports ``on_conflict_do_nothing``."""
        return pg_insert(table) if self.dialect == "postgresql" else sqlite_insert(table)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any exception."""
        with self.sessions() as s, s.begin():
            yield s

    def shared_value(self, key: str, make: Any = lambda: secrets.token_urlsafe(48)) -> str:
        """A value every replica shares (created once, first writer wins)."""
        with self.session() as s:
            row = s.get(Setting, key)
            if row is not None:
                return row.value
            s.execute(self.insert(Setting).values(key=key, value=make()).on_conflict_do_nothing())
        with self.session() as s:
            value = s.scalar(select(Setting.value).where(Setting.key == key))
            assert value is not None
            return value

    def dispose(self) -> None:
        self.engine.dispose()
