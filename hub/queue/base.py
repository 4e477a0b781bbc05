"""What every submission queue offers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class QueueUnavailable(Exception):
    """The queue cannot be reached now; the caller retries later (nothing is lost)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One submission handed to one consumer, to be acknowledged once processed."""

    submission_id: str
    receipt: str  # queue-specific handle (a stream entry id)


@runtime_checkable
class SubmissionQueue(Protocol):
    def put(self, submission_id: str) -> None:
        """Queue a submission id (at least once: duplicates are harmless)."""

    def take(self, timeout_s: float) -> Delivery | None:
        """The next submission for this consumer, waiting up to `timeout_s`; None if none."""

    def ack(self, delivery: Delivery) -> None:
        """The submission is processed; it will not be delivered again."""

    def reclaim(self, idle_s: float, count: int = 10) -> list[Delivery]:
        """Take over deliveries another consumer has held for longer than `idle_s`."""

    def queued(self, submission_ids: list[str]) -> set[str]:
        """Which of these submissions the queue holds now (waiting or being processed)."""

    def depth(self) -> int:
        """Entries waiting or being processed (for health and metrics)."""

    def close(self) -> None: ...
