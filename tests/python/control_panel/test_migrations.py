"""The Alembic migrations build exactly the ORM schema, and go down and up again, on both backends."""

from __future__ import annotations

import re

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from iron_cage.control_panel.db import alembic_config, make_engine, migrate
from iron_cage.control_panel.models import Base

NEVER_REUSED = ("users", "agents", "ic_tokens", "refresh_tokens", "limits", "alert_channels")


def test_head_matches_the_models_and_downgrade_round_trips(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine)  # already at head: a no-op
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        command.downgrade(alembic_config(engine), "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate(engine)
        assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)
    finally:
        engine.dispose()


def _insert(engine: Engine, sql: str, **params: object) -> int:
    with engine.begin() as conn:
        return int(conn.execute(text(sql + " RETURNING id"), params).scalar_one())


def test_0003_keeps_every_row_and_ids_are_never_reused_after_it(database_url: str) -> None:
    """Upgrading a database with data from 0002: rows, foreign keys and cascades survive the
    SQLite table rebuilds, every user gets a token stamp, and a deleted row's id stays unused."""
    engine = make_engine(database_url)
    try:
        command.downgrade(alembic_config(engine), "0002")
        now = "2026-12-01 00:00:00+00:00"
        user = (
            "INSERT INTO users (email, name, role, password_hash, status, failed_logins, created_at) "
            "VALUES (:email, 'U', 'developer', 'x', 'active', 0, :now)"
        )
        u1 = _insert(engine, user, email="u1@example.com", now=now)
        u2 = _insert(engine, user, email="u2@example.com", now=now)
        _insert(
            engine,
            "INSERT INTO refresh_tokens (user_id, token_hash, family, created_at, expires_at) "
            "VALUES (:u, 'h', 'f', :now, :now)",
            u=u2,
            now=now,
        )
        agent = _insert(
            engine,
            "INSERT INTO agents (name, owner_id, project, provider, status, created_at) "
            "VALUES ('a', :u, 'p', 'openai', 'active', :now)",
            u=u2,
            now=now,
        )
        migrate(engine)
        with engine.begin() as conn:
            stamps = {int(r[0]): str(r[1]) for r in conn.execute(text("SELECT id, token_stamp FROM users"))}
            assert set(stamps) == {u1, u2}
            assert all(re.fullmatch(r"[0-9a-f]{32}", s) for s in stamps.values())
            assert stamps[u1] != stamps[u2]
            assert conn.execute(text("SELECT owner_id FROM agents")).scalar_one() == u2
            # The cascade is still declared: deleting the user deletes its refresh tokens.
            assert conn.execute(text("SELECT count(*) FROM refresh_tokens")).scalar_one() == 1
            conn.execute(text("DELETE FROM agents"))
            conn.execute(text("DELETE FROM users WHERE id = :u"), {"u": u2})
            assert conn.execute(text("SELECT count(*) FROM refresh_tokens")).scalar_one() == 0
        user_at_head = (  # failed_logins went away in 0009
            "INSERT INTO users (email, name, role, password_hash, status, created_at) "
            "VALUES (:email, 'U', 'developer', 'x', 'active', :now)"
        )
        u3 = _insert(engine, user_at_head, email="u3@example.com", now=now)
        assert u3 > u2
        a2 = _insert(
            engine,
            "INSERT INTO agents (name, owner_id, project, provider, status, created_at) "
            "VALUES ('b', :u, 'p', 'openai', 'active', :now)",
            u=u1,
            now=now,
        )
        assert a2 > agent
        channel = (
            "INSERT INTO alert_channels (kind, target, enabled, created_at) "
            "VALUES ('email', 'a@b', true, :now)"
        )
        c1 = _insert(engine, channel, now=now)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM alert_channels"))
        assert _insert(engine, channel, now=now) > c1
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
                ddl = {str(r[0]): str(r[1]) for r in rows}
            assert all("AUTOINCREMENT" in ddl[t] for t in NEVER_REUSED), ddl
    finally:
        engine.dispose()


def test_0006_moves_the_old_audit_rows_into_the_append_only_secret_audit_log(database_url: str) -> None:
    """The rows of secret_audit (0001) arrive in secret_audit_log with their ids split out, the
    user's role, success; the new table refuses changes and the downgrade brings the old back."""
    engine = make_engine(database_url)
    try:
        command.downgrade(alembic_config(engine), "0005")
        now = "2026-12-01 00:00:00+00:00"
        uid = _insert(
            engine,
            "INSERT INTO users (email, name, role, password_hash, status, failed_logins, created_at, "
            "token_stamp) VALUES ('v@example.com', 'V', 'viewer', 'x', 'active', 0, :now, 's')",
            now=now,
        )
        old = (
            "INSERT INTO secret_audit (secret_id, secret_name, environment, action, actor, detail, at) "
            "VALUES (7, 'K', 'production', :action, :actor, 'version 1', :now)"
        )
        _insert(engine, old, action="create", actor=f"user:{uid}", now=now)
        _insert(engine, old, action="read", actor="agent:3", now=now)
        _insert(engine, old, action="read", actor="user:999", now=now)
        migrate(engine)
        with engine.begin() as conn:
            rows = conn.execute(
                text(
                    "SELECT operation, requester_role, user_id, agent_id, success, detail "
                    "FROM secret_audit_log ORDER BY id"
                )
            ).all()
            assert [tuple(r) for r in rows] == [
                ("create", "viewer", uid, None, True, "version 1"),
                ("read", "agent", None, 3, True, "version 1"),
                ("read", "unknown", 999, None, True, "version 1"),
            ]
            assert "secret_audit" not in inspect(conn).get_table_names()
        for sql in ("UPDATE secret_audit_log SET success = false", "DELETE FROM secret_audit_log"):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text(sql))
        command.downgrade(alembic_config(engine), "0005")
        with engine.begin() as conn:
            actors = [r[0] for r in conn.execute(text("SELECT actor FROM secret_audit ORDER BY id"))]
        assert actors == [f"user:{uid}", "agent:3", "user:999"]
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text("DELETE FROM secret_audit"))
        migrate(engine)
    finally:
        engine.dispose()
