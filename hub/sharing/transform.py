"""transform(): the object as one feed receives it.

Two steps. `sanitise()` does what is the same for every feed: strip properties outside the
allow-list, redact personal data, and replace the object's markings by the one OASIS TLP 2.0
marking of its resolved level. `for_audience()` then replaces the submitter, everywhere it
appears (references, identity ids in text, its name and aliases in any string), by who it is
in that feed: a pseudonym, or, where consent allows, its real identity. Both return new dicts
and leave their input alone.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import orjson

from hub.sharing.decide import Decision, identity_needles, needle_pattern
from hub.sharing.pii import REDACTED, Hit, redact_text
from hub.sharing.policy import SCO_TYPES, Policy, Submitter
from hub.sharing.pseudonyms import AudienceIdentity
from hub.stix.markings import TLP2_MARKING_IDS

# Strings that cannot carry a name, only look like one: STIX identifiers and hex digests. An
# alias such as "ABB" or "ACE" occurs in them by chance; rewriting it there would corrupt the
# reference or the hash, so in them only the submitter's identity ids are replaced.
_OPAQUE = re.compile(
    r"[a-z0-9][a-z0-9-]*--[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}|[0-9a-fA-F]{16,}"
)

# Objects that may carry created_by_ref: every type but cyber-observables and (here) the
# hub's own marking definitions, which are never released from a submission.
_NO_CREATOR = SCO_TYPES | {"marking-definition"}

# How many property names a rewriter remembers whether they spell the submitter.
_KEY_VERDICTS = 4096


def sanitise(
    obj: Mapping[str, Any], decision: Decision, policy: Policy, *, copy: bool = True
) -> dict[str, Any]:
    """The feed-independent part of the transform. With `copy=False` the values it leaves as
    they are (a list of labels, a kill chain) are the input's own, not copies: for a caller
    that serialises the result at once and hands it to no one (the pipeline)."""
    allowed = policy.allowed_properties.get(str(obj.get("type")))
    by_path: dict[str, list[Hit]] = defaultdict(list)
    for hit in decision.redact:
        by_path[hit.path].append(hit)
    result: dict[str, Any] = {}
    for key, value in obj.items():
        if key in ("object_marking_refs", "granular_markings"):
            continue
        if key.startswith("x_"):
            whole = [hit for hit in by_path.get(key, ()) if hit.whole]
            if whole:
                result[key] = REDACTED.format(whole[0].detector)
            elif policy.action("custom-property") == "allow" or decision.keep_unlisted:
                result[key] = _redacted(key, value, by_path)
            continue
        if allowed is not None and key not in allowed and not decision.keep_unlisted:
            continue
        if by_path:
            result[key] = _redacted(key, value, by_path)
        else:
            result[key] = _copy(value) if copy else value
    result["object_marking_refs"] = [TLP2_MARKING_IDS[decision.tlp]]
    return result


def _redacted(path: str, value: Any, by_path: Mapping[str, list[Hit]]) -> Any:
    if isinstance(value, str):
        hits = by_path.get(path)
        if not hits:
            return value
        whole = [hit for hit in hits if hit.whole]
        if whole:
            return REDACTED.format(whole[0].detector)
        return redact_text(value, hits)
    if isinstance(value, list):
        return [_redacted(f"{path}[{i}]", item, by_path) for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {k: _redacted(f"{path}.{k}", v, by_path) for k, v in value.items()}
    return value


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def fold(text: str) -> str:
    """`text` case-folded so that a plain substring search finds at least every match of a
    case-insensitive regular expression (`re.IGNORECASE`): besides `casefold()`, the dotless
    i is an i and the combining dot above (of the capital dotted I) is dropped, the two
    equivalences the regex engine has that `casefold()` does not. Folding may make more
    strings equal, never fewer, so a fast path that finds nothing is right to skip the regex."""
    folded = text.casefold()
    if not folded.isascii():
        folded = folded.replace("\u0131", "i").replace("\u0307", "")
    return folded


class Probe:
    """What the rewrite's fast path searches for the submitter's names and ids: the object
    but its `created_by_ref`, as folded JSON, and the same with '_' and '-' read as spaces (as
    `_names_submitter` reads property names). Made once per object and shared by every feed's
    rewriter, which also share their verdicts (feeds that hide the submitter alike search the
    same needles)."""

    __slots__ = ("_spaced", "text", "verdicts")

    def __init__(self, base: Mapping[str, Any]) -> None:
        rest = {k: v for k, v in base.items() if k != "created_by_ref"}
        self.text = fold(orjson.dumps(rest).decode("utf-8"))
        self._spaced: str | None = None
        self.verdicts: dict[tuple[str, ...], bool] = {}

    @property
    def spaced(self) -> str:
        if self._spaced is None:
            self._spaced = self.text.replace("_", " ").replace("-", " ")
        return self._spaced


class AudienceRewriter:
    """Rewrites the submitter into one feed's identity; built once per (submitter, feed)."""

    def __init__(self, submitter: Submitter, identity: AudienceIdentity) -> None:
        self.identity = identity
        ids = set(submitter.identity_ids)
        self._ids = dict.fromkeys(ids, identity.id)
        needles = list(ids)
        if not identity.named:
            needles = identity_needles(submitter)
        self._names = {n.lower(): identity.name for n in needles if n not in ids}
        self._pattern = needle_pattern(sorted(needles, key=lambda n: (-len(n), n)))
        # As the needles appear inside JSON text (quotes and backslashes escaped), folded;
        # and as they appear in a string, folded.
        self._in_json = tuple(fold(orjson.dumps(n).decode("utf-8")[1:-1]) for n in needles)
        self._folded = tuple(fold(n) for n in needles)
        self._id_pattern = needle_pattern(sorted(ids, key=lambda n: (-len(n), n)))
        self._key_verdicts: dict[str, bool] = {}

    def _replace(self, text: str) -> str:
        if self._pattern is None:
            return text
        exact = self._ids.get(text)
        if exact is not None:
            return exact
        folded = fold(text)
        if not any(needle in folded for needle in self._folded):
            return text  # no needle, in any case: the regex cannot match either
        if _OPAQUE.fullmatch(text):
            return self._id_pattern.sub(self._swap, text) if self._id_pattern else text
        return self._pattern.sub(self._swap, text)

    def _swap(self, match: Any) -> str:
        found = match.group()
        if found in self._ids:
            return self._ids[found]
        lowered = found.lower()
        for known, replacement in self._ids.items():
            if known.lower() == lowered:
                return replacement
        return self._names.get(lowered, self.identity.name)

    def _mentions_submitter(self, base: Mapping[str, Any], probe: Probe | None = None) -> bool:
        """Does anything but `created_by_ref` (set anyway) name the submitter? Property names
        are read with '_' and '-' as spaces too, as `_names_submitter` reads them. `probe` is
        `Probe(base)` when the caller has it already (one per object for every feed)."""
        if self._pattern is None:
            return False
        if probe is None:
            probe = Probe(base)
        verdict = probe.verdicts.get(self._in_json)
        if verdict is None:
            # Plain substring searches: fast.
            verdict = any(needle in probe.text for needle in self._in_json) or any(
                needle in probe.spaced for needle in self._in_json
            )
            probe.verdicts[self._in_json] = verdict
        return verdict

    def _names_submitter(self, key: str) -> bool:
        """True for a property name that spells the submitter (x_acme_bank_score); remembered
        per name, as the same few names recur in every object."""
        verdict = self._key_verdicts.get(key)
        if verdict is None:
            verdict = self._pattern is not None and bool(
                self._pattern.search(key)
                or self._pattern.search(key.replace("_", " ").replace("-", " "))
            )
            if len(self._key_verdicts) >= _KEY_VERDICTS:
                self._key_verdicts.clear()  # a hostile bundle's endless custom names
            self._key_verdicts[key] = verdict
        return verdict

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._replace(value)
        if isinstance(value, list):
            return [self._walk(item) for item in value]
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, item in value.items():
                if self._names_submitter(key):
                    continue  # a property named after the submitter cannot be kept
                out[key] = self._walk(item)
            return out
        return value

    def apply(self, base: Mapping[str, Any], probe: Probe | None = None) -> dict[str, Any]:
        if not self._mentions_submitter(base, probe):
            # The common case, checked in two regex passes over the object's JSON: nothing
            # to rewrite but the creator.
            result = dict(base)
            if base.get("type") not in _NO_CREATOR:
                result["created_by_ref"] = self.identity.id
            return result
        result = {}
        for key, value in base.items():
            if key in ("id", "type", "spec_version", "created", "modified", "pattern"):
                result[key] = value
            elif self._names_submitter(key):
                continue
            else:
                result[key] = self._walk(value)
        if base.get("type") not in _NO_CREATOR:
            result["created_by_ref"] = self.identity.id
        return result


def for_audience(
    base: Mapping[str, Any], submitter: Submitter, identity: AudienceIdentity
) -> dict[str, Any]:
    """`base` (from sanitise) as the feed whose identity for the submitter is `identity`."""
    return AudienceRewriter(submitter, identity).apply(base)
