"""The personal-data detectors, one by one, their false positives, and redaction of spans."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.sharing.pii import Detectors, Hit, is_internal_address, redact_text
from hub.sharing.policy import DEFAULT_INTERNAL_DOMAINS

DETECTORS = Detectors(DEFAULT_INTERNAL_DOMAINS)


def _found(text: str, detectors: Detectors = DETECTORS) -> list[tuple[str, str]]:
    return [(hit.detector, hit.text) for hit in detectors.scan_text("description", text)]


def _malware(**props: Any) -> dict[str, Any]:
    return {
        "type": "malware",
        "spec_version": "2.1",
        "id": "malware--6b6b0e46-4a8a-4b5c-9d3e-2f1a0b9c8d7e",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "name": "Trickster",
        "is_family": True,
        **props,
    }


# -- e-mail --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("mail j.doe@acme.example now", "j.doe@acme.example"),
        ("<Jane.Roe+soc@mail.Victim.co.uk>", "Jane.Roe+soc@mail.Victim.co.uk"),
        ("reply-to:it_help@corp.example.", "it_help@corp.example"),
    ],
)
def test_email_addresses_in_free_text_are_found(text: str, email: str) -> None:
    assert ("email", email) in _found(text)


@pytest.mark.parametrize("text", ["user@localhost", "a@b", "@handle", "ssh git@ 10"])
def test_things_that_only_resemble_an_email_address_are_not(text: str) -> None:
    assert [d for d, _ in _found(text) if d == "email"] == []


# -- telephone -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "+44 20 7946 0958",
        "+1 555 123 4567",
        "+1-555-123-4567",
        "+33 1 23 45 67 89",
        "+49 (30) 1234567",
        "0044 20 7946 0958",
        "(555) 123-4567",
        "555-123-4567",
        "555.123.4567",
        "020 7946 0958",
    ],
)
def test_international_and_us_telephone_numbers_are_found(phone: str) -> None:
    assert _found(f"call {phone} today") == [("phone", phone)]


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-01T00:00:00.000Z",
        "first seen 2026-03-14 09:26:53",
        "d41d8cd98f00b204e9800998ecf8427e",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "identity--123e4567-e89b-12d3-a456-426614174000",
        "CVE-2021-44228",
        "AS13335",
        "ports 443 8080 3389",
        "version 1.2.3.4",
        "build 10.0.19041.1415",
        "1700000000",  # an epoch time: digits without a separator are not read as a number
        "198.51.100.7",
    ],
)
def test_hashes_timestamps_uuids_and_versions_are_not_telephone_numbers(text: str) -> None:
    assert [d for d, _ in _found(text) if d == "phone"] == []


# -- internal addresses --------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "10.20.30.40",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.15",
        "127.0.0.1",
        "169.254.10.1",
        "192.168.001.010",  # leading zeros, as people write them
        "fd00::1",
        "fc12:3456::1",
        "fe80::1ff:fe23:4567:890a",
        "::1",
        "::ffff:10.0.0.1",
        "::ffff:a00:1",  # the same, in hexadecimal
    ],
)
def test_internal_addresses_are_found(address: str) -> None:
    assert is_internal_address(address)
    text = f"pivot from {address} to the C2"
    hits = list(DETECTORS.scan_text("description", text))
    assert {hit.detector for hit in hits} == {"internal-address"}
    assert redact_text(text, hits) == "pivot from [REDACTED:internal-address] to the C2" or (
        address == "::ffff:10.0.0.1"  # only its IPv4 part is matched; that part is the secret
        and redact_text(text, hits) == "pivot from ::ffff:[REDACTED:internal-address] to the C2"
    )


@pytest.mark.parametrize(
    "address",
    [
        "192.0.2.1",  # TEST-NET-1
        "198.51.100.7",  # TEST-NET-2
        "203.0.113.99",  # TEST-NET-3
        "8.8.8.8",
        "172.32.0.1",  # just outside 172.16.0.0/12
        "11.0.0.1",
        "1.2.3.4",
        "2001:db8::1",  # documentation
        "2606:4700::1111",
    ],
)
def test_documentation_and_public_addresses_are_not_internal(address: str) -> None:
    assert not is_internal_address(address)
    assert _found(f"C2 at {address}") == []


def test_an_internal_address_is_found_with_its_port_prefix_length_or_a_trailing_colon() -> None:
    assert _found("10.1.2.3:8080") == [("internal-address", "10.1.2.3")]
    assert _found("route 192.168.0.0/16") == [("internal-address", "192.168.0.0")]
    assert _found("fd00::1: refused") == [("internal-address", "fd00::1")]


@pytest.mark.parametrize("text", ["at 12:30:45", "mac 00:1a:2b:3c:4d:5e", "v10.0.0.1"])
def test_clock_times_mac_addresses_and_prefixed_numbers_are_not_addresses(text: str) -> None:
    assert _found(text) == []


def test_a_version_string_inside_ten_slash_eight_is_flagged_erring_towards_redaction() -> None:
    # "10.0.0.1" in prose cannot be told from an address; redacting it costs little.
    assert _found("upgrade to 10.0.0.1") == [("internal-address", "10.0.0.1")]


# -- internal host names -------------------------------------------------------------------


@pytest.mark.parametrize("domain", DEFAULT_INTERNAL_DOMAINS)
def test_host_names_under_each_default_internal_domain_are_found(domain: str) -> None:
    host = f"fs01.{domain}"
    assert _found(f"copied to {host}, then") == [("internal-hostname", host)]


@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("http://intranet.CORP/login", "intranet.CORP"),
        ("\\\\dc01.ad.acme.internal\\share", "dc01.ad.acme.internal"),
        ("printer.home.arpa.", "printer.home.arpa"),
    ],
)
def test_internal_host_names_are_found_in_urls_and_paths(text: str, host: str) -> None:
    assert _found(text) == [("internal-hostname", host)]


@pytest.mark.parametrize(
    "text",
    ["corp.example.com", "www.corp.com", "evil.example", "local", "the lan party", "x.locale"],
)
def test_public_names_that_merely_contain_an_internal_word_are_not_internal(text: str) -> None:
    assert _found(text) == []


def test_internal_domains_come_from_the_policy() -> None:
    detectors = Detectors(["acme.lan", ".Secret."])
    assert _found("at db.acme.lan and vault.secret", detectors) == [
        ("internal-hostname", "db.acme.lan"),
        ("internal-hostname", "vault.secret"),
    ]
    assert _found("fs01.corp", detectors) == []
    assert _found("fs01.corp", Detectors([])) == []


# -- whole objects -------------------------------------------------------------------------


def test_the_name_of_an_individual_identity_is_a_person_name_hit_as_a_whole() -> None:
    person = {
        "type": "identity",
        "id": "identity--1",
        "identity_class": "individual",
        "name": "Jane Roe +44 20 7946 0958",
    }
    assert DETECTORS.scan(person) == [Hit("person-name", "name", person["name"])]


def test_the_person_name_hit_does_not_depend_on_property_order() -> None:
    person = {
        "x_note": "n",
        "description": "reach her at jane@victim.example",
        "name": "Jane Roe +44 20 7946 0958",
        "type": "identity",
        "identity_class": "individual",
    }
    assert [h.detector for h in DETECTORS.scan(person) if h.path == "name"] == ["person-name"]


def test_organisation_names_are_not_person_names() -> None:
    org = {"type": "identity", "identity_class": "organization", "name": "Acme Bank"}
    assert DETECTORS.scan(org) == []


@pytest.mark.parametrize(
    ("obj", "shown"),
    [
        ({"type": "email-addr", "value": "ceo@victim.example"}, "ceo@victim.example"),
        ({"type": "user-account", "user_id": "1001", "account_login": "jdoe"}, "1001"),
        ({"type": "user-account", "account_login": "jdoe"}, "jdoe"),
    ],
)
def test_account_observables_are_account_hits_as_a_whole(obj: dict[str, Any], shown: str) -> None:
    assert DETECTORS.scan(obj)[0] == Hit("account", "", shown)


@pytest.mark.parametrize(
    ("obj", "detector"),
    [
        ({"type": "ipv4-addr", "value": "10.1.2.3"}, "internal-address"),
        ({"type": "ipv4-addr", "value": "10.0.0.0/8"}, "internal-address"),
        ({"type": "ipv6-addr", "value": "fe80::1"}, "internal-address"),
        ({"type": "domain-name", "value": "DC01.Corp"}, "internal-hostname"),
        ({"type": "url", "value": "http://fileserver.corp/x"}, "internal-hostname"),
        ({"type": "url", "value": "https://10.9.8.7:8443/a"}, "internal-address"),
    ],
)
def test_internal_observables_are_hits_on_their_whole_value(
    obj: dict[str, Any], detector: str
) -> None:
    assert DETECTORS.scan(obj) == [Hit(detector, "value", obj["value"])]


@pytest.mark.parametrize(
    "obj",
    [
        {"type": "ipv4-addr", "value": "198.51.100.7"},
        {"type": "domain-name", "value": "corp.example.com"},
        {"type": "url", "value": "http://evil.example/gate.php?id=203.0.113.5"},
    ],
)
def test_public_observables_are_not_hits(obj: dict[str, Any]) -> None:
    assert DETECTORS.scan(obj) == []


def test_every_custom_property_is_a_hit_and_what_is_inside_it_is_scanned_too() -> None:
    hits = DETECTORS.scan(_malware(x_score=5, x_contact={"who": "jane@victim.example"}))
    assert [(h.detector, h.path) for h in hits] == [
        ("custom-property", "x_score"),
        ("custom-property", "x_contact"),
        ("email", "x_contact.who"),
    ]
    assert hits[0].whole and hits[0].text == "5"


def test_nested_free_text_is_scanned_with_its_path() -> None:
    obj = _malware(
        labels=["ok", "call (555) 123-4567"],
        external_references=[{"source_name": "soc", "description": "by 10.0.0.7"}],
    )
    assert [(h.detector, h.path, h.start) for h in DETECTORS.scan(obj)] == [
        ("phone", "labels[1]", 5),
        ("internal-address", "external_references[0].description", 3),
    ]


def test_identifiers_timestamps_patterns_and_hashes_are_not_free_text() -> None:
    obj = {
        "type": "indicator",
        "id": "indicator--10.0.0.1",
        "created": "2026-01-01T00:00:00.000Z",
        "pattern": "[ipv4-addr:value = '10.0.0.1'] AND [email-addr:value = 'a@b.example']",
        "pattern_type": "stix",
        "created_by_ref": "identity--555-123-4567",
        "object_refs": ["x--192.168.1.1"],
        "external_references": [
            {"source_name": "x", "hashes": {"SHA-256": "10.0.0.1"}, "external_id": "ok"}
        ],
    }
    assert DETECTORS.scan(obj) == []


def test_a_hit_records_where_not_what_in_public() -> None:
    hit = Hit("email", "description", "j@x.example", 3, 14)
    assert hit.public() == {"detector": "email", "path": "description"}
    assert not hit.whole and Hit("account", "", "x").whole


# -- redaction -----------------------------------------------------------------------------


def _hit(detector: str, start: int, end: int) -> Hit:
    return Hit(detector, "description", "", start, end)


def test_redaction_replaces_each_span_by_its_marker() -> None:
    text = "mail j@x.example from 10.0.0.1"
    hits = DETECTORS.scan_text("description", text)
    assert redact_text(text, hits) == "mail [REDACTED:email] from [REDACTED:internal-address]"


def test_overlapping_spans_are_redacted_once_named_by_the_first() -> None:
    text = "0123456789abcdef"
    hits = [_hit("phone", 4, 10), _hit("email", 2, 6), _hit("internal-hostname", 8, 12)]
    assert redact_text(text, hits) == "01[REDACTED:email]cdef"


def test_a_span_inside_another_leaves_nothing_of_either() -> None:
    assert redact_text("abcdefgh", [_hit("email", 1, 7), _hit("phone", 2, 4)]) == (
        "a[REDACTED:email]h"
    )


def test_adjacent_spans_are_redacted_separately() -> None:
    assert redact_text("abcdef", [_hit("phone", 3, 6), _hit("email", 0, 3)]) == (
        "[REDACTED:email][REDACTED:phone]"
    )


def test_real_overlapping_detections_leave_no_fragment_behind() -> None:
    text = "see admin@fileserver.corp"
    hits = list(DETECTORS.scan_text("description", text))
    redacted = redact_text(text, hits)
    assert "fileserver" not in redacted and "admin" not in redacted


def test_redaction_without_spans_leaves_the_text_alone() -> None:
    assert redact_text("nothing here", []) == "nothing here"
    assert redact_text("whole", [Hit("account", "", "whole")]) == "whole"


def test_the_dotted_quad_shortcut_agrees_with_the_internal_networks() -> None:
    import ipaddress
    import random

    from hub.sharing.pii import _INTERNAL_V4, is_internal_address

    rng = random.Random(7)
    samples = [
        f"{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"
        for _ in range(20_000)
    ]
    samples += [
        "10.0.0.0",
        "9.255.255.255",
        "172.15.255.255",
        "172.16.0.0",
        "172.31.255.255",
        "172.32.0.0",
        "192.168.0.0",
        "192.169.0.0",
        "127.0.0.1",
        "169.254.1.1",
        "169.253.0.1",
        "192.168.001.010",
        "256.1.1.1",
        "010.000.000.001",
    ]
    for text in samples:
        parts = text.split(".")
        if any(int(p) > 255 for p in parts):
            assert not is_internal_address(text)
            continue
        address = ipaddress.ip_address(".".join(str(int(p)) for p in parts))
        assert is_internal_address(text) == any(address in net for net in _INTERNAL_V4), text


# -- strings remembered as clean ----------------------------------------------------------

_TEXTS = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "phishing",
                "call +44 20 7946 0958",
                "ops@victim.example",
                "10.1.2.3",
                "host db1.corp.local",
                "Seen 12 times",
                "203.0.113.7",
            ]
        ),
        st.text(alphabet="abc 0123456789.@:+-", max_size=30),
    ),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_TEXTS, min_size=1, max_size=8))
def test_remembering_clean_strings_never_changes_what_is_found(batches: list[list[str]]) -> None:
    """A detector that remembers strings without hits finds, object after object, exactly
    what a fresh one finds in each object alone."""
    remembering = Detectors(DEFAULT_INTERNAL_DOMAINS)
    for texts in batches:
        obj = _malware(description=" ".join(texts), labels=texts, aliases=list(reversed(texts)))
        assert remembering.scan(obj) == Detectors(DEFAULT_INTERNAL_DOMAINS).scan(obj)


def test_a_string_seen_clean_in_one_object_is_still_found_where_it_is_not_clean() -> None:
    detectors = Detectors(DEFAULT_INTERNAL_DOMAINS)
    assert detectors.scan(_malware(labels=["phishing"])) == []
    hits = detectors.scan(_malware(labels=["phishing", "ops@victim.example"]))
    assert [(h.detector, h.path) for h in hits] == [("email", "labels[1]")]
