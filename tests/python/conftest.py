"""Hypothesis profiles, and the databases of the Control Panel suites (``control_panel/``,
``security/``): the ``database_url`` fixture runs each test that takes it twice, on a SQLite file
and on a PostgreSQL server.

The PostgreSQL server (Debian's package, installed by `make postgres`; ``pg_server.py``) starts
once per session in a temporary directory, when a test first needs it; each test gets a fresh
database cloned from a migrated template, and a fresh SQLite file copied from a migrated one.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from pg_server import PostgresServer

# CI machines have 2 cores shared with a Rust build cache; wall-clock deadlines
# would make property tests flaky without testing anything about iron-cage.
settings.register_profile(
    "ci", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

_databases = itertools.count()


def _migrated(url: str) -> None:
    from iron_cage.control_panel.db import make_engine, migrate  # the Control Panel's extra only here

    engine = make_engine(url)
    migrate(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer() as pg:
        _migrated(pg.create_database("ic_template"))
        yield pg


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    _migrated(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "cp.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    pg: PostgresServer = request.getfixturevalue("postgres")
    return pg.create_database(f"t{next(_databases)}", template="ic_template")
