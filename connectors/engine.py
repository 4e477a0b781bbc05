"""What every connector does with what it fetched: stage it, deliver it, account for it.

A source (a TAXII collection, a folder) hands batches to `Engine.stage` together with the
cursor that moves past them; both are committed in one transaction. `Engine.flush` then
delivers the outbox in order. The state file therefore always says either "staged" or
"delivered" for everything fetched, whatever moment the process dies at.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, TypeVar

import orjson

from connectors.remote import version_of
from connectors.retry import Backoff, Rejected, with_retries
from connectors.state import Batch, Staged, StateStore
from connectors.targets import Outcome, Target
from hub.push import PlanParams, make_plan

FAILURES_LOGGED = 10
T = TypeVar("T")


class Engine:
    """Stages, delivers and counts for one connector run."""

    def __init__(
        self,
        name: str,
        state: StateStore,
        target: Target,
        *,
        retries: int,
        backoff: Backoff,
        batch_objects: int,
        log: logging.Logger,
    ) -> None:
        self.name = name
        self.state = state
        self.target = target
        self.retries = retries
        self.backoff = backoff
        self.batch_objects = batch_objects
        self.log = log
        self._limits: tuple[int, int] | None = None

    # --- logging ----------------------------------------------------------------------------

    def event(self, level: int, event: str, message: str, **fields: Any) -> None:
        """One structured event: a JSON line with `connector`, `event` and the fields given."""
        self.log.log(level, message, extra={"connector": self.name, "event": event, **fields})

    def retrying(self, reason: str, delay: float, attempt: int) -> None:
        self.event(
            logging.WARNING,
            "retry",
            f"{reason}; attempt {attempt + 1} in {delay:.1f}s",
            attempt=attempt,
            delay_seconds=round(delay, 2),
        )

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """`fn()`, retried with backoff while it fails transiently."""
        return with_retries(
            fn, what=what, attempts=self.retries, backoff=self.backoff, notify=self.retrying
        )

    # --- batches ----------------------------------------------------------------------------

    @property
    def limits(self) -> tuple[int, int]:
        """(bytes, objects) per request: the target's max_content_length and batch_objects."""
        if self._limits is None:
            max_bytes, _ = self.call(
                f"read the limits of {self.target.description}", self.target.limits
            )
            self._limits = (max_bytes, self.batch_objects)
        return self._limits

    def object_batches(
        self, source: str, objects: list[Any], tlp: str | None = None
    ) -> tuple[list[Batch], list[tuple[Any, int]]]:
        """STIX objects cut into envelopes under the target's limits; and those too large
        for any request, with their size."""
        if not objects:
            return [], []
        max_bytes, max_items = self.limits
        plan = make_plan(
            orjson.dumps({"objects": objects}), PlanParams("json", max_bytes, max_items, tlp)
        )
        batches = []
        for batch in plan.batches:
            envelope = orjson.loads(batch.body)
            batches.append(
                Batch(
                    source=f"{source} #{batch.index + 1}",
                    content_type="application/json",
                    body=batch.body,
                    items=batch.items,
                    params={},
                    versions=[version_of(o) for o in envelope["objects"]],
                )
            )
        skipped = {s.ref for s in plan.skipped}
        too_large = [
            (obj, len(orjson.dumps(obj)))
            for number, obj in enumerate(objects, 1)
            if (obj.get("id") if isinstance(obj, dict) else None) in skipped
            or f"object {number}" in skipped
        ]
        return batches, too_large

    def reject_too_large(self, source: str, too_large: Iterable[tuple[Any, int]]) -> int:
        """Keep objects no request can carry in the state file (inside the caller's
        transaction), each with its reason; their count."""
        count = 0
        max_bytes, _ = self.limits
        for obj, size in too_large:
            ref = obj.get("id", "?") if isinstance(obj, dict) else "?"
            reason = f"{size} bytes alone, over the {max_bytes}-byte limit of one request"
            self.state.reject(source, str(ref), reason, orjson.dumps(obj))
            self.event(logging.ERROR, "object_too_large", f"{ref}: {reason}; kept", ref=ref)
            count += 1
        return count

    # --- delivery ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Deliver every staged batch, oldest first."""
        for batch in self.state.outbox():
            self._deliver(batch)

    def _deliver(self, batch: Staged) -> None:
        tries = [batch.attempts]

        def attempt() -> Outcome:
            again = tries[0] > 0
            self.state.attempt(batch.seq)
            tries[0] += 1
            return self.target.deliver(batch, again=again)

        try:
            outcome: Outcome = self.call(
                f"deliver {batch.source} to {self.target.description}", attempt
            )
        except Rejected as exc:
            with self.state.transaction():
                self.state.reject(batch.source, "batch", str(exc), batch.body)
                self.state.unstage(batch.seq)
                self.state.count(failed=batch.items)
            self.event(
                logging.ERROR,
                "batch_rejected",
                f"{batch.source}: {exc}; the batch is kept in the state file",
                failed=batch.items,
            )
            return
        with self.state.transaction():
            self.state.unstage(batch.seq)
            self.state.delivered(batch.versions)
            self.state.count(
                submitted=outcome.submitted, succeeded=outcome.succeeded, failed=outcome.failed
            )
            if outcome.follow_up:
                self.state.follow_up(outcome.follow_up, batch.items)
        self.event(
            logging.INFO,
            "batch_delivered",
            f"{batch.source}: {outcome.submitted} objects delivered ({outcome.reference})",
            submitted=outcome.submitted,
            succeeded=outcome.succeeded,
            failed=outcome.failed,
            reference=outcome.reference,
        )
        self._log_failures(batch.source, outcome)

    def follow_ups(self) -> None:
        """Collect the outcome of deliveries the target had not finished processing."""
        for status_id, _items in self.state.followups():
            outcome = self.call(
                f"read status {status_id} from {self.target.description}",
                partial(self.target.follow, status_id),
            )
            if outcome is None:
                continue
            with self.state.transaction():
                self.state.followed(status_id)
                self.state.count(succeeded=outcome.succeeded, failed=outcome.failed)
            self.event(
                logging.INFO,
                "status_complete",
                f"status {status_id}: {outcome.succeeded} succeeded, {outcome.failed} failed",
                succeeded=outcome.succeeded,
                failed=outcome.failed,
                reference=status_id,
            )
            self._log_failures(status_id, outcome)

    def _log_failures(self, source: str, outcome: Outcome) -> None:
        for failure in outcome.failures[:FAILURES_LOGGED]:
            self.event(
                logging.WARNING,
                "object_failed",
                f"{source}: {failure.get('id')}: {failure.get('message', 'refused')}",
                ref=failure.get("id"),
            )
        if len(outcome.failures) > FAILURES_LOGGED:
            more = len(outcome.failures) - FAILURES_LOGGED
            self.event(logging.WARNING, "object_failed", f"{source}: and {more} more failures")
