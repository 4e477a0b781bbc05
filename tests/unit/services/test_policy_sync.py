"""Recording the configured sharing policy as several processes start at once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from hub.config import replace
from hub.services import Hub
from hub.services.sharing import sync_policy
from hub.storage.sharing import PolicyRepository
from hub.storage.tables import policy_versions


def test_a_version_another_process_numbered_first_is_taken_not_an_error(
    any_hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers starting together after a change to the file each find the change unrecorded
    and number a version: on PostgreSQL the second failed with a unique violation and the
    process exited. The loser looks again and finds the file's policy recorded."""
    with any_hub.db.read() as conn:  # what the loser reads before the winner commits
        repo = PolicyRepository(conn)
        stale = {
            "config": repo.latest("config"),
            None: repo.latest(),
            "number": repo.latest_number(),
        }
    changed = replace(any_hub.settings, sharing={"default_tlp": "green"})
    recorded = sync_policy(Hub(changed, any_hub.db))  # the winner
    assert recorded == (stale["number"] or 0) + 1

    racing = [True]
    real_latest, real_number, real_add = (
        PolicyRepository.latest,
        PolicyRepository.latest_number,
        PolicyRepository.add,
    )

    def latest(self: PolicyRepository, source: str | None = None) -> Any:
        return stale[source] if racing[0] else real_latest(self, source)

    def latest_number(self: PolicyRepository) -> int | None:
        return stale["number"] if racing[0] else real_number(self)

    def add(self: PolicyRepository, **values: Any) -> int:
        try:
            return real_add(self, **values)
        finally:
            racing[0] = False  # the loser's next look sees the winner's version

    monkeypatch.setattr(PolicyRepository, "latest", latest)
    monkeypatch.setattr(PolicyRepository, "latest_number", latest_number)
    monkeypatch.setattr(PolicyRepository, "add", add)

    assert sync_policy(Hub(changed, any_hub.db)) == recorded
    assert not racing[0]  # it did try to number a version while the race lasted
    with any_hub.db.read() as conn:
        versions = conn.execute(select(policy_versions.c.version)).scalars().all()
    assert sorted(versions) == list(range(1, recorded + 1))
