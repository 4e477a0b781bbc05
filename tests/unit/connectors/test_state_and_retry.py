"""The state file's transactions and binding, and the back-off arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from connectors.retry import Backoff, Rejected, TransientError, from_response, retry_after
from connectors.state import Batch, StateError, StateStore


def batch(source: str, body: bytes = b'{"objects":[]}') -> Batch:
    return Batch(source, "application/json", body, 1, {}, [("indicator--x", "1")])


def _stage_then_die(store: StateStore) -> None:
    with store.transaction():
        store.stage([batch("page 1")])
        store.put("cursor", {"added_after": "2026-01-01T00:00:00.000000Z"})
        raise RuntimeError("killed")


def test_a_failed_transaction_leaves_neither_cursor_nor_batch(tmp_path: Path) -> None:
    store = StateStore.open(tmp_path / "c.sqlite3")
    with pytest.raises(RuntimeError):
        _stage_then_die(store)
    assert store.outbox() == []
    assert store.get("cursor") is None
    with store.transaction():
        store.stage([batch("page 1")])
        store.put("cursor", {"added_after": "2026-01-01T00:00:00.000000Z"})
    store.close()
    reopened = StateStore.open(tmp_path / "c.sqlite3")
    (staged,) = reopened.outbox()
    assert (staged.source, staged.versions, staged.attempts) == (
        "page 1",
        [("indicator--x", "1")],
        0,
    )
    reopened.attempt(staged.seq)
    with reopened.transaction():
        reopened.unstage(staged.seq)
        reopened.delivered(staged.versions)
        reopened.count(submitted=1)
    assert reopened.known([("indicator--x", "1"), ("indicator--y", "1")]) == {("indicator--x", "1")}
    assert reopened.counters()["submitted"] == 1


def test_state_kept_for_another_collection_is_refused(tmp_path: Path) -> None:
    store = StateStore.open(tmp_path / "c.sqlite3")
    store.bind({"kind": "taxii-pull", "source": "a#feed"})
    store.bind({"kind": "taxii-pull", "source": "a#feed"})
    with pytest.raises(StateError, match=r"another source \(source='a#feed'\)"):
        store.bind({"kind": "taxii-pull", "source": "b#feed"})


def test_a_run_left_running_by_a_dead_process_reads_interrupted(tmp_path: Path) -> None:
    store = StateStore.open(tmp_path / "c.sqlite3")
    store.start_run()
    second = store.start_run()
    runs = store.runs()
    assert [r["outcome"] for r in runs] == ["running", "interrupted"]
    assert store.finish_run(second, "ok", None)["outcome"] == "ok"


def test_backoff_doubles_with_jitter_up_to_the_cap_and_honours_retry_after() -> None:
    low, high = Backoff(cap=30, rng=lambda: 0.0), Backoff(cap=30, rng=lambda: 1.0)
    assert [low.delay(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0]
    assert [high.delay(n) for n in range(6)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    assert low.delay(3, retry_after=12) == 12.0
    assert low.delay(3, retry_after=900) == 30.0


def answer(status: int, headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers or {})
    response._content = b'{"detail": "why"}'
    return response


def test_answers_are_sorted_into_transient_rejected_and_lasting() -> None:
    assert isinstance(from_response(answer(429, {"Retry-After": "3"}), "POST"), TransientError)
    assert from_response(answer(503), "GET").retry_after is None  # type: ignore[attr-defined]
    assert isinstance(from_response(answer(413), "POST"), Rejected)
    lasting = from_response(answer(401), "GET x")
    assert not isinstance(lasting, TransientError | Rejected)
    assert str(lasting) == "GET x: 401: why (the credentials were refused)"
    assert retry_after(answer(429, {"Retry-After": "3"})) == 3.0
    assert retry_after(answer(429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0
    assert retry_after(answer(429, {"Retry-After": "soon"})) is None
