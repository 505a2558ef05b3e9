"""The room log's column lists are written once (store/events.py) and cover the whole `events` table, so
a column added to tables.py without being written and read fails here, not in production."""

from __future__ import annotations

from parley.store import events as event_store
from parley.store.tables import events


def test_the_one_writer_inserts_every_column_but_the_id() -> None:
    assert set(event_store.INSERTED) == set(events.c.keys()) - {"id"}
    assert len(event_store.INSERTED) == len(set(event_store.INSERTED))


def test_the_one_reader_selects_every_column() -> None:
    assert {c for c in event_store.COLUMNS if c.table is events} == set(events.c)
    assert all(f"{c.table.name}.{c.name}" in event_store.SELECT_SQL for c in event_store.COLUMNS)
