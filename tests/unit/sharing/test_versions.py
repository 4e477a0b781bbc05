"""Policy documents compared (what a version changed, in words) and a configuration change
carried onto a version set in the console."""

from __future__ import annotations

import dataclasses
from typing import Any

from hub.sharing.policy import DEFAULT_ACTIONS, FeedPolicy, Policy
from hub.sharing.versions import describe_changes, rebase

ALL = frozenset({"clear", "green", "amber"})


def document(**changes: Any) -> dict[str, Any]:
    base = Policy(
        feeds=(FeedPolicy("members", ALL), FeedPolicy("public", frozenset({"clear"}))),
        allowed_properties={"indicator": frozenset({"type", "id", "pattern", "name"})},
    )
    return dataclasses.replace(base, **changes).to_document()


def test_a_file_change_without_console_changes_is_the_file() -> None:
    before = document()
    after = document(default_tlp="green", internal_domains=("corp",))
    assert rebase(before, before, after) == after


def test_console_settings_the_file_did_not_change_are_kept() -> None:
    before = document()
    console = document(
        actions={**DEFAULT_ACTIONS, "email": "hold"},
        feeds=(FeedPolicy("members", frozenset({"clear"})), FeedPolicy("public", ALL - {"amber"})),
    )
    after = document(
        internal_domains=("corp", "acme.internal"),
        actions={**DEFAULT_ACTIONS, "phone": "hold"},
        feeds=(FeedPolicy("members", ALL, "never"), FeedPolicy("public", frozenset({"clear"}))),
    )
    merged = Policy.from_document(rebase(console, before, after))
    assert merged.internal_domains == ("acme.internal", "corp")  # the file's change
    assert merged.action("phone") == "hold"  # the file's change
    assert merged.action("email") == "hold"  # the console's, untouched by the file
    members = merged.feed("members")
    assert members is not None
    # The file changed who is named in members, not what it takes: the console's levels stay.
    assert (members.tlp, members.identity) == (frozenset({"clear"}), "never")
    assert merged.feed("public") == FeedPolicy("public", frozenset({"clear", "green"}))


def test_the_file_wins_a_setting_both_changed() -> None:
    before = document()
    console = document(default_tlp="red", actions={**DEFAULT_ACTIONS, "email": "allow"})
    after = document(default_tlp="green", actions={**DEFAULT_ACTIONS, "email": "hold"})
    merged = Policy.from_document(rebase(console, before, after))
    assert (merged.default_tlp, merged.action("email")) == ("green", "hold")


def test_feeds_and_type_lists_the_file_adds_or_removes_follow_it() -> None:
    before = document()
    console = document(
        allowed_properties={
            "indicator": frozenset({"type", "id", "pattern"}),
            "x-widget": frozenset({"type", "id"}),
        }
    )
    after = document(
        feeds=(FeedPolicy("members", ALL), FeedPolicy("sector", frozenset({"green"}))),
        allowed_properties={"note": frozenset({"type", "id", "content"})},
    )
    merged = Policy.from_document(rebase(console, before, after))
    assert [f.alias for f in merged.feeds] == ["members", "sector"]
    # The file dropped indicator's list and added note's; x-widget came from the console.
    assert set(merged.allowed_properties) == {"note", "x-widget"}


def test_describe_changes_says_what_changed_setting_by_setting() -> None:
    old = document()
    new = document(
        default_tlp="green",
        unknown_marking="reject",
        actions={**DEFAULT_ACTIONS, "email": "hold"},
        internal_domains=("corp", "acme.internal"),
        allowed_properties={
            "indicator": frozenset({"type", "id", "pattern", "description"}),
            "x-widget": frozenset({"type", "id"}),
        },
        feeds=(FeedPolicy("members", ALL - {"amber"}), FeedPolicy("public", frozenset({"clear"}))),
    )
    assert describe_changes(old, new) == [
        "members no longer takes AMBER",
        "default TLP: AMBER → GREEN",
        "unknown markings: hold → reject",
        "detector email: redact → hold",
        "internal domains: added acme.internal; removed home.arpa, internal, intranet, lan, "
        "local, localdomain",
        "allowed properties of indicator: added description; removed name",
        "allowed properties of x-widget: listed, id, type",
    ]
    assert describe_changes(old, old) == ["no change in substance"]
    assert describe_changes(None, old) == ["first version"]
