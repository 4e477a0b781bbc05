"""Pseudonyms and members' real identities as feeds publish them."""

from __future__ import annotations

import re

from hub.sharing.pseudonyms import (
    PseudonymKey,
    key_fingerprint,
    member_identity_id,
    pseudonym,
    real_identity,
)
from tests.unit.sharing.factories import KEY, acme


def test_a_pseudonym_never_changes_for_the_same_member_feed_and_key() -> None:
    # Subscribers track members by pseudonym over months: a code change must not move them.
    made = pseudonym(KEY, "member-acme", "members")
    assert made.id == "identity--659063cc-2733-42a3-bba9-bd20028cc319"
    assert made.name == "Member Y5AN-5ISM"


def test_a_pseudonym_identity_is_an_organisation_created_when_its_key_epoch_began() -> None:
    made = pseudonym(KEY, "member-acme", "members")
    assert not made.named
    assert made.obj["id"] == made.id and made.obj["name"] == made.name
    assert made.obj["identity_class"] == "organization"
    assert made.obj["created"] == made.obj["modified"] == "2023-11-14T22:13:20.000000Z"
    assert re.fullmatch(r"Member [A-Z2-7]{4}-[A-Z2-7]{4}", made.name)


def test_a_new_key_gives_new_pseudonyms() -> None:
    rotated = PseudonymKey(epoch=2, secret=b"n" * 32, started_us=KEY.started_us + 1)
    assert pseudonym(rotated, "member-acme", "members").id != (
        pseudonym(KEY, "member-acme", "members").id
    )


def test_member_and_feed_are_not_confused_by_concatenation() -> None:
    assert pseudonym(KEY, "ab", "c").id != pseudonym(KEY, "a", "bc").id


def test_the_key_secret_is_never_printed() -> None:
    secret = b"very-secret-value-0123456789abcd"
    key = PseudonymKey(3, secret, 0)
    assert repr(key) == "PseudonymKey(epoch=3)"
    assert "very-secret" not in str(key)


def test_the_real_identity_is_stable_named_and_carries_the_sector() -> None:
    submitter = acme("everyone")
    real = real_identity(submitter, 0)
    assert real.named
    assert real.id == member_identity_id("member-acme") == real_identity(submitter, 5).id
    assert real.obj["name"] == "Acme Bank"
    assert real.obj["sectors"] == ["finance"]
    assert real.id != pseudonym(KEY, "member-acme", "government").id


def test_a_key_fingerprint_tells_epochs_apart_without_revealing_the_key() -> None:
    first = key_fingerprint(b"k" * 32)
    assert first == key_fingerprint(b"k" * 32)
    assert first != key_fingerprint(b"n" * 32)
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert (b"k" * 32).hex()[:8] not in first
