"""The Alembic migrations build exactly the ORM schema, and go down and up again, on both backends."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from iron_cage.control_panel.db import alembic_config, make_engine, migrate
from iron_cage.control_panel.models import Base


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
