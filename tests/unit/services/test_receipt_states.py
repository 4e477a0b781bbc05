"""The state a submitter's receipts give each object is read back from the line summary() wrote
in its status resource: every kind of decision must read back as what it was."""

from __future__ import annotations

import pytest

from hub.services.release import state_of, summary
from hub.sharing.decide import Decision, FeedVerdict


def _decision(outcome: str, *verdicts: FeedVerdict, reasons: tuple[str, ...] = ()) -> Decision:
    return Decision("indicator--x", outcome, "green", False, "none", reasons, (), verdicts)


@pytest.mark.parametrize(
    ("decision", "state", "reason"),
    [
        (
            _decision(
                "release",
                FeedVerdict("members", True, "TLP:GREEN, submitter pseudonymised"),
                FeedVerdict("government", True, "TLP:GREEN, submitter named", named=True),
            ),
            "released",
            "released to members, government (named)",
        ),
        (
            _decision("release", FeedVerdict("members", False, "TLP:RED is never released")),
            "withheld",
            "TLP:RED is never released",
        ),
        (_decision("release"), "withheld", "no feed is configured"),
        (_decision("hold", reasons=("email in description",)), "held", "email in description"),
        (
            _decision("withhold", reasons=("marking definitions are not forwarded",)),
            "withheld",
            "marking definitions are not forwarded",
        ),
        (
            _decision("reject", reasons=("unknown marking definition m",)),
            "rejected",
            "unknown marking definition m",
        ),
    ],
)
def test_every_decision_reads_back_as_its_state(
    decision: Decision, state: str, reason: str
) -> None:
    assert state_of(summary(decision)) == (state, reason)


def test_lines_the_sharing_rules_did_not_write() -> None:
    assert state_of(None)[0] == "stored"  # a trust group keeps what it is sent as it is
    assert state_of("already received")[0] == "duplicate"
