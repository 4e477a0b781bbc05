"""The load-and-fault harness's verdict: clean evidence passes, and each kind of defect planted
in it (a duplicate, a loss, an extra object, RED in a feed, a submitter named without consent,
a stuck status, a poller that skipped or repeated) is reported. A verifier that cannot fail
proves nothing."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import pytest

from bench.load_faults_check import (
    TLP2_IDS,
    Answered,
    Evidence,
    FeedRule,
    Member,
    Receipt,
    Row,
    Sent,
    StatusCount,
    Walk,
    digest,
    verify,
)

FEEDS = (
    FeedRule("public", frozenset({"clear"}), "consent", government=False),
    FeedRule("members", frozenset({"clear", "green", "amber"}), "consent", government=False),
    FeedRule("government", frozenset({"clear", "green", "amber"}), "consent", government=True),
)
ACME = Member("m-acme", "Acme Bank", "identity--r1", ("identity--o1",), ("Acme",))
GLOBEX = Member("m-globex", "Globex Telecom", "identity--r2", ("identity--o2",))
PSEUDONYMS = {
    ("m-acme", "public"): "identity--p1",
    ("m-acme", "members"): "identity--p2",
    ("m-acme", "government"): "identity--p3",
}
VERSION = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z

# id, member, TLP meant, consent that applies, valid, shared
OBJECTS = (
    ("indicator--green", ACME, "green", "none", True, True),
    ("indicator--clear", ACME, "clear", "none", True, True),
    ("indicator--red", ACME, "red", "none", True, True),
    ("indicator--strict", ACME, "amber+strict", "none", True, True),
    ("indicator--bad", ACME, "green", "none", False, True),
    ("identity--o1", ACME, "amber", "none", True, False),
    ("indicator--named", GLOBEX, "amber", "everyone", True, True),
)


def _creator(member: Member, feed: FeedRule, consent: str) -> str:
    return member.real_identity_id if feed.names(consent) else PSEUDONYMS[(member.id, feed.alias)]


def world() -> Evidence:
    """A run whose evidence is exactly right."""
    sent = [
        Sent(object_id, VERSION, member.id, tlp, consent, valid, True, shared)
        for object_id, member, tlp, consent, valid, shared in OBJECTS
    ]
    inbox = [
        Row("inbox", s.object_id, VERSION, seq, VERSION + seq, True, s.object_id.split("--")[0])
        for seq, s in enumerate((s for s in sent if s.valid), 1)
    ]
    feed_rows: list[Row] = []
    receipts: list[Receipt] = []
    seqs: Counter[str] = Counter()

    def add(feed: str, object_id: str, body: dict[str, Any]) -> None:
        seqs[feed] += 1
        kind = object_id.split("--")[0]
        feed_rows.append(
            Row(feed, object_id, VERSION, seqs[feed], VERSION + seqs[feed], True, kind, body)
        )

    for feed in FEEDS:
        used: dict[str, None] = {}
        levels: dict[str, None] = {}
        for object_id, member, tlp, consent, valid, shared in OBJECTS:
            if not (valid and shared and feed.takes(tlp)):
                continue
            creator = _creator(member, feed, consent)
            used[creator] = None
            levels[TLP2_IDS[tlp]] = None
            add(
                feed.alias,
                object_id,
                {
                    "type": "indicator",
                    "id": object_id,
                    "created_by_ref": creator,
                    "description": "Seen in a phishing campaign.",
                    "object_marking_refs": [TLP2_IDS[tlp]],
                },
            )
            receipts.append(Receipt(object_id, VERSION, feed.alias, "release", feed.names(consent)))
        for creator in used:
            add(feed.alias, creator, {"type": "identity", "id": creator})
        for level in levels:
            add(feed.alias, level, {"type": "marking-definition", "id": level})
    members_rows = [r for r in feed_rows if r.collection == "members"]
    walk = Walk(
        "poller-0",
        "members",
        None,
        max(r.seq for r in members_rows),
        [digest(r.object_id, r.version_us) for r in members_rows],
        complete=True,
        final=True,
    )
    served = {
        feed.alias: Counter(
            (r.object_id, r.version_us) for r in feed_rows if r.collection == feed.alias
        )
        for feed in FEEDS
    }
    status = {
        "id": "s-1",
        "status": "complete",
        "total_count": 7,
        "success_count": 6,
        "failure_count": 1,
        "pending_count": 0,
        "successes": [{"id": s.object_id} for s in sent if s.valid],
        "failures": [{"id": "indicator--bad"}],
    }
    return Evidence(
        feeds=FEEDS,
        members={ACME.id: ACME, GLOBEX.id: GLOBEX},
        sent=sent,
        inbox=inbox,
        feed_rows=feed_rows,
        receipts=receipts,
        statuses=[StatusCount("s-1", "complete", 7, 6, 1, 0)],
        answered=[
            Answered(
                "s-1",
                "taxii",
                tuple(s.object_id for s in sent if s.valid),
                ("indicator--bad",),
                status,
            )
        ],
        pending_submissions=0,
        walks=[walk],
        served=served,
    )


def kinds(evidence: Evidence) -> set[str]:
    return {violation.kind for violation in verify(evidence).violations}


def _row(evidence: Evidence, feed: str, object_id: str) -> Row:
    return next(
        r
        for r in [*evidence.inbox, *evidence.feed_rows]
        if r.collection == feed and r.object_id == object_id
    )


def _with_body(row: Row, **changes: Any) -> Row:
    assert row.body is not None
    return dataclasses.replace(row, body={**row.body, **changes})


def _replace_row(evidence: Evidence, old: Row, new: Row) -> Evidence:
    rows = [new if r is old else r for r in evidence.feed_rows]
    return dataclasses.replace(evidence, feed_rows=rows)


def test_clean_evidence_passes() -> None:
    verdict = verify(world())
    assert verdict.ok, verdict.violations
    assert verdict.checked["objects accepted and valid"] == 6


def test_a_second_copy_in_the_inbox_is_a_duplicate() -> None:
    evidence = world()
    green = _row(evidence, "inbox", "indicator--green")
    copy = dataclasses.replace(green, version_us=VERSION + 1, seq=99)
    assert kinds(dataclasses.replace(evidence, inbox=[*evidence.inbox, copy])) == {"duplicate"}


def test_an_accepted_object_missing_from_the_inbox_is_a_loss() -> None:
    evidence = world()
    kept = [r for r in evidence.inbox if r.object_id != "indicator--red"]
    assert kinds(dataclasses.replace(evidence, inbox=kept)) == {"loss"}


def test_an_object_whose_answer_never_came_may_be_missing() -> None:
    evidence = world()
    sent = [
        dataclasses.replace(s, accepted=False) if s.object_id == "indicator--red" else s
        for s in evidence.sent
    ]
    kept = [r for r in evidence.inbox if r.object_id != "indicator--red"]
    assert kinds(dataclasses.replace(evidence, sent=sent, inbox=kept)) == set()


def test_a_released_object_missing_from_a_feed_is_a_loss() -> None:
    evidence = world()
    gone = _row(evidence, "government", "indicator--green")
    rows = [r for r in evidence.feed_rows if r is not gone]
    served = {
        **evidence.served,
        "government": evidence.served["government"] - Counter({(gone.object_id, VERSION): 1}),
    }
    found = verify(dataclasses.replace(evidence, feed_rows=rows, served=served))
    # The green marking definition it used is left over in that feed too.
    assert {v.kind for v in found.violations} == {"loss", "extra"}
    assert any("missing from the government feed" in v.message for v in found.violations)


@pytest.mark.parametrize("object_id", ["indicator--red", "indicator--strict"])
def test_red_or_amber_strict_in_a_feed_is_a_policy_violation(object_id: str) -> None:
    evidence = world()
    leaked = dataclasses.replace(
        _row(evidence, "members", "indicator--green"),
        object_id=object_id,
        seq=99,
        body={"id": object_id, "object_marking_refs": [TLP2_IDS["red"]], "created_by_ref": "x"},
    )
    served = {
        **evidence.served,
        "members": evidence.served["members"] + Counter({(object_id, VERSION): 1}),
    }
    found = verify(
        dataclasses.replace(evidence, feed_rows=[*evidence.feed_rows, leaked], served=served)
    )
    assert "policy" in {v.kind for v in found.violations}
    assert any("never released" in v.message for v in found.violations)


def test_green_in_the_public_feed_is_a_policy_violation() -> None:
    evidence = world()
    green = _row(evidence, "members", "indicator--green")
    wrong = dataclasses.replace(green, collection="public", seq=99)
    assert "policy" in kinds(dataclasses.replace(evidence, feed_rows=[*evidence.feed_rows, wrong]))


def test_an_invalid_object_stored_is_a_policy_violation() -> None:
    evidence = world()
    bad = Row("inbox", "indicator--bad", VERSION, 99, VERSION + 99, True, "indicator")
    assert kinds(dataclasses.replace(evidence, inbox=[*evidence.inbox, bad])) == {"policy"}


def test_an_object_nobody_sent_is_extra() -> None:
    evidence = world()
    stranger = dataclasses.replace(
        _row(evidence, "public", "indicator--clear"), object_id="indicator--stranger", seq=99
    )
    assert "extra" in kinds(
        dataclasses.replace(evidence, feed_rows=[*evidence.feed_rows, stranger])
    )


def test_the_submitters_own_identity_in_a_feed_is_a_policy_violation() -> None:
    evidence = world()
    own = dataclasses.replace(
        _row(evidence, "members", "indicator--green"),
        object_id="identity--o1",
        type="identity",
        seq=99,
        body={"type": "identity", "id": "identity--o1", "name": "Acme Bank"},
    )
    assert "policy" in kinds(dataclasses.replace(evidence, feed_rows=[*evidence.feed_rows, own]))


@pytest.mark.parametrize(
    "changes",
    [
        {"created_by_ref": "identity--r1"},
        {"description": "Shared by Acme Bank analysts."},
        {"description": "Shared by ACME analysts."},  # an alias, in any case
        {"description": "See identity--o1."},
    ],
)
def test_a_submitter_named_without_consent_is_an_identity_violation(changes: Any) -> None:
    evidence = world()
    row = _row(evidence, "members", "indicator--green")
    assert "identity" in kinds(_replace_row(evidence, row, _with_body(row, **changes)))


def test_a_consenting_submitter_shown_under_a_pseudonym_is_an_identity_violation() -> None:
    evidence = world()
    row = _row(evidence, "members", "indicator--named")
    doctored = _with_body(row, created_by_ref="identity--p4")
    assert "identity" in kinds(_replace_row(evidence, row, doctored))


def test_one_pseudonym_for_two_feeds_is_an_identity_violation() -> None:
    evidence = world()
    row = _row(evidence, "government", "indicator--green")
    doctored = _with_body(row, created_by_ref=PSEUDONYMS[("m-acme", "members")])
    assert "identity" in kinds(_replace_row(evidence, row, doctored))


def test_a_released_object_marked_with_another_level_is_a_policy_violation() -> None:
    evidence = world()
    row = _row(evidence, "members", "indicator--green")
    doctored = _with_body(row, object_marking_refs=[TLP2_IDS["amber"]])
    assert "policy" in kinds(_replace_row(evidence, row, doctored))


def test_a_missing_or_repeated_receipt_is_reported() -> None:
    evidence = world()
    first = evidence.receipts[0]
    assert kinds(dataclasses.replace(evidence, receipts=evidence.receipts[1:])) == {"receipt"}
    repeated = [*evidence.receipts, first]
    assert kinds(dataclasses.replace(evidence, receipts=repeated)) == {"receipt"}


def test_a_status_left_pending_or_not_adding_up_is_reported() -> None:
    evidence = world()
    pending = StatusCount("s-2", "pending", 3, 1, 0, 2)
    wrong = StatusCount("s-3", "complete", 3, 1, 1, 0)
    found = dataclasses.replace(evidence, statuses=[*evidence.statuses, pending, wrong])
    messages = [v.message for v in verify(found).violations]
    assert len(messages) == 2
    assert kinds(found) == {"status"}
    assert kinds(dataclasses.replace(evidence, pending_submissions=1)) == {"status"}


def test_a_status_that_lists_an_object_twice_or_not_at_all_is_reported() -> None:
    evidence = world()
    answer = evidence.answered[0]
    assert answer.status is not None
    for successes in (
        [*answer.status["successes"], {"id": "indicator--green"}],
        answer.status["successes"][1:],
    ):
        status = {**answer.status, "successes": successes, "success_count": len(successes)}
        doctored = dataclasses.replace(answer, status=status)
        assert kinds(dataclasses.replace(evidence, answered=[doctored])) == {"status"}


def test_a_poller_served_a_version_twice_is_reported() -> None:
    evidence = world()
    walk = evidence.walks[0]
    again = dataclasses.replace(walk, seen=[*walk.seen, walk.seen[0]])
    assert kinds(dataclasses.replace(evidence, walks=[again])) == {"poller"}


def test_a_walk_that_skipped_a_committed_version_is_reported() -> None:
    evidence = world()
    walk = evidence.walks[0]
    skipped = dataclasses.replace(walk, seen=walk.seen[1:], final=False)
    assert kinds(dataclasses.replace(evidence, walks=[skipped])) == {"poller"}


def test_a_walk_may_miss_what_was_committed_after_it_began() -> None:
    evidence = world()
    walk = evidence.walks[0]
    early = dataclasses.replace(
        walk, seen=walk.seen[:-1], high_water=walk.high_water - 1, final=False
    )
    assert kinds(dataclasses.replace(evidence, walks=[early])) == set()


def test_a_poller_that_never_saw_a_version_by_its_final_walk_is_reported() -> None:
    evidence = world()
    walk = evidence.walks[0]
    unchecked = dataclasses.replace(walk, seen=walk.seen[:-1], high_water=None)
    assert kinds(dataclasses.replace(evidence, walks=[unchecked])) == {"poller"}


def test_taxii_serving_a_version_twice_or_not_at_all_is_reported() -> None:
    evidence = world()
    assert evidence.served is not None
    key = next(iter(evidence.served["public"]))
    twice = {**evidence.served, "public": evidence.served["public"] + Counter({key: 1})}
    assert kinds(dataclasses.replace(evidence, served=twice)) == {"duplicate"}
    never = {**evidence.served, "public": evidence.served["public"] - Counter({key: 1})}
    assert kinds(dataclasses.replace(evidence, served=never)) == {"loss"}
