"""CSV and plain-text lists become STIX 2.1 indicators that every validator accepts."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import subprocess
import sys
import uuid
from functools import cache
from ipaddress import IPv4Address, IPv6Address, ip_network
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import stix2
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.provisional import domains
from stix2patterns.validator import run_validator

from hub.stix.indicators import (
    INDICATOR_NAMESPACE,
    TLP_MARKING_IDS,
    Conversion,
    RowError,
    convert_csv,
    convert_text,
    keep_history,
    tlp_marking_id,
)
from hub.stix.objects import version_key
from hub.stix.timestamps import parse_us
from hub.stix.validation import ObjectValidator
from tests.unit.stix.test_purity import FORBIDDEN

NOW = "2026-06-01T12:00:00.000Z"
SUBMITTER = "identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
SHA512 = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce" * 2
# Spelled out from the OASIS TLP 2.0 extension (cti-stix-common-objects, tlp-2.0 schema).
OASIS_TLP2 = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}


# --- the oracles ---------------------------------------------------------------------------------


@cache
def oasis_indicator_schema() -> Any:
    spec = importlib.util.find_spec("stix2validator")
    assert spec is not None and spec.submodule_search_locations
    root = Path(next(iter(spec.submodule_search_locations))) / "schemas-2.1" / "schemas"
    schemas = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(root.rglob("*.json"))]
    registry = jsonschema_rs.Registry([(schema["$id"], schema) for schema in schemas])
    indicator = json.loads((root / "sdos" / "indicator.json").read_text(encoding="utf-8"))
    return jsonschema_rs.validator_for(indicator, registry=registry)


@cache
def hub_validator() -> ObjectValidator:
    return ObjectValidator()


def assert_valid(obj: dict[str, Any]) -> None:
    """Every check an indicator must pass: stix2, stix2-patterns, the hub, the OASIS schema."""
    stix2.parse(obj, allow_custom=False)
    assert run_validator(obj["pattern"], stix_version="2.1") == []
    version_key(obj)
    schema_errors = [e.message for e in oasis_indicator_schema().iter_errors(obj)]
    assert schema_errors == []
    assert hub_validator().problems(obj, parse_us(NOW)) == []


def csv_text(
    *rows: list[str] | tuple[str, ...], header: tuple[str, ...] = ("type", "value")
) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def convert(text: str, **options: Any) -> Conversion:
    options.setdefault("submitter_ref", None)
    return convert_csv(text, now=NOW, **options)


def one(kind: str, value: str, **columns: str) -> dict[str, Any]:
    """The single valid indicator a one-row CSV makes."""
    header = ("type", "value", *columns)
    result = convert(csv_text((kind, value, *columns.values()), header=header))
    assert result.errors == []
    [obj] = result.objects
    assert_valid(obj)
    return obj


# --- one test per indicator type ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "pattern", "name"),
    [
        ("ipv4", "198.51.100.7", "[ipv4-addr:value = '198.51.100.7']", "IPv4 address 198.51.100.7"),
        (
            "ipv6",
            "2001:DB8:0:0::7",
            "[ipv6-addr:value = '2001:db8::7']",
            "IPv6 address 2001:db8::7",
        ),
        ("domain", "Evil.Example.COM.", "[domain-name:value = 'evil.example.com']", None),
        (
            "url",
            "HTTPS://Evil.Example/Path?q=1",
            "[url:value = 'https://evil.example/Path?q=1']",
            None,
        ),
        (
            "email",
            "Mallory@Evil.Example",
            "[email-message:from_ref.value = 'Mallory@evil.example']",
            None,
        ),
        ("md5", MD5.upper(), f"[file:hashes.MD5 = '{MD5}']", f"MD5 hash {MD5}"),
        ("sha1", SHA1, f"[file:hashes.'SHA-1' = '{SHA1}']", f"SHA-1 hash {SHA1}"),
        ("sha256", SHA256, f"[file:hashes.'SHA-256' = '{SHA256}']", f"SHA-256 hash {SHA256}"),
        ("sha512", SHA512, f"[file:hashes.'SHA-512' = '{SHA512}']", None),
    ],
)
def test_each_type_makes_exactly_its_pattern(
    kind: str, value: str, pattern: str, name: str | None
) -> None:
    obj = one(kind, value)
    assert obj["pattern"] == pattern
    if name is not None:
        assert obj["name"] == name


def test_an_indicator_carries_every_required_property() -> None:
    obj = one("ipv4", "198.51.100.7")
    assert obj == {
        "type": "indicator",
        "spec_version": "2.1",
        "id": obj["id"],
        "created": NOW,
        "modified": NOW,
        "name": "IPv4 address 198.51.100.7",
        "indicator_types": ["malicious-activity"],
        "pattern": "[ipv4-addr:value = '198.51.100.7']",
        "pattern_type": "stix",
        "pattern_version": "2.1",
        "valid_from": NOW,
    }


@pytest.mark.parametrize(
    ("alias", "value", "prefix"),
    [
        ("IP", "198.51.100.7", "[ipv4-addr:"),
        ("ip", "2001:db8::1", "[ipv6-addr:"),
        ("IPv4-Addr", "198.51.100.7", "[ipv4-addr:"),
        ("ipv6_addr", "2001:db8::1", "[ipv6-addr:"),
        ("domain-name", "evil.example", "[domain-name:"),
        ("Domain Name", "evil.example", "[domain-name:"),
        ("hostname", "evil.example", "[domain-name:"),
        ("fqdn", "evil.example", "[domain-name:"),
        ("URI", "http://evil.example/", "[url:"),
        ("email-src", "a@evil.example", "[email-message:from_ref.value"),
        ("email-sender", "a@evil.example", "[email-message:from_ref.value"),
        ("Email Sender", "a@evil.example", "[email-message:from_ref.value"),
        ("email-from", "a@evil.example", "[email-message:from_ref.value"),
        ("SHA-1", SHA1, "[file:hashes.'SHA-1'"),
        ("SHA_256", SHA256, "[file:hashes.'SHA-256'"),
        ("sha-512", SHA512, "[file:hashes.'SHA-512'"),
        ("hash", MD5, "[file:hashes.MD5"),
        ("file-hash", SHA256, "[file:hashes.'SHA-256'"),
    ],
)
def test_type_aliases_are_case_insensitive(alias: str, value: str, prefix: str) -> None:
    assert one(alias, value)["pattern"].startswith(prefix)


# --- addresses, domains, URLs ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "expected", "name"),
    [
        ("ipv4", "203.0.113.0/24", "203.0.113.0/24", "IPv4 network 203.0.113.0/24"),
        ("ip", "10.0.0.0/8", "10.0.0.0/8", "IPv4 network 10.0.0.0/8"),
        ("ipv4", "198.51.100.7/32", "198.51.100.7", "IPv4 address 198.51.100.7"),
        ("ipv6", "2001:DB8::/32", "2001:db8::/32", "IPv6 network 2001:db8::/32"),
        ("ipv6", "2001:db8::1/128", "2001:db8::1", "IPv6 address 2001:db8::1"),
    ],
)
def test_cidr_networks(kind: str, value: str, expected: str, name: str) -> None:
    obj = one(kind, value)
    assert obj["pattern"].endswith(f":value = '{expected}']")
    assert obj["name"] == name


def test_a_network_address_equal_to_an_address_gets_the_same_id() -> None:
    assert one("ipv4", "198.51.100.7/32")["id"] == one("ipv4", "198.51.100.7")["id"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("münchen.de", "xn--mnchen-3ya.de"),
        ("MÜNCHEN.DE", "xn--mnchen-3ya.de"),
        ("faß.de", "xn--fa-hia.de"),  # IDNA 2008 / browsers, not IDNA 2003's fass.de
        ("例え。テスト", "xn--r8jz45g.xn--zckzah"),  # ideographic full stop is a dot
        ("xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
        ("bücher.example.xn--p1ai", "xn--bcher-kva.example.xn--p1ai"),
        ("under_score.example", "under_score.example"),
    ],
)
def test_international_domains_are_punycode(value: str, expected: str) -> None:
    obj = one("domain", value)
    assert obj["pattern"] == f"[domain-name:value = '{expected}']"


def test_an_idn_name_shows_the_unicode_form_too() -> None:
    assert one("domain", "münchen.de")["name"] == "Domain name xn--mnchen-3ya.de (münchen.de)"


def test_an_idn_domain_and_its_punycode_are_one_indicator() -> None:
    assert one("domain", "münchen.de")["id"] == one("domain", "xn--mnchen-3ya.de")["id"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://münchen.de/straße?q=ü", "http://xn--mnchen-3ya.de/stra%C3%9Fe?q=%C3%BC"),
        ("http://user:pw@Evil.Example:8080/a", "http://user:pw@evil.example:8080/a"),
        ("http://[2001:DB8::1]/x", "http://[2001:db8::1]/x"),
        ("http://198.51.100.7:80/x#frag", "http://198.51.100.7:80/x#frag"),
        ("ftp://files.evil.example/a%20b", "ftp://files.evil.example/a%20b"),
    ],
)
def test_urls_are_normalised(value: str, expected: str) -> None:
    assert one("url", value)["pattern"] == f"[url:value = '{expected}']"


@pytest.mark.parametrize(
    ("kind", "value", "pattern"),
    [
        ("url", "http://evil.example/it's", r"[url:value = 'http://evil.example/it\'s']"),
        ("url", "http://evil.example/a\\b", r"[url:value = 'http://evil.example/a\\b']"),
        (
            "url",
            "http://evil.example/?q=\\'x'\\\\",
            r"[url:value = 'http://evil.example/?q=\\\'x\'\\\\']",
        ),
        (
            "email",
            "o'brien@evil.example",
            r"[email-message:from_ref.value = 'o\'brien@evil.example']",
        ),
    ],
)
def test_quotes_and_backslashes_are_escaped(kind: str, value: str, pattern: str) -> None:
    assert one(kind, value)["pattern"] == pattern


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("ipv4", "198.51.100[.]7", "[ipv4-addr:value = '198.51.100.7']"),
        ("domain", "evil[.]example", "[domain-name:value = 'evil.example']"),
        ("domain", "evil[dot]example", "[domain-name:value = 'evil.example']"),
        ("url", "hxxps[:]//evil[.]example/x", "[url:value = 'https://evil.example/x']"),
        ("url", "hXXp://evil{.}example/x", "[url:value = 'http://evil.example/x']"),
        ("url", "fxp[://]evil.example/x", "[url:value = 'ftp://evil.example/x']"),
        ("email", "a[@]evil.example", "[email-message:from_ref.value = 'a@evil.example']"),
        ("email", "a[at]evil.example", "[email-message:from_ref.value = 'a@evil.example']"),
    ],
)
def test_defanged_values_are_refanged(kind: str, value: str, expected: str) -> None:
    assert one(kind, value)["pattern"] == expected


# --- the optional columns ------------------------------------------------------------------------


def test_optional_columns_fill_the_indicator() -> None:
    obj = one(
        "ipv4",
        "198.51.100.7",
        tlp="amber",
        valid_from="2026-05-01",
        valid_until="2026-12-31T23:00:00+02:00",
        confidence="85",
        name="C2 of Trickster",
        description="Seen beaconing, it's noisy",
        labels="c2; botnet ;;c2",
    )
    assert obj["valid_from"] == "2026-05-01T00:00:00.000Z"
    assert obj["valid_until"] == "2026-12-31T21:00:00.000Z"
    assert obj["confidence"] == 85
    assert obj["name"] == "C2 of Trickster"
    assert obj["description"] == "Seen beaconing, it's noisy"
    assert obj["labels"] == ["c2", "botnet"]
    assert obj["object_marking_refs"] == [OASIS_TLP2["amber"]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-07-01", "2026-07-01T00:00:00.000Z"),
        ("2026-07-01T10:20:30Z", "2026-07-01T10:20:30.000Z"),
        ("2026-07-01 10:20:30", "2026-07-01T10:20:30.000Z"),  # no offset: UTC
        ("2026-07-01T10:20", "2026-07-01T10:20:00.000Z"),
        ("2026-07-01T10:20:30.123987654Z", "2026-07-01T10:20:30.123Z"),  # cut, not rounded
        ("2026-07-01T01:00:00-0230", "2026-07-01T03:30:00.000Z"),
        ("2026-07-01t10:20:30z", "2026-07-01T10:20:30.000Z"),
    ],
)
def test_valid_until_accepts_dates_and_timestamps(text: str, expected: str) -> None:
    assert one("domain", "evil.example", valid_until=text)["valid_until"] == expected


@pytest.mark.parametrize("confidence", ["0", "100", " 42 "])
def test_confidence_bounds(confidence: str) -> None:
    assert one("md5", MD5, confidence=confidence)["confidence"] == int(confidence)


def test_column_names_are_trimmed_and_case_insensitive() -> None:
    header = (" TYPE ", "Value", "TLP", "Valid Until", "valid-from", "Labels")
    text = csv_text(("ipv4", "198.51.100.7", "red", "2027-01-01", "2026-01-01", "x"), header=header)
    [obj] = convert(text).objects
    assert obj["valid_until"] == "2027-01-01T00:00:00.000Z"
    assert obj["valid_from"] == "2026-01-01T00:00:00.000Z"
    assert obj["object_marking_refs"] == [OASIS_TLP2["red"]]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_read_from_the_header(delimiter: str) -> None:
    text = delimiter.join(["Type", "Value", "labels"]) + "\n"
    text += delimiter.join(["url", "http://evil.example/a", "x"]) + "\n"
    result = convert(text)
    assert result.errors == []
    assert result.objects[0]["pattern"] == "[url:value = 'http://evil.example/a']"
    assert result.objects[0]["labels"] == ["x"]


def test_quoted_cells_and_crlf_line_ends() -> None:
    text = 'type,value,description\r\nurl,"http://evil.example/?a=1,2","said ""hi"""\r\n'
    [obj] = convert(text).objects
    assert obj["pattern"] == "[url:value = 'http://evil.example/?a=1,2']"
    assert obj["description"] == 'said "hi"'


def test_a_utf8_bom_is_accepted() -> None:
    result = convert("\ufeff" + csv_text(("domain", "evil.example")))
    assert result.errors == []
    assert len(result.objects) == 1
    text = convert_text("\ufeffevil.example\n", submitter_ref=None, now=NOW)
    assert [o["pattern"] for o in text.objects] == ["[domain-name:value = 'evil.example']"]


def test_comments_and_blank_lines_before_and_among_rows() -> None:
    text = "# exported by SOC\n\ntype,value\n# a comment\n\nipv4,198.51.100.7\n,\n"
    result = convert(text)
    assert result.errors == []
    assert len(result.objects) == 1


# --- TLP -----------------------------------------------------------------------------------------


def test_the_tlp_table_is_the_oasis_tlp2_one() -> None:
    assert dict(TLP_MARKING_IDS) == OASIS_TLP2


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("clear", "clear"),
        ("white", "clear"),
        ("TLP:WHITE", "clear"),
        ("Green", "green"),
        ("tlp:amber", "amber"),
        ("AMBER+STRICT", "amber+strict"),
        ("amber strict", "amber+strict"),
        ("TLP: amber_strict", "amber+strict"),
        (" red ", "red"),
    ],
)
def test_tlp_levels_map_to_tlp2_markings(text: str, level: str) -> None:
    assert tlp_marking_id(text) == OASIS_TLP2[level]
    assert one("ipv4", "198.51.100.7", tlp=text)["object_marking_refs"] == [OASIS_TLP2[level]]


def test_the_default_tlp_applies_where_the_row_gives_none() -> None:
    text = csv_text(("md5", MD5, ""), ("sha1", SHA1, "red"), header=("type", "value", "tlp"))
    first, second = convert(text, default_tlp="green").objects
    assert first["object_marking_refs"] == [OASIS_TLP2["green"]]
    assert second["object_marking_refs"] == [OASIS_TLP2["red"]]
    plain = convert_text(MD5, submitter_ref=None, now=NOW, default_tlp="amber+strict")
    assert plain.objects[0]["object_marking_refs"] == [OASIS_TLP2["amber+strict"]]


def test_without_any_tlp_no_marking_is_invented() -> None:
    assert "object_marking_refs" not in one("ipv4", "198.51.100.7")


# --- ids -----------------------------------------------------------------------------------------


def test_ids_are_deterministic_across_sends() -> None:
    text = csv_text(("ipv4", "198.51.100.7"), ("domain", "evil.example"))
    first = convert_csv(text, submitter_ref=SUBMITTER, now=NOW)
    later = convert_csv(text, submitter_ref=SUBMITTER, now="2026-07-01T00:00:00.000Z")
    assert [o["id"] for o in first.objects] == [o["id"] for o in later.objects]
    assert later.objects[0]["modified"] > first.objects[0]["modified"]


def test_ids_follow_the_documented_uuid5() -> None:
    obj = convert_csv(csv_text(("ip", "198.51.100.7")), submitter_ref=SUBMITTER, now=NOW).objects[0]
    name = json.dumps([SUBMITTER, "ipv4", "198.51.100.7"], ensure_ascii=False)
    assert obj["id"] == f"indicator--{uuid.uuid5(INDICATOR_NAMESPACE, name)}"
    assert obj["created_by_ref"] == SUBMITTER
    assert uuid.UUID(obj["id"].split("--")[1]).version == 5


def test_ids_depend_on_the_submitter_type_and_normalised_value() -> None:
    text = csv_text(("domain", "Evil.Example."))
    mine = convert_csv(text, submitter_ref=SUBMITTER, now=NOW).objects[0]["id"]
    anonymous = convert(text).objects[0]["id"]
    other = "identity--0b6e6e55-8b4a-4b8e-9b1c-2f1e4f0c8a11"
    theirs = convert_csv(text, submitter_ref=other, now=NOW).objects[0]["id"]
    assert len({mine, anonymous, theirs}) == 3
    assert convert(csv_text(("hostname", "evil.example"))).objects[0]["id"] == anonymous
    assert one("url", "http://evil.example/")["id"] != one("domain", "evil.example")["id"]


def test_now_is_cut_to_milliseconds() -> None:
    result = convert_csv(
        csv_text(("md5", MD5)), submitter_ref=None, now="2026-06-01T12:00:00.123999Z"
    )
    assert result.objects[0]["created"] == "2026-06-01T12:00:00.123Z"
    assert result.objects[0]["valid_from"] == "2026-06-01T12:00:00.123Z"
    seconds = convert_csv(csv_text(("md5", MD5)), submitter_ref=None, now="2026-06-01T12:00:00Z")
    assert seconds.objects[0]["modified"] == "2026-06-01T12:00:00.000Z"


@pytest.mark.parametrize(
    "options",
    [
        {"submitter_ref": None, "now": "yesterday"},
        {"submitter_ref": "identity--nope", "now": NOW},
        {"submitter_ref": "malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "now": NOW},
        {"submitter_ref": None, "now": NOW, "default_tlp": "purple"},
    ],
)
def test_bad_arguments_are_the_callers_bug(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        convert_csv("type,value\n", **options)
    with pytest.raises(ValueError, match=r"\S"):
        convert_text("", **options)


# --- duplicates ----------------------------------------------------------------------------------


def test_identical_rows_are_kept_once() -> None:
    text = csv_text(("ipv4", "198.51.100.7"), ("ip", "198.51.100.7/32"), ("ipv4", " 198.51.100.7 "))
    result = convert(text)
    assert result.errors == []
    assert len(result.objects) == 1


def test_a_duplicate_that_says_something_else_is_reported() -> None:
    header = ("type", "value", "tlp")
    text = csv_text(
        ("domain", "evil.example", "green"), ("domain", "EVIL.example", "red"), header=header
    )
    result = convert(text)
    [kept] = result.objects
    assert kept["object_marking_refs"] == [OASIS_TLP2["green"]]
    assert result.errors == [
        RowError(
            3,
            None,
            "EVIL.example",
            "the same indicator as line 2, which was kept; this line differs in object_marking_refs",
        )
    ]


def test_the_first_valid_row_of_a_duplicate_set_is_kept() -> None:
    header = ("type", "value", "confidence")
    text = csv_text(("md5", MD5, "999"), ("md5", MD5, "50"), header=header)
    result = convert(text)
    assert [e.line for e in result.errors] == [2]
    assert result.objects[0]["confidence"] == 50


# --- row errors ----------------------------------------------------------------------------------

ROW_ERRORS = [
    # (type, value, extra columns, column at fault, message fragment)
    ("ipv4", "", {}, "value", "the value is empty"),
    ("", "198.51.100.7", {}, "type", "the type is empty"),
    ("ipv5", "198.51.100.7", {}, "type", "unknown type; use ipv4, ipv6"),
    ("ipv4", "198.51.100.300", {}, "value", "not an IPv4 address or CIDR network"),
    ("ipv4", "010.1.1.1", {}, "value", "not an IPv4 address"),
    ("ipv4", "2001:db8::1", {}, "value", "an IPv6 value, not IPv4: use type ipv6"),
    ("ipv6", "198.51.100.7", {}, "value", "an IPv4 value, not IPv6: use type ipv4"),
    ("ipv6", "2001:db8:::1", {}, "value", "not an IPv6 address"),
    ("ipv6", "fe80::1%eth0", {}, "value", "zone index"),
    (
        "ipv4",
        "198.51.100.7/24",
        {},
        "value",
        "host bits are set after the prefix; did you mean 198.51.100.0/24?",
    ),
    ("ipv4", "10.0.0.0/33", {}, "value", "not an IPv4 address or CIDR network"),
    ("ipv4", "evil.example", {}, "value", "(type domain fits this value)"),
    ("domain", "localhost", {}, "value", "at least two labels"),
    ("domain", "evil..example", {}, "value", "empty label"),
    ("domain", "-evil.example", {}, "value", "starts or ends with a hyphen"),
    ("domain", "ev!l.example", {}, "value", "may hold only letters, digits"),
    ("domain", "ev il.example", {}, "value", "may hold only letters, digits"),
    ("domain", "*.evil.example", {}, "value", "wildcards are not allowed"),
    ("domain", "evil.123", {}, "value", "must be a top-level domain"),
    ("domain", "xn--zz.example", {}, "value", "not valid Punycode"),
    ("domain", "xn--a.example", {}, "value", "not valid Punycode"),  # decodes to a control char
    ("domain", "a" * 64 + ".example", {}, "value", "longer than 63 characters"),
    ("domain", ".".join(["a" * 60] * 5), {}, "value", "at most 253 characters"),
    ("domain", "évil☃.example", {}, "value", "cannot appear in a domain name"),
    ("domain", "http://evil.example/", {}, "value", "(type url fits this value)"),
    ("url", "evil.example/path", {}, "value", "needs a scheme and a host"),
    ("url", "mailto:a@evil.example", {}, "value", "needs a scheme and a host"),
    ("url", "http://evil.example/a b", {}, "value", "cannot hold spaces or control characters"),
    ("url", "http://evil.example:99999/", {}, "value", "not a valid URL"),
    ("url", "http://[2001:db8::1/", {}, "value", "not a valid URL"),
    ("url", "http://300.1.1.1/", {}, "value", "host is not a valid IPv4 address"),
    ("url", "http://evil/", {}, "value", "at least two labels"),
    ("email", "evil.example", {}, "value", "not an email address"),
    ("email", "a..b@evil.example", {}, "value", "leading, trailing or double dot"),
    ("email", '"a b"@evil.example', {}, "value", "no quoted local parts"),
    ("email", "a(b)@evil.example", {}, "value", "cannot appear before '@'"),
    ("email", "a@evil", {}, "value", "after '@': a domain name needs at least two labels"),
    ("email", "a" * 65 + "@evil.example", {}, "value", "longer than 64 characters"),
    ("md5", "z" * 32, {}, "value", "hexadecimal digits only"),
    ("md5", SHA1, {}, "value", "MD5 hashes have 32 hex digits, not 40 (type sha1 fits"),
    ("sha256", MD5, {}, "value", "SHA-256 hashes have 64 hex digits, not 32"),
    ("hash", "abc", {}, "value", "3 hex digits is not an MD5 (32)"),
    ("ipv4", "198.51.100.7", {"tlp": "purple"}, "tlp", "unknown TLP level"),
    ("ipv4", "198.51.100.7", {"confidence": "high"}, "confidence", "whole number from 0 to 100"),
    ("ipv4", "198.51.100.7", {"confidence": "101"}, "confidence", "whole number from 0 to 100"),
    ("ipv4", "198.51.100.7", {"confidence": "-1"}, "confidence", "whole number from 0 to 100"),
    ("ipv4", "198.51.100.7", {"confidence": "50.5"}, "confidence", "whole number from 0 to 100"),
    ("ipv4", "198.51.100.7", {"valid_until": "next week"}, "valid_until", "expected a date"),
    ("ipv4", "198.51.100.7", {"valid_until": "2026-02-30"}, "valid_until", "not a real date"),
    ("ipv4", "198.51.100.7", {"valid_until": "20261231"}, "valid_until", "expected a date"),
    ("ipv4", "198.51.100.7", {"valid_from": "2026-13-01"}, "valid_from", "not a real date"),
    ("ipv4", "198.51.100.7", {"valid_until": "2026-06-01T11:00:00Z"}, "valid_until", "later than"),
    (
        "ipv4",
        "198.51.100.7",
        {"valid_from": "2026-09-01", "valid_until": "2026-09-01"},
        "valid_until",
        "must be later than valid_from (2026-09-01T00:00:00.000Z)",
    ),
    ("ipv4", "198.51.\n100.7", {}, "value", "spans several lines (a quote left open?)"),
]


@pytest.mark.parametrize(
    ("kind", "value", "extra", "column", "message"),
    ROW_ERRORS,
    ids=[f"{r[0] or 'empty'}-{r[3]}-{i}" for i, r in enumerate(ROW_ERRORS)],
)
def test_each_bad_row_is_reported_and_the_rest_converted(
    kind: str, value: str, extra: dict[str, str], column: str, message: str
) -> None:
    header = ("type", "value", *extra)
    text = csv_text(
        ("md5", MD5, *[""] * len(extra)),
        (kind, value, *extra.values()),
        ("sha1", SHA1, *[""] * len(extra)),
        header=header,
    )
    result = convert(text)
    assert [o["pattern"].split(" = ")[0] for o in result.objects] == [
        "[file:hashes.MD5",
        "[file:hashes.'SHA-1'",
    ]
    [error] = result.errors
    assert error.line == 3
    assert error.column == column
    assert error.value == ({"type": kind, "value": value} | extra)[column].strip()
    assert message in error.message


def test_a_row_reports_all_its_problems() -> None:
    header = ("type", "value", "tlp", "confidence")
    result = convert(csv_text(("ipv4", "nope", "pink", "x"), header=header))
    assert result.objects == []
    assert [(e.line, e.column) for e in result.errors] == [
        (2, "value"),
        (2, "confidence"),
        (2, "tlp"),
    ]


def test_a_cell_under_no_column_is_a_row_error() -> None:
    text = "type,value\nipv4,198.51.100.7,oops\nipv4,198.51.100.8,\n"
    result = convert(text)
    assert result.errors == [RowError(2, None, "oops", "cell 3 is under no named column")]
    assert len(result.objects) == 1


def test_missing_trailing_cells_count_as_empty() -> None:
    text = "type,value,tlp,confidence\nipv4,198.51.100.7\n"
    assert convert(text).errors == []


def test_an_unclosed_quote_swallows_its_rows_into_one_error() -> None:
    text = 'type,value\nipv4,"198.51.100.7\nipv4,198.51.100.8\n'
    result = convert(text)
    assert result.objects == []
    [error] = result.errors
    assert error.line == 2
    assert "spans several lines" in error.message


def test_an_unreadable_line_is_reported_and_reading_goes_on() -> None:
    text = f'type,value\nurl,"http://evil.example/{"x" * 200_000}"\nmd5,{MD5}\n'
    result = convert(text)
    assert len(result.objects) == 1
    assert result.errors[0].line == 2
    assert "cannot be read" in result.errors[0].message


def test_line_numbers_count_physical_lines() -> None:
    text = "type,value,description\n\nmd5," + MD5 + ',"two\nlines"\n# note\nipv4,bad\n'
    assert [e.line for e in convert(text).errors] == [6]


# --- header errors -------------------------------------------------------------------------------


def test_an_unknown_column_refuses_the_file() -> None:
    text = "type,value,tlp_level\nipv4,198.51.100.7,red\n"
    result = convert(text)
    assert result.objects == []
    [error] = result.errors
    assert (error.line, error.column, error.value) == (1, "tlp_level", "tlp_level")
    assert "unknown column (the file is refused); use type, value, tlp" in error.message


def test_a_repeated_column_refuses_the_file() -> None:
    result = convert("type,value,TLP,tlp\nipv4,198.51.100.7,red,clear\n")
    assert result.objects == []
    assert result.errors == [RowError(1, "tlp", "tlp", "the column is named twice")]


def test_a_missing_header_is_named() -> None:
    result = convert("ipv4,198.51.100.7\nipv4,198.51.100.8\n")
    assert result.objects == []
    assert [(e.line, e.column) for e in result.errors] == [(1, "type"), (1, "value")]
    assert all("the first line must be a header" in e.message for e in result.errors)


def test_a_missing_value_column_is_named_on_the_header_line() -> None:
    result = convert("# export\ntype,indicator\nipv4,198.51.100.7\n")
    assert result.errors == [RowError(2, "value", "", "the header row has no 'value' column")]


def test_an_empty_csv_says_so() -> None:
    for text in ("", "\n\n", "# only a comment\n"):
        assert convert(text).errors == [
            RowError(1, None, "", "the CSV is empty: it needs a header row")
        ]


def test_a_header_alone_gives_nothing() -> None:
    assert convert("type,value\n") == Conversion([], [])


# --- plain text ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "pattern"),
    [
        ("198.51.100.7", "[ipv4-addr:value = '198.51.100.7']"),
        ("203.0.113.0/24", "[ipv4-addr:value = '203.0.113.0/24']"),
        ("2001:db8::1", "[ipv6-addr:value = '2001:db8::1']"),
        ("2001:DB8:0:0:0:0:0:1", "[ipv6-addr:value = '2001:db8::1']"),
        ("2001:db8::/48", "[ipv6-addr:value = '2001:db8::/48']"),
        ("Evil.Example", "[domain-name:value = 'evil.example']"),
        ("münchen.de", "[domain-name:value = 'xn--mnchen-3ya.de']"),
        ("deadbeef.example", "[domain-name:value = 'deadbeef.example']"),
        ("http://evil.example/x#frag", "[url:value = 'http://evil.example/x#frag']"),
        ("hxxp://evil[.]example/", "[url:value = 'http://evil.example/']"),
        ("mallory@evil.example", "[email-message:from_ref.value = 'mallory@evil.example']"),
        (MD5.upper(), f"[file:hashes.MD5 = '{MD5}']"),
        (SHA1, f"[file:hashes.'SHA-1' = '{SHA1}']"),
        (SHA256, f"[file:hashes.'SHA-256' = '{SHA256}']"),
        (SHA512, f"[file:hashes.'SHA-512' = '{SHA512}']"),
    ],
)
def test_plain_text_types_are_detected(line: str, pattern: str) -> None:
    result = convert_text(line, submitter_ref=None, now=NOW)
    assert result.errors == []
    [obj] = result.objects
    assert obj["pattern"] == pattern
    assert_valid(obj)


def test_plain_text_and_csv_give_the_same_object() -> None:
    from_text = convert_text("evil.example\n", submitter_ref=SUBMITTER, now=NOW).objects
    from_csv = convert_csv(csv_text(("domain", "evil.example")), submitter_ref=SUBMITTER, now=NOW)
    assert from_text == from_csv.objects


def test_plain_text_skips_comments_and_blank_lines() -> None:
    text = "# list of 2026-06-01\n\n  198.51.100.7   # C2\r\n\t\nhttp://evil.example/#top\n#x\n"
    result = convert_text(text, submitter_ref=None, now=NOW)
    assert result.errors == []
    assert [o["pattern"] for o in result.objects] == [
        "[ipv4-addr:value = '198.51.100.7']",
        "[url:value = 'http://evil.example/#top']",
    ]
    assert convert_text("", submitter_ref=None, now=NOW) == Conversion([], [])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("evil", "cannot tell the kind"),
        ("evil.example/path", "looks like a URL without a scheme"),
        ("ipv4,198.51.100.7", "send several columns as CSV"),
        ("198.51.100", "not an IPv4 address or CIDR network"),
        ("2001:db8::g", "cannot tell the kind"),
        ("abcdef", "6 hex digits is not an MD5"),
        ("a@b@evil.example", "no quoted local parts"),
        ("http://evil.example/a b", "cannot hold spaces"),
    ],
)
def test_plain_text_errors_name_the_line(line: str, message: str) -> None:
    text = f"198.51.100.7\n# comment\n{line}\n{MD5}\n"
    result = convert_text(text, submitter_ref=None, now=NOW)
    assert len(result.objects) == 2
    [error] = result.errors
    assert (error.line, error.column, error.value) == (3, None, line)
    assert message in error.message


def test_plain_text_duplicates_are_kept_once() -> None:
    result = convert_text(
        "evil.example\nEVIL.EXAMPLE.\nevil[.]example\n", submitter_ref=None, now=NOW
    )
    assert result.errors == []
    assert len(result.objects) == 1


# --- properties ----------------------------------------------------------------------------------

HEX = "0123456789abcdefABCDEF"
HASH_DIGITS = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}


def hashes(kind: str, digits: int) -> st.SearchStrategy[tuple[str, str, str]]:
    """(type, hex in mixed case, the lowercase form the pattern must hold)."""
    return st.text(HEX, min_size=digits, max_size=digits).map(lambda h: (kind, h, h.lower()))


def network_case(address: IPv4Address | IPv6Address, prefix: int) -> tuple[str, str, str]:
    """A CIDR value with its host bits cleared; a full-length prefix is the bare address."""
    network = ip_network(f"{address}/{prefix}", strict=False)
    expected = network.compressed if prefix < network.max_prefixlen else str(address.compressed)
    return f"ipv{address.version}", network.compressed, expected


VALUES = st.one_of(
    st.ip_addresses(v=4).map(lambda a: ("ipv4", str(a), str(a))),
    st.ip_addresses(v=6).map(lambda a: ("ipv6", str(a), a.compressed)),
    st.builds(network_case, st.ip_addresses(v=4), st.integers(0, 32)),
    st.builds(network_case, st.ip_addresses(v=6), st.integers(0, 128)),
    domains(max_length=253).map(lambda d: ("domain", d, d.lower())),
    *(hashes(kind, digits) for kind, digits in HASH_DIGITS.items()),
)
PATTERN_PREFIX = {
    "ipv4": "[ipv4-addr:value = ",
    "ipv6": "[ipv6-addr:value = ",
    "domain": "[domain-name:value = ",
    "md5": "[file:hashes.MD5 = ",
    "sha1": "[file:hashes.'SHA-1' = ",
    "sha256": "[file:hashes.'SHA-256' = ",
    "sha512": "[file:hashes.'SHA-512' = ",
}


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_generated_values_pass_every_validator(case: tuple[str, str, str]) -> None:
    kind, value, expected = case
    result = convert(csv_text((kind, value)))
    assert result.errors == []
    [obj] = result.objects
    assert obj["pattern"] == f"{PATTERN_PREFIX[kind]}'{expected}']"
    assert_valid(obj)
    # the same value as plain text is detected as the same indicator
    assert convert_text(value, submitter_ref=None, now=NOW).objects == [obj]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["ip", "domain", "url", "email", "hash", "md5"]),
    st.text(st.characters(codec="utf-8"), max_size=60),
)
def test_any_input_gives_valid_objects_or_errors(kind: str, value: str) -> None:
    for result in (
        convert(csv_text((kind, value))),
        convert_text(value, submitter_ref=None, now=NOW),
    ):
        for obj in result.objects:
            assert_valid(obj)
        for error in result.errors:
            assert error.line >= 1
            assert error.message


# --- purity --------------------------------------------------------------------------------------


def test_the_module_imports_nothing_impure() -> None:
    code = "import json, sys, hub.stix.indicators; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout)
    assert [m for m in loaded if m.split(".")[0] in FORBIDDEN or m in FORBIDDEN] == []
    assert "hub.stix.indicators" in loaded


# --- history: a list sent again -----------------------------------------------------------------


def _convert_at(text: str, now: str) -> Conversion:
    return convert_csv(text, submitter_ref=None, now=now, default_tlp=None)


def test_a_row_sent_again_is_the_stored_version() -> None:
    first = _convert_at("type,value\nipv4,198.51.100.7\n", "2026-01-01T00:00:00.000Z").objects[0]
    again = _convert_at("type,value\nipv4,198.51.100.7\n", "2026-02-01T00:00:00.000Z")
    assert again.objects[0]["created"] != first["created"]
    assert keep_history(again.objects[0], first, dated=False) == first


def test_a_changed_row_is_a_new_version_keeping_created_and_valid_from() -> None:
    first = _convert_at("type,value\nipv4,198.51.100.7\n", "2026-01-01T00:00:00.000Z").objects[0]
    changed = _convert_at(
        "type,value,confidence\nipv4,198.51.100.7,80\n", "2026-02-01T00:00:00.000Z"
    )
    new = keep_history(changed.objects[0], first, dated=False)
    assert new["confidence"] == 80
    assert (new["created"], new["valid_from"]) == (first["created"], first["valid_from"])
    assert new["modified"] == "2026-02-01T00:00:00.000Z"


def test_a_row_that_dates_valid_from_keeps_its_own() -> None:
    first = _convert_at("type,value\nipv4,198.51.100.7\n", "2026-01-01T00:00:00.000Z").objects[0]
    dated = _convert_at(
        "type,value,valid_from\nipv4,198.51.100.7,2026-01-15\n", "2026-02-01T00:00:00.000Z"
    )
    assert dated.dated == {dated.objects[0]["id"]}
    new = keep_history(dated.objects[0], first, dated=True)
    assert new["valid_from"] == "2026-01-15T00:00:00.000Z"
    assert new["created"] == first["created"]


def test_a_new_version_is_later_than_the_stored_one_even_if_the_clock_is_not() -> None:
    first = _convert_at("type,value\nipv4,198.51.100.7\n", "2026-03-01T00:00:00.000Z").objects[0]
    changed = _convert_at(
        "type,value,confidence\nipv4,198.51.100.7,80\n", "2026-02-01T00:00:00.000Z"
    )
    new = keep_history(changed.objects[0], first, dated=False)
    assert new["modified"] == "2026-03-01T00:00:00.001Z"


def test_nothing_stored_leaves_the_conversion_alone() -> None:
    made = _convert_at("type,value\nipv4,198.51.100.7\n", "2026-01-01T00:00:00.000Z").objects[0]
    assert keep_history(made, None, dated=False) is made


def test_a_revoked_indicator_stays_revoked_when_its_row_is_sent_again() -> None:
    first = _convert_at("type,value\nipv4,198.51.100.7\n", "2026-01-01T00:00:00.000Z").objects[0]
    revoked = {**first, "modified": "2026-01-02T00:00:00.000Z", "revoked": True}
    again = _convert_at("type,value\nipv4,198.51.100.7\n", "2026-02-01T00:00:00.000Z")
    assert keep_history(again.objects[0], revoked, dated=False) == revoked
