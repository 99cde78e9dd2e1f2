"""SQLite writers of one Control Panel take turns on an in-process lock before BEGIN IMMEDIATE:
every way a transaction ends gives the turn back, reads on autocommit connections take no
turn, and concurrent writers all land."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import select, text

from iron_cage.control_panel.db import Database, migrate
from iron_cage.control_panel.models import Setting

from .conftest import make_settings


@pytest.fixture
def db(tmp_path: Path) -> Database:
    d = Database(make_settings(f"sqlite:///{tmp_path / 'cp.db'}"))
    migrate(d.engine)
    return d


def test_every_end_of_a_transaction_gives_the_write_turn_back(db: Database) -> None:
    for i in range(30):
        if i % 3 == 0:  # committed
            with db.session() as s:
                s.add(Setting(key=f"k{i}", value="v"))
        elif i % 3 == 1:  # raised inside: rolled back
            with pytest.raises(RuntimeError):
                _refused(db, f"k{i}")
        else:  # closed without commit
            s = db.sessions()
            s.add(Setting(key=f"k{i}", value="v"))
            s.flush()
            s.close()
    # A turn still held would make this wait 30 s and fail with database_busy.
    with db.session() as s:
        keys = sorted(s.scalars(select(Setting.key).where(Setting.key.like("k%"))))
    assert keys == sorted(f"k{i}" for i in range(0, 30, 3))


def _refused(db: Database, key: str) -> None:
    with db.session() as s:
        s.add(Setting(key=key, value="v"))
        s.flush()
        raise RuntimeError("refused")


def test_an_autocommit_read_runs_while_a_writer_holds_its_turn(db: Database) -> None:
    with db.session() as s:
        s.add(Setting(key="seen", value="1"))
    writer = db.sessions()
    writer.begin()
    writer.add(Setting(key="pending", value="2"))
    writer.flush()
    try:
        got: list[object] = []
        reader = threading.Thread(target=lambda: got.append(_read(db, "seen")), daemon=True)
        reader.start()
        reader.join(10)
        assert got == ["1"], "a read waited for the writer"
    finally:
        writer.rollback()
        writer.close()


def _read(db: Database, key: str) -> object:
    with db.autocommit() as conn:
        return conn.execute(text("SELECT value FROM settings WHERE key = :k"), {"k": key}).scalar()


def test_concurrent_writers_all_land(db: Database) -> None:
    with db.session() as s:
        s.add(Setting(key="n", value="0"))
    errors: list[BaseException] = []

    def bump(k: int) -> None:
        try:
            for _ in range(25):
                with db.session() as s:
                    row = s.get(Setting, "n")
                    assert row is not None
                    row.value = str(int(row.value) + 1)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=bump, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    with db.session() as s:
        assert s.get(Setting, "n").value == "200"  # type: ignore[union-attr]
