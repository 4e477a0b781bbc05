"""The Alembic migrations build exactly the schema tables.py declares, on both engines."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from hub.services import Hub
from hub.storage import migrate
from hub.storage.engine import Database
from hub.storage.statuses import Detail, StatusRepository
from hub.storage.submissions import SubmissionRepository
from hub.storage.tables import metadata


def test_migrations_match_the_declared_tables(any_hub: Hub) -> None:
    with any_hub.db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_upgrade_is_idempotent_and_current(any_hub: Hub) -> None:
    migrate.upgrade(any_hub.db)
    assert migrate.is_current(any_hub.db)


def test_bodies_move_to_parts_and_details_are_grouped_and_back(tmp_path: Path) -> None:
    scripts = ScriptDirectory(str(Path(migrate.__file__).parent / "migrations"))
    before = scripts.get_revision("0006").down_revision
    assert isinstance(before, str)
    db = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    migrate.upgrade(db, before)
    raw = b'{"objects": []}' * 100_000  # more than one part
    with db.write() as conn:
        conn.execute(
            text(
                "INSERT INTO members (id, name, kind, consent, status, created_us, updated_us)"
                " VALUES ('m', 'M', 'industry', 'none', 'active', 0, 0)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO collections (id, alias, title, description, kind, readers, writers,"
                " source, created_us, next_seq, last_added_us)"
                " VALUES ('c', 'c', 'C', '', 'trust-group', '[]', '[]', 'cli', 0, 1, 0)"
            )
        )
        conn.execute(text("INSERT INTO statuses VALUES ('st', 'c', 'm', 'pending', 0, 3, 2, 1, 0)"))
        conn.execute(
            text(
                "INSERT INTO submissions (id, member_id, collection_id, status_id, channel,"
                " content_type, received_us, size, sha256, raw, state, processed_count,"
                " enqueued_us) VALUES ('s', 'm', 'c', 'st', 'api', 'application/json', 0,"
                " :size, '', :raw, 'pending', 0, 0)"
            ),
            {"raw": raw, "size": len(raw)},
        )
        for outcome, object_id, version, message in [
            ("success", "a--1", "v1", None),
            ("success", "a--2", "v2", None),
            ("failure", "a--3", None, "bad"),
        ]:
            conn.execute(
                text(
                    "INSERT INTO status_details (status_id, outcome, object_id, version,"
                    " message) VALUES ('st', :outcome, :object_id, :version, :message)"
                ),
                {
                    "outcome": outcome,
                    "object_id": object_id,
                    "version": version,
                    "message": message,
                },
            )
    expected = [Detail("a--1", "v1"), Detail("a--2", "v2")], [Detail("a--3", None, "bad")]

    migrate.upgrade(db)
    with db.read() as conn:
        assert SubmissionRepository(conn).raw("s") == raw
        assert SubmissionRepository(conn).part("s", 1) is not None
        status = StatusRepository(conn).get("st")
    assert status is not None
    assert (status.successes, status.failures) == expected

    migrate.downgrade(db, before)
    with db.read() as conn:
        assert conn.execute(text("SELECT raw FROM submissions")).scalar_one() == raw
        rows = conn.execute(
            text("SELECT object_id, version, message FROM status_details ORDER BY id")
        ).all()
    assert [tuple(row) for row in rows] == [
        ("a--1", "v1", None),
        ("a--2", "v2", None),
        ("a--3", None, "bad"),
    ]
    db.dispose()
