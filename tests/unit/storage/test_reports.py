"""The console's read-only queries give the same answers on SQLite and PostgreSQL."""

from __future__ import annotations

from hub.app import create_app
from hub.services import Hub
from hub.stix.timestamps import now_us
from hub.storage.collections import CollectionRepository
from hub.storage.reports import DAY_US, ReportRepository
from tests.support.console import submit
from tests.support.hubs import add_account
from tests.support.stix import indicator


def test_counts_per_day_search_and_activity(any_hub: Hub) -> None:
    app = create_app(any_hub.settings, any_hub, start_worker=False)
    acme = add_account(any_hub, "Acme Bank", "industry", sector="finance")
    submit(app, acme.secret, indicator("198.51.100.1"), indicator("198.51.100.2"))
    submit(app, acme.secret, indicator("198.51.100.3", name="100%_match"))
    today = now_us() // DAY_US
    with any_hub.db.read() as conn:
        reports = ReportRepository(conn)
        inbox = CollectionRepository(conn).find("inbox")
        assert inbox is not None
        assert reports.submissions_per_day(0) == {today: 2}
        assert reports.versions_per_day(inbox.id, 0) == {today: 3}
        assert reports.submissions_by_sector(0) == {"finance": 2}
        assert reports.releases_by_tlp(0) == {"amber": 6}  # 3 objects x 2 feeds
        everywhere = [c.id for c in CollectionRepository(conn).list()]
        found = reports.search_versions(collection_ids=everywhere, text="198.51.100.2")
        assert {r.collection_alias for r in found} == {"inbox", "members", "government"}
        # LIKE wildcards in the text are taken literally.
        literal = reports.search_versions(collection_ids=[inbox.id], text="100%_")
        assert [r.object_id for r in literal] == [found_id(reports, inbox.id, "100%_match")]
        assert reports.search_versions(collection_ids=[inbox.id], text="0%1") == []
        assert len(reports.search_versions(collection_ids=[inbox.id], tlp="amber")) == 3
        assert reports.search_versions(collection_ids=[inbox.id], tlp="clear") == []
        rows = reports.submissions(member_id=acme.member.id)
        # Newest first, with their status counts.
        assert [(r.total, r.success, r.failure, r.pending) for r in rows] == [
            (1, 1, 0, 0),
            (2, 2, 0, 0),
        ]
        assert reports.pending_submissions() == (0, None)


def found_id(reports: ReportRepository, inbox_id: str, name: str) -> str:
    (row,) = [
        r for r in reports.search_versions(collection_ids=[inbox_id]) if f'"{name}"' in r.body
    ]
    return row.object_id
