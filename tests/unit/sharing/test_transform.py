"""sanitise() and for_audience(): what one feed receives."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hub.sharing.policy import Submitter
from hub.sharing.pseudonyms import AudienceIdentity, pseudonym, real_identity
from hub.sharing.transform import AudienceRewriter, Probe, fold, for_audience, sanitise
from hub.stix.markings import TLP2_MARKING_IDS
from tests.unit.sharing.factories import (
    ACME_ID,
    KEY,
    TLP1_GREEN,
    acme,
    decide_one,
    indicator,
    sco,
    sdo,
    sid,
    three_feeds,
)

SHA256 = "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"


def _members(submitter: Submitter | None = None) -> AudienceIdentity:
    return pseudonym(KEY, (submitter or acme()).member_id, "members")


def _release(
    obj: dict[str, Any], submitter: Submitter | None = None, **policy: Any
) -> dict[str, Any]:
    """`obj` as the members feed receives it (the submitter pseudonymised)."""
    who = submitter or acme()
    rules = three_feeds(**policy)
    decision = decide_one(obj, who, rules)
    assert decision.outcome == "release", decision.reasons
    return for_audience(sanitise(obj, decision, rules), who, _members(who))


def test_sanitise_keeps_allowed_properties_and_strips_the_rest() -> None:
    obj = indicator(
        object_marking_refs=[TLP1_GREEN],
        granular_markings=[{"marking_ref": TLP1_GREEN, "selectors": ["name"]}],
        contact="soc desk",
        extensions={"extension-definition--1": {"extension_type": "property-extension"}},
    )
    rules = three_feeds()
    base = sanitise(obj, decide_one(obj), rules)
    assert set(base) == {
        "type",
        "spec_version",
        "id",
        "created",
        "modified",
        "name",
        "pattern",
        "pattern_type",
        "valid_from",
        "created_by_ref",
        "object_marking_refs",
    }
    assert base["object_marking_refs"] == [TLP2_MARKING_IDS["green"]]


def test_personal_data_is_redacted_wherever_it_is_nested() -> None:
    obj = indicator(
        description="mail j.doe@victim.example or call +1 555 123 4567",
        external_references=[
            {"source_name": "ticket", "description": "host fs01.corp", "url": "https://x.example"}
        ],
        labels=["from 10.0.0.8"],
    )
    released = _release(obj)
    assert released["description"] == "mail [REDACTED:email] or call [REDACTED:phone]"
    assert released["external_references"][0]["description"] == (
        "host [REDACTED:internal-hostname]"
    )
    assert released["labels"] == ["from [REDACTED:internal-address]"]


def test_an_individuals_name_is_redacted_as_a_whole() -> None:
    person = sdo("identity", 5, name="Jane Roe", identity_class="individual")
    assert _release(person)["name"] == "[REDACTED:person-name]"


def test_custom_properties_are_redacted_by_default() -> None:
    released = _release(indicator(x_score=5, x_notes={"a": "b"}))
    assert released["x_score"] == "[REDACTED:custom-property]"
    assert released["x_notes"] == "[REDACTED:custom-property]"


def test_allowed_custom_properties_still_lose_their_personal_data() -> None:
    obj = indicator(x_score=5, x_contact={"who": "jane@victim.example", "desk": "10.1.1.1"})
    released = _release(obj, actions={"custom-property": "allow"})
    assert released["x_score"] == 5
    assert released["x_contact"] == {
        "who": "[REDACTED:email]",
        "desk": "[REDACTED:internal-address]",
    }


def test_custom_properties_are_dropped_when_held_hits_are_approved() -> None:
    obj = indicator(x_score=5)
    rules = three_feeds(actions={"custom-property": "hold"})
    decision = decide_one(obj, policy=rules, approved=True)
    assert "x_score" not in sanitise(obj, decision, rules)


def test_the_submitter_is_replaced_in_every_reference() -> None:
    pseudo = _members().id
    other = sid("identity", 7)
    sighting = sdo(
        "sighting",
        sighting_of_ref=sid("indicator", 1),
        where_sighted_refs=[ACME_ID, other],
        created_by_ref=ACME_ID,
    )
    relationship = sdo(
        "relationship",
        relationship_type="attributed-to",
        source_ref=sid("indicator", 1),
        target_ref=ACME_ID,
    )
    report = sdo("report", name="r", published="2026-01-01T00:00:00Z", object_refs=[ACME_ID, other])
    note = sdo("note", content="c", object_refs=[ACME_ID])
    grouping = sdo("grouping", context="x", object_refs=[sid("indicator", 1), ACME_ID])
    assert _release(sighting)["where_sighted_refs"] == [pseudo, other]
    assert _release(relationship)["target_ref"] == pseudo
    assert _release(report)["object_refs"] == [pseudo, other]
    assert _release(note)["object_refs"] == [pseudo]
    assert _release(grouping)["object_refs"] == [sid("indicator", 1), pseudo]
    for obj in (sighting, relationship, report, note, grouping):
        assert _release(obj)["created_by_ref"] == pseudo


def test_every_released_sdo_is_created_by_the_feed_identity_and_no_sco_is() -> None:
    unattributed = indicator()
    del unattributed["created_by_ref"]
    assert _release(unattributed)["created_by_ref"] == _members().id
    address = _release(sco("ipv4-addr", "198.51.100.7"))
    assert "created_by_ref" not in address


def test_names_aliases_and_ids_are_rewritten_in_text_whatever_their_case() -> None:
    obj = indicator(
        name="Seen by ACME BANK",
        description=f"acme-cert and AcmeBank.Example reported it; see {ACME_ID.upper()}",
    )
    released = _release(obj)
    name = _members().name
    assert released["name"] == f"Seen by {name}"
    assert released["description"] == f"{name} and {name} reported it; see {_members().id}"
    assert "acme" not in json.dumps(released).lower()


def test_a_property_named_after_the_submitter_is_dropped() -> None:
    obj = indicator(
        x_acmebank_score=1,
        external_references=[{"source_name": "s", "AcmeBank": "x", "url": "https://x.example"}],
    )
    submitter = acme(aliases=("acmebank",))
    released = _release(obj, submitter, actions={"custom-property": "allow"})
    assert not any("acme" in key for key in released)
    assert released["external_references"] == [{"source_name": "s", "url": "https://x.example"}]


def test_the_pattern_timestamps_and_id_are_kept_as_they_are() -> None:
    obj = indicator(pattern="[url:value = 'http://evil.example/']")
    released = _release(obj)
    for key in ("id", "type", "spec_version", "created", "modified", "pattern"):
        assert released[key] == obj[key]


def test_where_consent_allows_the_real_identity_is_kept() -> None:
    submitter = acme("everyone")
    obj = indicator(name="Seen by Acme Bank", object_marking_refs=[TLP1_GREEN])
    rules = three_feeds()
    decision = decide_one(obj, submitter, rules)
    real = real_identity(submitter, 0)
    released = for_audience(sanitise(obj, decision, rules), submitter, real)
    assert released["name"] == "Seen by Acme Bank"
    assert released["created_by_ref"] == real.id


def test_an_alias_that_looks_like_hex_leaves_references_and_hashes_intact() -> None:
    # "ABB" or "ACE" occur by chance in UUIDs and digests; rewriting them there corrupts them.
    submitter = acme(aliases=("ABB",))
    target = "malware--abb11111-1111-4111-8111-111111111111"
    report = sdo(
        "report",
        name="ABB campaign",
        published="2026-01-01T00:00:00Z",
        object_refs=[target, ACME_ID],
        external_references=[
            {"source_name": "abb", "hashes": {"SHA-256": SHA256.replace("add", "abb")}}
        ],
    )
    released = _release(report, submitter)
    name = _members(submitter).name
    assert released["object_refs"] == [target, _members(submitter).id]
    assert released["name"] == f"{name} campaign"
    assert released["external_references"][0]["source_name"] == name
    assert released["external_references"][0]["hashes"] == {"SHA-256": SHA256.replace("add", "abb")}


def test_transforming_leaves_the_input_alone_and_gives_the_same_output_twice() -> None:
    obj = indicator(
        description="j@victim.example at Acme Bank",
        external_references=[{"source_name": "Acme Bank", "url": "https://x.example"}],
        labels=["a"],
        x_meta={"k": ["v"]},
    )
    pristine = copy.deepcopy(obj)
    first = _release(obj)
    second = _release(obj)
    assert obj == pristine
    assert first == second
    first["labels"].append("b")
    first["external_references"][0]["url"] = "changed"
    assert obj == pristine and second != first


def test_sanitise_without_copies_gives_the_same_object_and_leaves_the_input_alone() -> None:
    rules = three_feeds(actions={"custom-property": "allow"})
    for description in ("seen at a bank", "j@victim.example at Acme Bank"):
        obj = indicator(
            description=description,
            labels=["a", "b"],
            kill_chain_phases=[{"kill_chain_name": "lockheed", "phase_name": "recon"}],
            x_meta={"k": ["v"]},
        )
        pristine = copy.deepcopy(obj)
        decision = decide_one(obj, acme(), rules)
        copied = sanitise(obj, decision, rules)
        shared = sanitise(obj, decision, rules, copy=False)
        assert shared == copied
        assert obj == pristine
        assert copied["labels"] is not obj["labels"]  # the default hands out copies
        if not decision.redact:  # the pipeline's serialises at once: no copy is needed
            assert shared["labels"] is obj["labels"]
        else:
            assert shared["description"] == "[REDACTED:email] at Acme Bank"


def test_feeds_share_one_probe_and_each_gets_its_own_verdict() -> None:
    """One Probe serves every feed of an object, in either order: a pseudonymous feed
    rewrites the submitter's name, a feed that names it searches only for its ids."""
    who = acme()
    base = {"type": "note", "id": sid("note", 1), "content": f"seen at {who.name}"}
    hidden, named = _members(who), real_identity(who, 0)
    for order in ((hidden, named), (named, hidden)):
        probe = Probe(base)
        out = {i.id: AudienceRewriter(who, i).apply(base, probe) for i in order}
        assert who.name not in out[hidden.id]["content"]
        assert out[named.id]["content"] == base["content"]
        assert len(probe.verdicts) == 2


# Letters whose case-insensitive matches go beyond str.lower(): dotless i, dotted capital I,
# Kelvin sign, long s, sharp s, and the combining dot above.
_TRICKY = "AaIiKkSs\u0131\u0130\u212a\u017f\u00df\u0307 -_"


_ALIKE = {c: [d for d in _TRICKY if re.fullmatch(re.escape(c), d, re.IGNORECASE)] for c in _TRICKY}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_TRICKY, min_size=3, max_size=8), st.data())
def test_the_fast_path_never_skips_what_the_rewrite_would_change(name: str, data: Any) -> None:
    """Folding for the substring fast path is at least as loose as the regex's IGNORECASE:
    a string that holds the submitter's name in any case the regex matches is rewritten."""
    assume(len(name.strip()) >= 3)
    variant = "".join(data.draw(st.sampled_from(_ALIKE[c])) for c in name.strip())
    text = data.draw(st.text(alphabet="xyz ", max_size=6)) + variant + " x"
    who = Submitter("m-fold", name, "industry", None, "none", ())
    identity = pseudonym(KEY, who.member_id, "members")
    assert fold(name.strip()) in fold(text)
    out = AudienceRewriter(who, identity).apply({"type": "note", "content": text})
    assert variant not in out["content"]
    assert identity.name in out["content"]


def test_a_name_written_with_a_dotted_capital_i_or_a_long_s_is_still_rewritten() -> None:
    who = Submitter("m-fold", "Istanbul Systems", "industry", None, "none", ())
    identity = pseudonym(KEY, who.member_id, "members")
    base = {"type": "note", "content": "by \u0130STANBUL Sy\u017ftems today"}
    out = AudienceRewriter(who, identity).apply(base)
    assert out["content"] == f"by {identity.name} today"
