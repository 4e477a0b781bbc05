"""The sharing policy: which feed takes which TLP, when a submitter may be named, what each
personal-data detector does, and which properties are kept.

A policy is a plain value. It serialises to a canonical JSON document whose digest identifies
it; the hub stores each distinct document as a numbered policy version and every release names
the version that decided it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from hub.stix.markings import CONSENT_LEVELS, TLP_LEVELS

# Never released to a feed, whatever a policy says.
NEVER_RELEASED: Final = frozenset({"amber+strict", "red"})

ACTIONS: Final = ("redact", "hold", "allow")
UNKNOWN_MARKING_ACTIONS: Final = ("hold", "reject", "red")
IDENTITY_MODES: Final = ("consent", "never")

# Detector name -> what it finds. The order is the order hits are reported in.
DETECTORS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "email": "e-mail addresses in free text",
        "phone": "telephone numbers in free text",
        "person-name": "the name of an identity whose identity_class is individual",
        "account": "user-account and email-addr observables (the victim's accounts)",
        "internal-address": "RFC 1918 / loopback / link-local addresses in free text and URLs",
        "internal-hostname": "host names under an internal domain in free text and URLs",
        "custom-property": "custom x_ properties, whose meaning the hub cannot vet",
    }
)
DEFAULT_ACTIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "email": "redact",
        "phone": "redact",
        "person-name": "redact",
        "account": "hold",
        "internal-address": "redact",
        "internal-hostname": "redact",
        "custom-property": "redact",
    }
)
DEFAULT_INTERNAL_DOMAINS: Final = (
    "local",
    "localdomain",
    "lan",
    "internal",
    "intranet",
    "corp",
    "home.arpa",
)

_COMMON: Final = (
    "type",
    "spec_version",
    "id",
    "created",
    "modified",
    "created_by_ref",
    "revoked",
    "labels",
    "confidence",
    "lang",
    "external_references",
    "object_marking_refs",
    "granular_markings",
)
_SCO_COMMON: Final = ("type", "spec_version", "id", "object_marking_refs", "defanged")

# What the hub knows how to vet, per type; every other property is stripped (custom x_
# properties are the custom-property detector's business). A type not listed is held.
_DEFAULT_ALLOWED: Final[dict[str, tuple[str, ...]]] = {
    "attack-pattern": ("name", "description", "aliases", "kill_chain_phases"),
    "campaign": ("name", "description", "aliases", "first_seen", "last_seen", "objective"),
    "course-of-action": ("name", "description"),
    "grouping": ("name", "description", "context", "object_refs"),
    "identity": ("name", "description", "roles", "identity_class", "sectors"),
    "incident": ("name", "description", "kill_chain_phases"),
    "indicator": (
        "name",
        "description",
        "indicator_types",
        "pattern",
        "pattern_type",
        "pattern_version",
        "valid_from",
        "valid_until",
        "kill_chain_phases",
    ),
    "infrastructure": (
        "name",
        "description",
        "infrastructure_types",
        "aliases",
        "kill_chain_phases",
        "first_seen",
        "last_seen",
    ),
    "intrusion-set": (
        "name",
        "description",
        "aliases",
        "first_seen",
        "last_seen",
        "goals",
        "resource_level",
        "primary_motivation",
        "secondary_motivations",
    ),
    "location": (
        "name",
        "description",
        "latitude",
        "longitude",
        "precision",
        "region",
        "country",
        "administrative_area",
        "city",
    ),
    "malware": (
        "name",
        "description",
        "malware_types",
        "is_family",
        "aliases",
        "kill_chain_phases",
        "first_seen",
        "last_seen",
        "operating_system_refs",
        "architecture_execution_envs",
        "implementation_languages",
        "capabilities",
        "sample_refs",
    ),
    "malware-analysis": (
        "product",
        "version",
        "configuration_version",
        "modules",
        "analysis_engine_version",
        "analysis_definition_version",
        "submitted",
        "analysis_started",
        "analysis_ended",
        "result_name",
        "result",
        "analysis_sco_refs",
        "sample_ref",
    ),
    "note": ("abstract", "content", "authors", "object_refs"),
    "observed-data": ("first_observed", "last_observed", "number_observed", "object_refs"),
    "opinion": ("explanation", "authors", "opinion", "object_refs"),
    "report": ("name", "description", "report_types", "published", "object_refs"),
    "threat-actor": (
        "name",
        "description",
        "threat_actor_types",
        "aliases",
        "first_seen",
        "last_seen",
        "roles",
        "goals",
        "sophistication",
        "resource_level",
        "primary_motivation",
        "secondary_motivations",
        "personal_motivations",
    ),
    "tool": ("name", "description", "tool_types", "aliases", "kill_chain_phases", "tool_version"),
    "vulnerability": ("name", "description"),
    "relationship": (
        "relationship_type",
        "description",
        "source_ref",
        "target_ref",
        "start_time",
        "stop_time",
    ),
    "sighting": (
        "description",
        "first_seen",
        "last_seen",
        "count",
        "sighting_of_ref",
        "observed_data_refs",
        "where_sighted_refs",
        "summary",
    ),
    # Cyber-observables (their common properties differ).
    "artifact": ("mime_type", "payload_bin", "url", "hashes", "encryption_algorithm"),
    "autonomous-system": ("number", "name", "rir"),
    "directory": ("path", "path_enc", "ctime", "mtime", "atime", "contains_refs"),
    "domain-name": ("value", "resolves_to_refs"),
    "email-addr": ("value", "display_name", "belongs_to_ref"),
    "file": (
        "hashes",
        "size",
        "name",
        "name_enc",
        "magic_number_hex",
        "mime_type",
        "ctime",
        "mtime",
        "atime",
        "parent_directory_ref",
        "contains_refs",
        "content_ref",
    ),
    "ipv4-addr": ("value", "resolves_to_refs", "belongs_to_refs"),
    "ipv6-addr": ("value", "resolves_to_refs", "belongs_to_refs"),
    "mac-addr": ("value",),
    "mutex": ("name",),
    "network-traffic": (
        "start",
        "end",
        "is_active",
        "src_ref",
        "dst_ref",
        "src_port",
        "dst_port",
        "protocols",
        "src_byte_count",
        "dst_byte_count",
        "src_packets",
        "dst_packets",
    ),
    "software": ("name", "cpe", "swid", "languages", "vendor", "version"),
    "url": ("value",),
    "user-account": (
        "user_id",
        "credential",
        "account_login",
        "account_type",
        "display_name",
        "is_service_account",
        "is_privileged",
        "can_escalate_privs",
        "is_disabled",
        "account_created",
        "account_expires",
        "credential_last_changed",
        "account_first_login",
        "account_last_login",
    ),
    "windows-registry-key": ("key", "values", "modified_time", "number_of_subkeys"),
    "x509-certificate": (
        "is_self_signed",
        "hashes",
        "version",
        "serial_number",
        "signature_algorithm",
        "issuer",
        "validity_not_before",
        "validity_not_after",
        "subject",
        "subject_public_key_algorithm",
        "subject_public_key_modulus",
        "subject_public_key_exponent",
    ),
}
SCO_TYPES: Final = frozenset(
    {
        "artifact",
        "autonomous-system",
        "directory",
        "domain-name",
        "email-addr",
        "file",
        "ipv4-addr",
        "ipv6-addr",
        "mac-addr",
        "mutex",
        "network-traffic",
        "software",
        "url",
        "user-account",
        "windows-registry-key",
        "x509-certificate",
    }
)


def default_allowed_properties() -> dict[str, frozenset[str]]:
    """The documented default allow-list: common properties plus each type's own."""
    return {
        obj_type: frozenset((_SCO_COMMON if obj_type in SCO_TYPES else _COMMON) + own)
        for obj_type, own in _DEFAULT_ALLOWED.items()
    }


class PolicyError(ValueError):
    """A policy that cannot be applied; the message names the setting at fault."""


@dataclass(frozen=True, slots=True)
class FeedPolicy:
    """One audience: the feed collection `alias` and what it may receive."""

    alias: str
    tlp: frozenset[str]
    # "consent": the submitter is named where its consent allows; "never": always pseudonyms.
    identity: str = "consent"
    # Only government members read it: consent "government" names the submitter here.
    government: bool = False

    def __post_init__(self) -> None:
        bad = self.tlp - set(TLP_LEVELS)
        if bad:
            raise PolicyError(f"feed {self.alias}: unknown TLP level {sorted(bad)[0]!r}")
        barred = self.tlp & NEVER_RELEASED
        if barred:
            raise PolicyError(
                f"feed {self.alias}: TLP:{sorted(barred)[0].upper()} is never released to a feed"
            )
        if self.identity not in IDENTITY_MODES:
            raise PolicyError(f"feed {self.alias}: identity is 'consent' or 'never'")


@dataclass(frozen=True)
class Policy:
    feeds: tuple[FeedPolicy, ...] = ()
    default_tlp: str = "amber"
    unknown_marking: str = "hold"
    actions: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ACTIONS))
    internal_domains: tuple[str, ...] = DEFAULT_INTERNAL_DOMAINS
    allowed_properties: Mapping[str, frozenset[str]] = field(
        default_factory=default_allowed_properties
    )

    def __post_init__(self) -> None:
        if self.default_tlp not in TLP_LEVELS:
            raise PolicyError(f"default_tlp: {self.default_tlp!r} is not a TLP level")
        if self.unknown_marking not in UNKNOWN_MARKING_ACTIONS:
            raise PolicyError("unknown_marking: one of " + ", ".join(UNKNOWN_MARKING_ACTIONS))
        for name, action in self.actions.items():
            if name not in DETECTORS:
                raise PolicyError(f"detectors: no detector named {name!r}")
            if action not in ACTIONS:
                raise PolicyError(f"detectors.{name}: one of {', '.join(ACTIONS)}")
        missing = set(DETECTORS) - set(self.actions)
        if missing:
            raise PolicyError(f"detectors.{sorted(missing)[0]}: no action given")
        aliases = [feed.alias for feed in self.feeds]
        if len(aliases) != len(set(aliases)):
            raise PolicyError("feeds: an alias appears twice")

    def action(self, detector: str) -> str:
        return self.actions[detector]

    def to_document(self) -> dict[str, Any]:
        """The canonical JSON-able form (sorted), stored as a policy version."""
        return {
            "default_tlp": self.default_tlp,
            "unknown_marking": self.unknown_marking,
            "detectors": dict(sorted(self.actions.items())),
            "internal_domains": sorted(self.internal_domains),
            "allowed_properties": {
                obj_type: sorted(props)
                for obj_type, props in sorted(self.allowed_properties.items())
            },
            "feeds": [
                {
                    "alias": feed.alias,
                    "tlp": sorted(feed.tlp, key=TLP_LEVELS.index),
                    "identity": feed.identity,
                    "government": feed.government,
                }
                for feed in sorted(self.feeds, key=lambda f: f.alias)
            ],
        }

    def digest(self) -> str:
        """SHA-256 of the canonical document: equal policies have equal digests."""
        text = json.dumps(self.to_document(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Policy:
        """Rebuild a policy from `to_document()`'s form; PolicyError if it is not one."""
        try:
            feeds = tuple(_feed_from_document(feed) for feed in document.get("feeds", ()))
            return cls(
                feeds=feeds,
                default_tlp=str(document.get("default_tlp", "amber")),
                unknown_marking=str(document.get("unknown_marking", "hold")),
                actions={**DEFAULT_ACTIONS, **dict(document.get("detectors", {}))},
                internal_domains=tuple(document.get("internal_domains", DEFAULT_INTERNAL_DOMAINS)),
                allowed_properties={
                    str(t): frozenset(props)
                    for t, props in dict(document.get("allowed_properties", {})).items()
                }
                or default_allowed_properties(),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise PolicyError(f"not a policy document: {exc}") from None

    def feed(self, alias: str) -> FeedPolicy | None:
        for feed in self.feeds:
            if feed.alias == alias:
                return feed
        return None


def _feed_from_document(feed: Mapping[str, Any]) -> FeedPolicy:
    alias = str(feed["alias"])
    levels, government = feed["tlp"], feed.get("government", False)
    # Checked, not coerced: bool("false") is True, and frozenset("red") is {"r", "e", "d"}.
    if isinstance(levels, str) or not isinstance(levels, Iterable):
        raise PolicyError(f"feed {alias}: tlp is a list of TLP levels")
    if not isinstance(government, bool):
        raise PolicyError(f"feed {alias}: government is true or false")
    return FeedPolicy(alias, frozenset(levels), str(feed.get("identity", "consent")), government)


@dataclass(frozen=True, slots=True)
class Submitter:
    """The member that pushed an object, as the sharing rules see it."""

    member_id: str
    name: str
    kind: str = "industry"
    sector: str | None = None
    consent: str = "none"  # the member's default: everyone | government | none
    # Other strings that would identify it (short names, its domain); rewritten like its name.
    aliases: tuple[str, ...] = ()
    # Identity ids that stand for it in its submissions (its own identity objects).
    identity_ids: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.consent not in CONSENT_LEVELS:
            raise PolicyError(f"consent: one of {', '.join(CONSENT_LEVELS)}")

    def with_identities(self, ids: Iterable[str]) -> Submitter:
        extra = frozenset(ids) - self.identity_ids
        if not extra:
            return self
        return Submitter(
            self.member_id,
            self.name,
            self.kind,
            self.sector,
            self.consent,
            self.aliases,
            self.identity_ids | extra,
        )


# Keys found inside STIX properties (kill-chain phases, external references, hashes,
# granular markings): an alias inside one of them would have the key dropped too.
_NESTED_KEYS: Final = (
    "kill_chain_name",
    "phase_name",
    "source_name",
    "external_id",
    "url",
    "selectors",
    "marking_ref",
    "lang",
    "MD5",
    "SHA-1",
    "SHA-256",
    "SHA-512",
    "SHA3-256",
    "SHA3-512",
    "SSDEEP",
    "TLSH",
)


def _vocabulary() -> frozenset[str]:
    """Property names and type names, lower-cased, each also with '_' and '-' as spaces
    (which is how the rewrite reads a property name that might spell the submitter)."""
    words = set(_COMMON) | set(_SCO_COMMON) | set(_NESTED_KEYS) | set(_DEFAULT_ALLOWED)
    for own in _DEFAULT_ALLOWED.values():
        words.update(own)
    return frozenset(
        form
        for word in words
        for form in (word.lower(), word.lower().replace("_", " ").replace("-", " "))
    )


_VOCABULARY: Final = _vocabulary()
MIN_ALIAS: Final = 3  # shorter aliases would rewrite ordinary words


def alias_problem(alias: str) -> str | None:
    """Why `alias` cannot stand for a member, or None. Every alias is rewritten wherever it
    appears in that member's objects, in any case, and a property whose name contains it is
    dropped: so it must be long enough, hold a letter, and be part of no STIX property or
    type name (an alias "lab" would drop every object's labels)."""
    if not MIN_ALIAS <= len(alias) <= 200:
        return (
            f"alias {alias!r}: an alias is {MIN_ALIAS} to 200 characters "
            "(shorter ones would hide common words)"
        )
    if not any(c.isalpha() for c in alias):
        return f"alias {alias!r}: an alias needs a letter (digits alone would rewrite numbers)"
    folded = alias.lower()
    clash = sorted((w for w in _VOCABULARY if folded in w), key=lambda w: (len(w), w))
    if clash:
        return (
            f"alias {alias!r}: it is part of the STIX name {clash[0]!r}, which would be "
            "rewritten or dropped in every object of this member"
        )
    return None


# Without these a released object is no longer STIX 2.1 (the transform keeps nothing else).
REQUIRED_PROPERTIES: Final = ("type", "spec_version", "id", "created", "modified")
REQUIRED_SCO_PROPERTIES: Final = ("type", "id")
MAX_ALLOWED_PROPERTIES: Final = 300
# STIX 2.1: a property name starts with a letter and holds lowercase letters, digits and
# underscores.
_PROPERTY_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{1,249}$")


def required_properties(obj_type: str) -> tuple[str, ...]:
    return REQUIRED_SCO_PROPERTIES if obj_type in SCO_TYPES else REQUIRED_PROPERTIES


def allowed_list_problems(where: str, obj_type: str, names: Iterable[str]) -> list[str]:
    """What is wrong with a list of properties to keep for `obj_type` (empty: nothing)."""
    names = set(names)
    problems: list[str] = []
    bad = sorted(n for n in names if not _PROPERTY_NAME.match(n))
    if bad:
        problems.append(f"{where}: {', '.join(repr(n) for n in bad)} not a STIX property name")
    custom = sorted(n for n in names if n.startswith("x_"))
    if custom:
        problems.append(
            f"{where}: {', '.join(custom)}: custom x_ properties are kept or redacted by the "
            "custom-property detector, not listed"
        )
    missing = [n for n in required_properties(obj_type) if n not in names]
    if missing:
        problems.append(
            f"{where}: keep {', '.join(missing)} (every released {obj_type} needs "
            f"{', '.join(required_properties(obj_type))})"
        )
    if len(names) > MAX_ALLOWED_PROPERTIES:
        problems.append(f"{where}: at most {MAX_ALLOWED_PROPERTIES} properties")
    return problems
