"""Transactions of the database engine, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from hub.services import Hub, membership
from hub.storage.tables import members


def member_status(hub: Hub, member_id: str) -> str:
    with hub.db.read() as conn:
        return str(conn.execute(select(members.c.status).where(members.c.id == member_id)).one()[0])


def test_reads_in_a_shared_block_use_one_connection(any_hub: Hub) -> None:
    with any_hub.db.shared_reads():
        with any_hub.db.read() as first:
            pass
        with any_hub.db.read() as second:
            assert any_hub.db.engine.pool.checkedout() == 1  # type: ignore[attr-defined]
        assert second is first
    assert any_hub.db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_write_in_a_shared_block_is_seen_by_the_reads_after_it(any_hub: Hub) -> None:
    member = membership.add_member(any_hub, "Acme", "industry")
    with any_hub.db.shared_reads():
        assert member_status(any_hub, member.id) == "active"
        membership.set_member_status(any_hub, member.id, "suspended")
        assert member_status(any_hub, member.id) == "suspended"


def test_a_read_inside_a_write_does_not_hide_the_write_from_later_reads(any_hub: Hub) -> None:
    member = membership.add_member(any_hub, "Acme", "industry")
    with any_hub.db.shared_reads():
        with any_hub.db.write() as conn:
            conn.execute(members.update().values(status="suspended"))
            assert member_status(any_hub, member.id) == "active"  # not committed yet
        assert member_status(any_hub, member.id) == "suspended"


def test_a_write_elsewhere_is_seen_by_the_next_shared_block(any_hub: Hub) -> None:
    member = membership.add_member(any_hub, "Acme", "industry")
    with any_hub.db.shared_reads():
        assert member_status(any_hub, member.id) == "active"
    # Another thread (another request) writes between two requests of this one.
    writer = threading.Thread(
        target=membership.set_member_status, args=(any_hub, member.id, "suspended")
    )
    writer.start()
    writer.join()
    with any_hub.db.shared_reads():
        assert member_status(any_hub, member.id) == "suspended"


def test_a_failed_read_does_not_spoil_the_next_in_the_block(any_hub: Hub) -> None:
    member = membership.add_member(any_hub, "Acme", "industry")
    with any_hub.db.shared_reads():
        with pytest.raises(DBAPIError), any_hub.db.read() as conn:
            conn.execute(text("SELECT no_such_column FROM members"))
        assert member_status(any_hub, member.id) == "active"
        with any_hub.db.read() as outer:
            with pytest.raises(DBAPIError), any_hub.db.read() as inner:
                inner.execute(text("SELECT no_such_column FROM members"))
            assert outer.execute(select(members.c.status)).scalar_one() == "active"


def test_shared_blocks_of_two_threads_do_not_mix(any_hub: Hub) -> None:
    seen: dict[str, object] = {}

    def read(name: str) -> None:
        with any_hub.db.shared_reads(), any_hub.db.read() as conn:
            seen[name] = conn
            barrier.wait(timeout=10)

    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=read, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen["a"] is not seen["b"]
