"""The pseudonym key's epoch, as several processes first use the key at once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hub.services import Hub
from hub.services.sharing import pseudonym_key
from hub.sharing.pseudonyms import key_fingerprint
from hub.stix.timestamps import now_us
from hub.storage.sharing import Epoch, EpochRepository
from hub.storage.tables import pseudonym_epochs


def test_an_epoch_another_process_recorded_first_is_taken_not_an_error(
    any_hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Web processes and workers that first use the key at the same moment each look for its
    epoch, find none and record one: on PostgreSQL all but the first failed with a unique
    violation, and the inbox POST that was being processed answered 500 (found by
    bench/load_faults.py). The losers take the epoch the winner recorded."""
    secret = any_hub.settings.secret_path("pseudonym_key").read_bytes().strip()
    fingerprint = key_fingerprint(secret)
    with any_hub.db.write() as conn:  # the winner, in another process
        winner = EpochRepository(conn).start(fingerprint, now_us())
    looked = []
    real = EpochRepository.by_fingerprint

    def not_yet_committed(self: EpochRepository, wanted: str) -> Epoch | None:
        looked.append(wanted)
        return None if len(looked) == 1 else real(self, wanted)

    monkeypatch.setattr(EpochRepository, "by_fingerprint", not_yet_committed)
    any_hub.cache.pop("pseudonym_key", None)

    key = pseudonym_key(any_hub)

    assert (key.epoch, key.started_us) == (winner.epoch, winner.started_us)
    with any_hub.db.read() as conn:
        epochs = conn.execute(select(func.count()).select_from(pseudonym_epochs)).scalar_one()
        ended = conn.execute(select(pseudonym_epochs.c.ended_us)).scalars().all()
    assert epochs == 1
    assert ended == [None]  # the loser's attempt to end the current epoch was rolled back
