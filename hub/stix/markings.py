"""Marking resolution: which TLP level and which consent an object carries.

Pure: plain dicts in, plain values out. TLP levels are ordered from least to most restrictive;
when an object carries several markings (object-level or granular, TLP 1.0, TLP 2.0, AIS), the
most restrictive wins, and a marking the hub cannot read is reported, never ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

# Least to most restrictive.
TLP_LEVELS: Final = ("clear", "green", "amber", "amber+strict", "red")
_RANK: Final = {level: rank for rank, level in enumerate(TLP_LEVELS)}

CONSENT_LEVELS: Final = ("everyone", "government", "none")

TLP2_EXTENSION_ID: Final = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

# The hub's consent marking: a marking-definition carrying this property extension (schema in
# schemas/hub-consent-marking.json). Fixed forever: members reference it in their tooling.
CONSENT_EXTENSION_ID: Final = "extension-definition--b874297f-b271-4b3b-9d40-0d16ad9fe6bf"

# The OASIS TLP 2.0 marking definitions.
TLP2_MARKING_IDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
    }
)

# The hub's consent markings, one per level, so tools can reference them without carrying a
# definition in the bundle (uuid5 of "consent:<level>" in the hub's namespace; fixed forever).
CONSENT_MARKING_IDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "everyone": "marking-definition--99476a26-d711-5518-bd3c-ce41768d3ca2",
        "government": "marking-definition--3e1bac1b-8101-5218-abc4-9f7e80ac5ec8",
        "none": "marking-definition--480f97db-79d7-55ea-9a1d-87dfe40f5ec4",
    }
)

# Every marking-definition id the hub knows without seeing its definition.
KNOWN_TLP_IDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        # TLP 1.0, built into STIX 2.1. OpenCTI and others emit WHITE for TLP:CLEAR.
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": "clear",
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": "green",
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": "amber",
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": "red",
        # OpenCTI's own TLP:AMBER+STRICT.
        "marking-definition--826578e1-40ad-459f-bc73-ede076f81f37": "amber+strict",
        **{marking_id: level for level, marking_id in TLP2_MARKING_IDS.items()},
    }
)
_CONSENT_BY_ID: Final = {marking_id: level for level, marking_id in CONSENT_MARKING_IDS.items()}

# AIS consent values (as emitted by tools converting CISA AIS markings) to the hub's levels.
_AIS_CONSENT: Final = {"everyone": "everyone", "usg": "government", "none": "none"}
_TLP_WORDS: Final = {
    "white": "clear",
    "clear": "clear",
    "green": "green",
    "amber": "amber",
    "amber+strict": "amber+strict",
    "amber_strict": "amber+strict",
    "red": "red",
}


def more_restrictive(a: str | None, b: str | None) -> str | None:
    """The more restrictive of two TLP levels (None: no level)."""
    if a is None:
        return b
    if b is None:
        return a
    return a if _RANK[a] >= _RANK[b] else b


def narrower_consent(a: str | None, b: str | None) -> str | None:
    """The narrower of two consent levels (none < government < everyone)."""
    if a is None:
        return b
    if b is None:
        return a
    return a if CONSENT_LEVELS.index(a) >= CONSENT_LEVELS.index(b) else b


def tlp_word(text: str) -> str | None:
    """A TLP level from the words tools use ("TLP:WHITE", "amber_strict", ...), else None."""
    key = text.strip().lower().removeprefix("tlp:").strip().replace(" ", "")
    return _TLP_WORDS.get(key)


@dataclass(frozen=True, slots=True)
class MarkingMeaning:
    """What one marking-definition says to the hub; every field may be empty."""

    tlp: str | None = None
    consent: str | None = None
    # True when the hub can read nothing it needs from it (a statement is readable: it is
    # neither TLP nor consent, and is not carried into feeds).
    statement: bool = False


def read_definition(definition: Mapping[str, Any]) -> MarkingMeaning | None:
    """Interpret a marking-definition object; None if it is none of the forms the hub reads."""
    marking_id = definition.get("id")
    known = KNOWN_TLP_IDS.get(marking_id) if isinstance(marking_id, str) else None
    tlp: str | None = known
    consent = _CONSENT_BY_ID.get(marking_id) if isinstance(marking_id, str) else None
    readable = known is not None or consent is not None
    extensions = definition.get("extensions")
    if isinstance(extensions, Mapping):
        tlp2 = extensions.get(TLP2_EXTENSION_ID)
        if isinstance(tlp2, Mapping) and isinstance(tlp2.get("tlp_2_0"), str):
            level = tlp_word(tlp2["tlp_2_0"])
            if level is None:
                return None
            tlp, readable = more_restrictive(tlp, level), True
        hub = extensions.get(CONSENT_EXTENSION_ID)
        if isinstance(hub, Mapping):
            value = hub.get("consent")
            if value not in CONSENT_LEVELS:
                return None
            consent, readable = narrower_consent(consent, value), True
    kind = definition.get("definition_type")
    body = definition.get("definition")
    if kind == "tlp" and isinstance(body, Mapping) and isinstance(body.get("tlp"), str):
        level = tlp_word(body["tlp"])
        if level is None:
            return None
        tlp, readable = more_restrictive(tlp, level), True
    elif kind == "ais" and isinstance(body, Mapping):
        ais_consent = _AIS_CONSENT.get(str(body.get("consent", "")).strip().lower())
        ais_tlp = tlp_word(str(body.get("tlp", "")))
        if ais_consent is None or ais_tlp is None:
            return None
        # A proprietary AIS object may travel under its TLP, never with the submitter's name.
        if str(body.get("is_proprietary", "")).strip().lower() == "true":
            ais_consent = narrower_consent(ais_consent, "none")
        tlp = more_restrictive(tlp, ais_tlp)
        consent = narrower_consent(consent, ais_consent)
        readable = True
    elif kind == "statement" and isinstance(body, Mapping) and not readable:
        return MarkingMeaning(statement=True)
    return MarkingMeaning(tlp, consent) if readable else None


@dataclass(frozen=True, slots=True)
class Markings:
    """The resolved markings of one object."""

    tlp: str | None = None  # None: the object names no TLP (policy supplies the default)
    consent: str | None = None  # None: the submitter's default applies
    unknown: tuple[str, ...] = ()  # marking-definition ids the hub could not read
    refs: tuple[str, ...] = field(default=())  # every marking ref the object carries


def marking_refs(obj: Mapping[str, Any]) -> list[str]:
    """Every marking-definition id an object references, object-level then granular."""
    refs: list[str] = []
    for ref in obj.get("object_marking_refs") or ():
        if isinstance(ref, str):
            refs.append(ref)
    for granular in obj.get("granular_markings") or ():
        if isinstance(granular, Mapping) and isinstance(granular.get("marking_ref"), str):
            refs.append(granular["marking_ref"])
    return refs


def resolve(obj: Mapping[str, Any], definitions: Mapping[str, MarkingMeaning]) -> Markings:
    """Resolve an object's markings. `definitions` holds the marking-definitions readable from
    the submission (and earlier ones); well-known ids are read without a definition. Granular
    markings count as if they marked the whole object: a part marked RED makes it RED."""
    tlp: str | None = None
    consent: str | None = None
    unknown: list[str] = []
    refs = marking_refs(obj)
    for ref in refs:
        # A well-known id always means at least what it is known to mean, whatever a
        # definition handed in under that id claims.
        meaning = _merge(definitions.get(ref), _builtin(ref))
        if meaning is None:
            if ref not in unknown:
                unknown.append(ref)
            continue
        tlp = more_restrictive(tlp, meaning.tlp)
        consent = narrower_consent(consent, meaning.consent)
    return Markings(tlp, consent, tuple(unknown), tuple(refs))


def _merge(a: MarkingMeaning | None, b: MarkingMeaning | None) -> MarkingMeaning | None:
    """Both meanings at once: the more restrictive TLP and the narrower consent."""
    if a is None or b is None:
        return a or b
    return _both(a, b)


def _both(a: MarkingMeaning, b: MarkingMeaning) -> MarkingMeaning:
    return MarkingMeaning(
        more_restrictive(a.tlp, b.tlp),
        narrower_consent(a.consent, b.consent),
        a.statement and b.statement,
    )


def _builtin(ref: str) -> MarkingMeaning | None:
    if ref in KNOWN_TLP_IDS:
        return MarkingMeaning(tlp=KNOWN_TLP_IDS[ref])
    if ref in _CONSENT_BY_ID:
        return MarkingMeaning(consent=_CONSENT_BY_ID[ref])
    return None


def definitions_in(objects: Iterable[Any]) -> dict[str, MarkingMeaning]:
    """The readable marking-definitions among `objects`, by id. A definition claiming a
    well-known id is read for what it says too: the more restrictive meaning wins. An id
    defined more than once means all its definitions at once (the most restrictive wins), and
    an id with any unreadable definition is left out, so it stays unknown unless well known."""
    found: dict[str, MarkingMeaning] = {}
    unreadable: set[str] = set()
    for obj in objects:
        if not isinstance(obj, Mapping) or obj.get("type") != "marking-definition":
            continue
        marking_id = obj.get("id")
        if not isinstance(marking_id, str):
            continue
        meaning = read_definition(obj)
        if meaning is None:
            unreadable.add(marking_id)
            continue
        for other in (found.get(marking_id), _builtin(marking_id)):
            if other is not None:
                meaning = _both(meaning, other)
        found[marking_id] = meaning
    for marking_id in unreadable:
        if _builtin(marking_id) is None:
            found.pop(marking_id, None)
    return found


def tlp2_definition(level: str) -> dict[str, Any]:
    """The OASIS TLP 2.0 marking-definition object for `level`, as feeds publish it."""
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP2_MARKING_IDS[level],
        "created": "2022-10-01T00:00:00.000Z",
        "name": f"TLP:{level.upper()}",
        "extensions": {
            TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": level}
        },
    }


def consent_definition(level: str) -> dict[str, Any]:
    """The hub's consent marking-definition for `level` (see schemas/hub-consent-marking.json)."""
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": CONSENT_MARKING_IDS[level],
        "created": "2026-11-28T00:00:00.000Z",
        "name": f"Submitter consent: {level}",
        "extensions": {
            CONSENT_EXTENSION_ID: {"extension_type": "property-extension", "consent": level}
        },
    }
