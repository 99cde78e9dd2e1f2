"""Alembic environment: the engine (or connection) comes from iron_cage.control_panel.db.

On SQLite, a migration that rebuilds a table (batch mode: copy, drop, rename) must not
let the drop cascade into the tables that reference it, so foreign keys are switched off
around the migration transaction (SQLite ignores the pragma inside one) and checked
before it commits.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection

from iron_cage.control_panel.models import Base

config = context.config
target_metadata = Base.metadata


def _migrate(conn: Connection) -> None:
    context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
    context.run_migrations()


def _sqlite_pragma(conn: Connection, sql: str) -> None:
    raw: Any = conn.connection.dbapi_connection
    raw.execute(sql)


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = config.attributes["engine"]
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            _migrate(conn)
        return
    with engine.connect() as conn:
        _sqlite_pragma(conn, "PRAGMA foreign_keys=OFF")  # before BEGIN, or it has no effect
        try:
            with conn.begin():
                _migrate(conn)
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"a migration broke foreign keys (table, rowid, parent): {broken[:5]}")
        finally:
            _sqlite_pragma(conn, "PRAGMA foreign_keys=ON")


run()
