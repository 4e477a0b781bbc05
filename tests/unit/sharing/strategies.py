"""Hypothesis strategies for the sharing rules: members, markings, policies and bundles.

Every generated marking carries what it *means* (its TLP level, its consent, or that the hub
cannot read it), written down here from the specifications rather than computed by
`hub.stix.markings`, so the property tests can check the sharing core against an independent
oracle. Names and aliases are built from a token that cannot occur by chance in STIX syntax
(ids, timestamps, vocabularies), so that finding one in a released object means a leak.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from hub.sharing.policy import ACTIONS, DETECTORS, FeedPolicy, Policy, Submitter
from hub.sharing.pseudonyms import PseudonymKey

T = TypeVar("T")

# One budget for every property test: CI has two cores and the whole unit suite stays fast.
# HUB_PROPERTY_EXAMPLES=2000 runs a deeper search (e.g. nightly, or after changing the rules).
PROPERTY = settings(
    max_examples=int(os.environ.get("HUB_PROPERTY_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

RANK = {"clear": 0, "green": 1, "amber": 2, "amber+strict": 3, "red": 4}
NARROW = {"everyone": 0, "government": 1, "none": 2}

# Written out from the specifications, not imported from hub.stix.markings.
TLP1 = {
    "clear": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",  # WHITE
    "green": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    "amber": "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    "red": "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
}
TLP2 = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
OPENCTI_AMBER_STRICT = "marking-definition--826578e1-40ad-459f-bc73-ede076f81f37"
HUB_CONSENT = {
    "everyone": "marking-definition--99476a26-d711-5518-bd3c-ce41768d3ca2",
    "government": "marking-definition--3e1bac1b-8101-5218-abc4-9f7e80ac5ec8",
    "none": "marking-definition--480f97db-79d7-55ea-9a1d-87dfe40f5ec4",
}
TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
CONSENT_EXTENSION = "extension-definition--b874297f-b271-4b3b-9d40-0d16ad9fe6bf"
BUILTIN_TLP = {**{v: k for k, v in TLP1.items()}, **{v: k for k, v in TLP2.items()}}
BUILTIN_TLP[OPENCTI_AMBER_STRICT] = "amber+strict"

CREATED = "2026-01-01T00:00:00.000Z"
NOW_US = 1_800_000_000_000_000  # 2027: every generated timestamp is in the past
FEED_ALIASES = ("public", "members", "government", "energy", "finance")
TLP_FOR_FEEDS = ("clear", "green", "amber")


def most_restrictive(levels: list[str]) -> str | None:
    return max(levels, key=RANK.__getitem__) if levels else None


def narrowest(consents: list[str]) -> str | None:
    return max(consents, key=NARROW.__getitem__) if consents else None


@dataclass(frozen=True)
class Marking:
    """One marking an object may reference, with what it means (the oracle)."""

    ref: str
    definitions: tuple[dict[str, Any], ...] = ()  # marking-definition objects in the bundle
    tlp: str | None = None
    consent: str | None = None
    unknown: bool = False  # the hub cannot read it: policy's unknown_marking applies


@dataclass
class Case:
    """A submission: who sent it, under which policy, and what each object's markings mean."""

    submitter: Submitter
    policy: Policy
    objects: list[dict[str, Any]]
    markings: dict[str, list[Marking]]  # object id -> the markings it references
    submitter_ids: frozenset[str]  # identity ids that stand for the submitter in the bundle
    needles: tuple[str, ...] = field(default=())  # name, aliases and ids, as planted

    def expected_level(self, obj_id: str) -> str | None:
        """The TLP level the object must be treated at, or None if it must be held/rejected."""
        applied = self.markings.get(obj_id, [])
        if any(m.unknown for m in applied) and self.policy.unknown_marking != "red":
            return None
        levels = [m.tlp for m in applied if m.tlp is not None and not m.unknown]
        if any(m.unknown for m in applied):
            levels.append("red")
        return most_restrictive(levels) or self.policy.default_tlp

    def expected_consent(self, obj_id: str) -> str:
        applied = self.markings.get(obj_id, [])
        consent = narrowest([m.consent for m in applied if m.consent and not m.unknown])
        return consent or self.submitter.consent

    def may_name(self, obj_id: str, feed: FeedPolicy) -> bool:
        consent = self.expected_consent(obj_id)
        return feed.identity == "consent" and (
            consent == "everyone" or (consent == "government" and feed.government)
        )


def stix_ids(prefix: str) -> st.SearchStrategy[str]:
    return st.uuids(version=4).map(lambda u: f"{prefix}--{u}")


# -- members -------------------------------------------------------------------------------

_TOKEN = st.text(alphabet="bcdfghjkmnpqrstvwxz", min_size=4, max_size=7)


@st.composite
def submitters(draw: st.DrawFn) -> Submitter:
    """A member with a distinctive name; its aliases are a short name and a domain."""
    token = draw(_TOKEN)
    name = f"Zq{token.capitalize()} " + draw(st.sampled_from(["Bank", "Health", "Energy", "Rail"]))
    aliases = draw(
        st.lists(
            st.sampled_from([f"zq{token}", f"zq{token}.example", f"ZQ{token.upper()}-CERT"]),
            unique=True,
            max_size=3,
        )
    )
    return Submitter(
        member_id=f"member-{draw(st.uuids(version=4))}",
        name=name,
        kind=draw(st.sampled_from(["industry", "government"])),
        sector=draw(st.none() | st.sampled_from(["finance", "energy", "health"])),
        consent=draw(st.sampled_from(["everyone", "government", "none"])),
        aliases=tuple(aliases),
    )


def pseudonym_keys() -> st.SearchStrategy[PseudonymKey]:
    return st.builds(
        PseudonymKey,
        epoch=st.integers(1, 50),
        secret=st.binary(min_size=32, max_size=32),
        started_us=st.integers(1_600_000_000_000_000, 1_700_000_000_000_000),
    )


# -- policies ------------------------------------------------------------------------------


_ALL = frozenset(TLP_FOR_FEEDS)
# Every subset of CLEAR, GREEN and AMBER, the defaults three times as likely.
_FEED_LEVELS = st.sampled_from(
    [_ALL, _ALL, frozenset({"clear"}), frozenset({"clear"})]
    + [frozenset(c) for n in range(4) for c in itertools.combinations(TLP_FOR_FEEDS, n)]
)


@st.composite
def feed_policies(draw: st.DrawFn, alias: str) -> FeedPolicy:
    levels = draw(_FEED_LEVELS)
    return FeedPolicy(
        alias,
        levels,
        identity=draw(st.sampled_from(["consent", "never"])),
        government=draw(st.booleans()),
    )


_ACTIONS = st.sampled_from(("redact", "allow", "hold", "redact", "allow"))
assert set(ACTIONS) == {"redact", "allow", "hold"}
_DEFAULT_TLP = st.sampled_from(("clear", "green", "amber", "amber", "amber+strict", "red"))


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    aliases = draw(st.lists(st.sampled_from(FEED_ALIASES), unique=True, min_size=1, max_size=4))
    feeds = tuple(draw(feed_policies(alias)) for alias in aliases)
    # Weighted towards releasing something, so that the release paths get most examples.
    actions = {name: draw(_ACTIONS) for name in DETECTORS}
    return Policy(
        feeds=feeds,
        default_tlp=draw(_DEFAULT_TLP),
        unknown_marking=draw(st.sampled_from(["hold", "reject", "red"])),
        actions=actions,
    )


# -- markings ------------------------------------------------------------------------------


def _definition(marking_id: str, **body: Any) -> dict[str, Any]:
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": marking_id,
        "created": CREATED,
        **body,
    }


def _tlp2_extension(marking_id: str, word: str) -> dict[str, Any]:
    return _definition(
        marking_id,
        name=f"TLP:{word.upper()}",
        extensions={TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": word}},
    )


def _tlp_type(marking_id: str, word: str) -> dict[str, Any]:
    return _definition(marking_id, definition_type="tlp", definition={"tlp": word})


_TLP1_WORDS = {"white": "clear", "green": "green", "amber": "amber", "red": "red"}
_TLP2_WORDS = {
    "clear": "clear",
    "green": "green",
    "amber": "amber",
    "amber+strict": "amber+strict",
    "red": "red",
    "AMBER+STRICT": "amber+strict",
    "Red": "red",
}
_MARKING_IDS = stix_ids("marking-definition")


def _builtin_tlp1() -> st.SearchStrategy[Marking]:
    return st.sampled_from(sorted(TLP1.items())).map(lambda kv: Marking(kv[1], tlp=kv[0]))


def _builtin_tlp2() -> st.SearchStrategy[Marking]:
    return st.sampled_from(sorted(TLP2.items())).map(lambda kv: Marking(kv[1], tlp=kv[0]))


def _builtin_consent() -> st.SearchStrategy[Marking]:
    return st.sampled_from(sorted(HUB_CONSENT.items())).map(
        lambda kv: Marking(kv[1], consent=kv[0])
    )


@st.composite
def _carried_tlp2(draw: st.DrawFn) -> Marking:
    marking_id = draw(_MARKING_IDS)
    word = draw(st.sampled_from(sorted(_TLP2_WORDS)))
    return Marking(marking_id, (_tlp2_extension(marking_id, word),), tlp=_TLP2_WORDS[word])


@st.composite
def _carried_tlp_type(draw: st.DrawFn) -> Marking:
    marking_id = draw(_MARKING_IDS)
    word = draw(st.sampled_from(sorted(_TLP1_WORDS)))
    return Marking(marking_id, (_tlp_type(marking_id, word),), tlp=_TLP1_WORDS[word])


@st.composite
def _carried_ais(draw: st.DrawFn) -> Marking:
    marking_id = draw(_MARKING_IDS)
    consent = draw(st.sampled_from(["everyone", "usg", "none", "USG"]))
    word = draw(st.sampled_from(sorted(_TLP1_WORDS)))
    proprietary = draw(st.sampled_from(["true", "false", True, False]))
    definition = _definition(
        marking_id,
        definition_type="ais",
        definition={"consent": consent, "tlp": word, "is_proprietary": proprietary},
    )
    meaning = {"everyone": "everyone", "usg": "government", "none": "none"}[consent.lower()]
    if proprietary in ("true", True):
        meaning = "none"  # a proprietary object never carries its submitter's name
    return Marking(marking_id, (definition,), tlp=_TLP1_WORDS[word], consent=meaning)


@st.composite
def _carried_consent(draw: st.DrawFn) -> Marking:
    marking_id = draw(_MARKING_IDS)
    level = draw(st.sampled_from(sorted(NARROW)))
    definition = _definition(
        marking_id,
        name=f"Consent {level}",
        extensions={CONSENT_EXTENSION: {"extension_type": "property-extension", "consent": level}},
    )
    return Marking(marking_id, (definition,), consent=level)


@st.composite
def _carried_statement(draw: st.DrawFn) -> Marking:
    marking_id = draw(_MARKING_IDS)
    definition = _definition(
        marking_id, definition_type="statement", definition={"statement": "Copyright Zq"}
    )
    return Marking(marking_id, (definition,))


@st.composite
def _unknown_ref(draw: st.DrawFn) -> Marking:
    return Marking(draw(_MARKING_IDS), unknown=True)


@st.composite
def _carried_unreadable(draw: st.DrawFn) -> Marking:
    marking_id = draw(_MARKING_IDS)
    definition = draw(
        st.sampled_from(
            [
                _tlp_type(marking_id, "purple"),
                _tlp2_extension(marking_id, "blue"),
                _definition(marking_id, definition_type="ais", definition={"tlp": "green"}),
                _definition(marking_id, definition_type="acme", definition={"level": 3}),
            ]
        )
    )
    return Marking(marking_id, (definition,), unknown=True)


@st.composite
def _carried_builtin_claim(draw: st.DrawFn) -> Marking:
    """A definition carried under a well-known id that claims another level: the stricter of
    the well-known meaning and the claim holds."""
    builtin_id, level = draw(st.sampled_from(sorted(BUILTIN_TLP.items())))
    word = draw(st.sampled_from(sorted(_TLP1_WORDS)))
    return Marking(
        builtin_id,
        (_tlp_type(builtin_id, word),),
        tlp=most_restrictive([level, _TLP1_WORDS[word]]),
    )


@st.composite
def _carried_twice(draw: st.DrawFn) -> Marking:
    """The same id defined twice with different levels: the stricter one holds."""
    marking_id = draw(_MARKING_IDS)
    first, second = draw(st.lists(st.sampled_from(sorted(_TLP1_WORDS)), min_size=2, max_size=2))
    return Marking(
        marking_id,
        (_tlp_type(marking_id, first), _tlp_type(marking_id, second)),
        tlp=most_restrictive([_TLP1_WORDS[first], _TLP1_WORDS[second]]),
    )


def markings() -> st.SearchStrategy[Marking]:
    return st.one_of(
        _builtin_tlp1(),
        _builtin_tlp2(),
        st.just(Marking(OPENCTI_AMBER_STRICT, tlp="amber+strict")),
        _builtin_consent(),
        _carried_tlp2(),
        _carried_tlp_type(),
        _carried_ais(),
        _carried_consent(),
        _carried_statement(),
        _unknown_ref(),
        _carried_unreadable(),
        _carried_builtin_claim(),
        _carried_twice(),
    )


# -- text with personal data and canaries --------------------------------------------------

_WORDS = ("beacon", "loader", "phishing", "campaign", "observed", "payload", "the", "C2")
PII_FRAGMENTS = (
    "j.doe@victim.example",
    "+44 20 7946 0958",
    "(555) 123-4567",
    "10.20.30.40",
    "192.168.1.15",
    "fd00::1",
    "fileserver.corp",
    "dc01.internal",
    "198.51.100.7",
    "203.0.113.9",
    "2001:db8::1",
    "1.2.3.4",
)


# Strategies are built once: building one per draw costs more than the rules under test.
_INDEX: dict[int, st.SearchStrategy[int]] = {}
_BOOL = st.booleans()
_UUIDS = st.uuids(version=4)
_SEPARATORS = (" ", ", ", " / ", ": ", "; ")


def pick(draw: st.DrawFn, options: Sequence[T]) -> T:
    """One of `options` (shrinks towards the first)."""
    size = len(options)
    if size not in _INDEX:
        _INDEX[size] = st.integers(0, size - 1)
    return options[draw(_INDEX[size])]


def count(draw: st.DrawFn, low: int, high: int) -> int:
    return low + pick(draw, range(high - low + 1))


def flip(draw: st.DrawFn) -> bool:
    return draw(_BOOL)


def new_id(draw: st.DrawFn, obj_type: str) -> str:
    return f"{obj_type}--{draw(_UUIDS)}"


def free_text(draw: st.DrawFn, canaries: Sequence[str]) -> str:
    """A sentence of ordinary words, personal data and (randomly cased) canaries."""
    parts = []
    for _ in range(count(draw, 1, 6)):
        kind = count(draw, 0, 2)
        if kind == 0:
            parts.append(pick(draw, _WORDS))
        elif kind == 1:
            parts.append(pick(draw, PII_FRAGMENTS))
        else:
            canary = pick(draw, canaries)
            parts.append(pick(draw, (canary, canary.upper(), canary.lower(), canary.swapcase())))
    return pick(draw, _SEPARATORS).join(parts)


# -- objects -------------------------------------------------------------------------------


def _sdo(obj_type: str, obj_id: str, **props: Any) -> dict[str, Any]:
    return {
        "type": obj_type,
        "spec_version": "2.1",
        "id": obj_id,
        "created": CREATED,
        "modified": CREATED,
        **props,
    }


_PATTERNS = (
    "[ipv4-addr:value = '198.51.100.7']",
    "[domain-name:value = 'evil.example']",
    "[url:value = 'http://evil.example/gate.php']",
    "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
    "[email-addr:value = 'lure@evil.example'] AND [ipv4-addr:value = '203.0.113.9']",
)


@dataclass
class _Context:
    canaries: tuple[str, ...]  # strings that must not leak: name, aliases, identity ids
    keys: tuple[str, ...]  # canary-bearing property-name fragments (and harmless ones)
    domains: tuple[str, ...]
    submitter_ids: tuple[str, ...]
    others: list[str] = field(default_factory=list)  # ids of SDOs so far
    identities: list[str] = field(default_factory=list)
    scos: list[str] = field(default_factory=list)
    sros: list[str] = field(default_factory=list)

    def text(self, draw: st.DrawFn) -> str:
        return free_text(draw, self.canaries)


def _extras(draw: st.DrawFn, ctx: _Context) -> dict[str, Any]:
    """Optional free text, external references and custom properties, all with canaries."""
    props: dict[str, Any] = {}
    if flip(draw):
        props["description"] = ctx.text(draw)
    if flip(draw):
        props["labels"] = [ctx.text(draw) for _ in range(count(draw, 1, 2))]
    if flip(draw):
        reference: dict[str, Any] = {
            "source_name": pick(draw, ("vendor", *ctx.canaries)),
            "description": ctx.text(draw),
        }
        if flip(draw):
            reference["url"] = f"https://{pick(draw, ctx.domains)}/r/1"
        if flip(draw):
            reference["external_id"] = ctx.text(draw)
        props["external_references"] = [reference]
    if flip(draw):
        key = f"x_{pick(draw, ctx.keys)}_score"
        props[key] = count(draw, 0, 100) if flip(draw) else ctx.text(draw)
    if flip(draw):
        props["x_meta"] = {"owner": ctx.text(draw), f"{pick(draw, ctx.keys)}_ticket": "T-1"}
    if flip(draw):
        props["confidence_notes"] = ctx.text(draw)  # not allow-listed
    return props


_KINDS = (
    "indicator",
    "indicator",
    "malware",
    "identity-org",
    "identity-individual",
    "relationship",
    "sighting",
    "report",
    "note",
    "grouping",
    "observed-data",
    "ipv4-addr",
    "email-addr",
    "user-account",
    "domain-name",
    "url",
    "x-zz-custom",
)


def _sco(draw: st.DrawFn, ctx: _Context, kind: str, **props: Any) -> dict[str, Any]:
    obj = {"type": kind, "spec_version": "2.1", "id": new_id(draw, kind), **props}
    ctx.scos.append(obj["id"])
    return obj


def _object(draw: st.DrawFn, ctx: _Context) -> dict[str, Any]:
    kind = pick(draw, _KINDS)
    refs = ctx.others + ctx.identities + list(ctx.submitter_ids)  # SDOs: what SROs may join
    creator: dict[str, Any] = {}
    if ctx.submitter_ids and count(draw, 0, 3) > 0:
        creator["created_by_ref"] = pick(draw, ctx.submitter_ids)

    if kind == "ipv4-addr":
        value = pick(draw, ("198.51.100.23", "203.0.113.5", "10.1.2.3", "192.168.0.9"))
        return _sco(draw, ctx, kind, value=value)
    if kind == "email-addr":
        return _sco(draw, ctx, kind, value=f"victim@{pick(draw, ctx.domains)}")
    if kind == "user-account":
        return _sco(
            draw, ctx, kind, user_id="jdoe", account_login="jdoe", display_name=ctx.text(draw)
        )
    if kind in ("domain-name", "url"):
        hosts = ["evil.example", "fileserver.corp", *ctx.domains]
        if kind == "url":
            hosts += ["10.9.8.7", "[fd00::7]", "203.0.113.80"]
        host = pick(draw, hosts)
        return _sco(draw, ctx, kind, value=host if kind == "domain-name" else f"http://{host}/g")

    if kind.startswith("identity"):  # kind names the identity_class too
        individual = kind == "identity-individual"
        names = ("Jane Roe", "John Q. Public", "Erika Mustermann")
        obj = _sdo(
            "identity",
            new_id(draw, "identity"),
            name=pick(draw, names if individual else ("Globex Partners", "Initrode CERT")),
            identity_class="individual" if individual else "organization",
            **creator,
            **_extras(draw, ctx),
        )
        ctx.identities.append(obj["id"])
        return obj

    obj_id = new_id(draw, kind)
    props: dict[str, Any] = {}
    if kind == "indicator":
        pattern = (
            pick(draw, _PATTERNS)
            if flip(draw)
            else f"[domain-name:value = '{pick(draw, ctx.domains)}']"
        )
        props = {
            "name": ctx.text(draw),
            "pattern": pattern,
            "pattern_type": "stix",
            "valid_from": CREATED,
        }
    elif kind == "malware":
        props = {"name": ctx.text(draw), "is_family": flip(draw)}
    elif kind == "relationship":
        pool = refs or list(ctx.submitter_ids) or [new_id(draw, "malware")]
        props = {
            "relationship_type": pick(draw, ("indicates", "related-to", "targets")),
            "source_ref": pick(draw, pool),
            "target_ref": pick(draw, pool),
        }
    elif kind == "sighting":
        props = {
            "sighting_of_ref": pick(draw, ctx.others or [new_id(draw, "malware")]),
            "count": count(draw, 1, 50),
        }
        where = list(ctx.submitter_ids) + ctx.identities
        if where:
            props["where_sighted_refs"] = [pick(draw, where) for _ in range(count(draw, 1, 3))]
    elif kind in ("report", "note", "grouping"):
        pool = refs + ctx.sros or [new_id(draw, "malware")]
        props = {"object_refs": [pick(draw, pool) for _ in range(count(draw, 1, 5))]}
        if kind == "report":
            props |= {"name": ctx.text(draw), "published": CREATED}
        elif kind == "note":
            props |= {"content": ctx.text(draw), "authors": [ctx.text(draw)]}
        else:
            props |= {"context": "suspicious-activity"}
    elif kind == "observed-data":
        pool = ctx.scos or [new_id(draw, "ipv4-addr")]
        props = {
            "first_observed": CREATED,
            "last_observed": CREATED,
            "number_observed": count(draw, 1, 10),
            "object_refs": [pick(draw, pool) for _ in range(count(draw, 1, 3))],
        }
    else:  # a custom object type: no allow-list vets it
        props = {"name": ctx.text(draw)}
    obj = _sdo(kind, obj_id, **props, **creator, **_extras(draw, ctx))
    (ctx.sros if kind in ("relationship", "sighting") else ctx.others).append(obj_id)
    return obj


def _mark(draw: st.DrawFn, obj: dict[str, Any], pool: list[Marking]) -> list[Marking]:
    """Put some of the pool's markings on `obj`, object-level or granular; returns them."""
    chosen: dict[str, Marking] = {}
    for _ in range(count(draw, 0, min(3, len(pool)))):
        marking = pick(draw, pool)
        chosen[marking.ref] = marking
    object_level: list[str] = []
    granular: list[dict[str, Any]] = []
    for marking in chosen.values():
        if flip(draw):
            object_level.append(marking.ref)
        else:
            selector = pick(draw, ("id", "type", "spec_version"))
            granular.append({"marking_ref": marking.ref, "selectors": [selector]})
    if object_level:
        obj["object_marking_refs"] = object_level
    if granular:
        obj["granular_markings"] = granular
    return list(chosen.values())


_POOLS = st.lists(markings(), max_size=6, unique_by=lambda m: m.ref)
_SUBMITTERS = submitters()
_POLICIES = policies()


@st.composite
def cases(draw: st.DrawFn, policy: st.SearchStrategy[Policy] | None = None) -> Case:
    """A submission from one member under one policy, with the oracle for its markings."""
    submitter = draw(_SUBMITTERS)
    chosen_policy = draw(policy if policy is not None else _POLICIES)
    own_ids = sorted({new_id(draw, "identity") for _ in range(count(draw, 0, 2))})
    domains = tuple(a for a in submitter.aliases if "." in a) or ("evil.example",)
    compact = [a for a in submitter.aliases if a.isalpha()]
    ctx = _Context(
        canaries=(submitter.name, *submitter.aliases, *own_ids),
        keys=(*compact, "ops"),
        domains=domains,
        submitter_ids=tuple(own_ids),
    )
    objects: list[dict[str, Any]] = []
    for own in own_ids:  # the member's own identity objects, named as it or an alias
        objects.append(
            _sdo(
                "identity",
                own,
                name=pick(draw, (submitter.name, *submitter.aliases)),
                identity_class="organization",
                description=ctx.text(draw),
            )
        )
    pool = draw(_POOLS)
    applied: dict[str, list[Marking]] = {}
    for _ in range(count(draw, 1, 10)):
        obj = _object(draw, ctx)
        applied[obj["id"]] = _mark(draw, obj, pool)
        objects.append(obj)
    for own in objects[: len(own_ids)]:
        applied[own["id"]] = _mark(draw, own, pool)
    for marking in pool:  # the definitions travel in the bundle, in random places
        for definition in marking.definitions:
            objects.insert(count(draw, 0, len(objects)), dict(definition))
    return Case(
        submitter=submitter,
        policy=chosen_policy,
        objects=objects,
        markings=applied,
        submitter_ids=frozenset(own_ids),
        needles=(submitter.name, *submitter.aliases, *own_ids),
    )
