"""Where the feeds and their readers let a pseudonym be linked to the member behind it."""

from __future__ import annotations

from hub.services.sharing import linkage_warnings
from hub.sharing.policy import FeedPolicy, Policy
from tests.unit.sharing.factories import three_feeds

_DEFAULT_READERS = {"public": ["*"], "members": ["industry"], "government": ["government"]}


def test_the_default_feeds_let_nobody_link_a_pseudonym_to_its_member() -> None:
    assert linkage_warnings(three_feeds(), _DEFAULT_READERS) == []


def test_reading_a_naming_feed_and_a_wider_pseudonymous_one_is_a_warning() -> None:
    narrow = {"clear", "green"}
    feeds = (
        FeedPolicy("public", frozenset({"clear"})),
        FeedPolicy("members", frozenset({"clear", "green", "amber"})),
        FeedPolicy("government", frozenset(narrow), government=True),
    )
    both = {**_DEFAULT_READERS, "members": ["industry", "government"]}
    warnings = linkage_warnings(Policy(feeds=feeds), both)
    assert len(warnings) == 1
    assert "government members read both 'government'" in warnings[0]
    assert "'members', where it is pseudonymised" in warnings[0]
    assert "TLP:AMBER" in warnings[0]
    # The same feeds, read by separate audiences, link nothing.
    assert linkage_warnings(Policy(feeds=feeds), _DEFAULT_READERS) == []


def test_a_sector_reader_entry_counts_as_a_shared_reader() -> None:
    feeds = (
        FeedPolicy("energy", frozenset({"clear", "green", "amber"}), identity="never"),
        FeedPolicy("everyone", frozenset({"clear"})),
    )
    readers = {"energy": ["sector:energy"], "everyone": ["*"]}
    warnings = linkage_warnings(Policy(feeds=feeds), readers)
    assert any(w.startswith("industry members in energy read both 'everyone'") for w in warnings)
