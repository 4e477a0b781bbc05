"""Comparing and combining policy documents (`Policy.to_document()`): what a version changed,
in words, and a configuration change carried onto a version set in the console.

A document has settings at three depths: the scalars (`default_tlp`, `unknown_marking`) and
the `internal_domains` list are one setting each; `detectors` and `allowed_properties` hold a
setting per detector and per type; `feeds` a setting per feed and field (`tlp`, `identity`,
`government`), a feed being added or removed as a whole.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

_SCALARS = ("default_tlp", "unknown_marking", "internal_domains")
_TABLES = ("detectors", "allowed_properties")
_FEED_FIELDS = ("tlp", "identity", "government")


def rebase(
    current: Mapping[str, Any], before: Mapping[str, Any], after: Mapping[str, Any]
) -> dict[str, Any]:
    """`current` with every setting that differs between `before` and `after` set as `after`
    has it; the others keep their value in `current`. When `current` is `before`, the result
    is `after`."""
    result = copy.deepcopy(dict(current))
    for key in _SCALARS:
        if before.get(key) != after.get(key):
            result[key] = copy.deepcopy(after.get(key))
    for key in _TABLES:
        old, new = before.get(key, {}), after.get(key, {})
        table = dict(result.get(key, {}))
        for name in set(old) | set(new):
            if old.get(name) == new.get(name):
                continue
            if name in new:
                table[name] = copy.deepcopy(new[name])
            else:
                table.pop(name, None)
        result[key] = dict(sorted(table.items()))
    old_feeds = {f["alias"]: f for f in before.get("feeds", [])}
    new_feeds = {f["alias"]: f for f in after.get("feeds", [])}
    feeds = {f["alias"]: dict(f) for f in result.get("feeds", [])}
    for alias in set(old_feeds) | set(new_feeds):
        old_feed, new_feed = old_feeds.get(alias), new_feeds.get(alias)
        if new_feed is None:
            feeds.pop(alias, None)
        elif old_feed is None or alias not in feeds:
            feeds[alias] = copy.deepcopy(dict(new_feed))
        else:
            for name in _FEED_FIELDS:
                if old_feed.get(name) != new_feed.get(name):
                    feeds[alias][name] = copy.deepcopy(new_feed.get(name))
    result["feeds"] = [feeds[alias] for alias in sorted(feeds)]
    return result


def describe_changes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """What changed from `old` to `new`, a line per setting, as people say it."""
    if old is None:
        return ["first version"]
    lines = _feed_changes(old, new)
    if old.get("default_tlp") != new.get("default_tlp"):
        lines.append(
            f"default TLP: {_upper(old.get('default_tlp'))} → {_upper(new.get('default_tlp'))}"
        )
    if old.get("unknown_marking") != new.get("unknown_marking"):
        lines.append(
            f"unknown markings: {old.get('unknown_marking')} → {new.get('unknown_marking')}"
        )
    old_actions, new_actions = old.get("detectors", {}), new.get("detectors", {})
    for name in sorted(set(old_actions) | set(new_actions)):
        if old_actions.get(name) != new_actions.get(name):
            lines.append(f"detector {name}: {old_actions.get(name)} → {new_actions.get(name)}")
    domains = _added_removed(old.get("internal_domains", []), new.get("internal_domains", []))
    if domains:
        lines.append(f"internal domains: {domains}")
    old_lists, new_lists = old.get("allowed_properties", {}), new.get("allowed_properties", {})
    for obj_type in sorted(set(old_lists) | set(new_lists)):
        before, after = old_lists.get(obj_type), new_lists.get(obj_type)
        if before == after:
            continue
        if after is None:
            lines.append(f"allowed properties of {obj_type}: no list any more (held for review)")
        elif before is None:
            lines.append(f"allowed properties of {obj_type}: listed, {', '.join(after)}")
        else:
            lines.append(f"allowed properties of {obj_type}: {_added_removed(before, after)}")
    return lines or ["no change in substance"]


def _feed_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    lines = []
    old_feeds = {f["alias"]: f for f in old.get("feeds", [])}
    new_feeds = {f["alias"]: f for f in new.get("feeds", [])}
    for alias in sorted(set(old_feeds) | set(new_feeds)):
        before, after = old_feeds.get(alias), new_feeds.get(alias)
        if before is None:
            assert after is not None
            lines.append(f"feed {alias} added, takes {', '.join(after['tlp']) or 'nothing'}")
            continue
        if after is None:
            lines.append(f"feed {alias} removed")
            continue
        added = [t for t in after["tlp"] if t not in before["tlp"]]
        removed = [t for t in before["tlp"] if t not in after["tlp"]]
        if added:
            lines.append(f"{alias} now takes {', '.join(a.upper() for a in added)}")
        if removed:
            lines.append(f"{alias} no longer takes {', '.join(r.upper() for r in removed)}")
        if before.get("identity") != after.get("identity"):
            lines.append(
                f"{alias}: submitter named {before.get('identity')} → {after.get('identity')}"
            )
    return lines


def _added_removed(before: list[str], after: list[str]) -> str:
    added = [item for item in after if item not in before]
    removed = [item for item in before if item not in after]
    parts = []
    if added:
        parts.append("added " + ", ".join(added))
    if removed:
        parts.append("removed " + ", ".join(removed))
    return "; ".join(parts)


def _upper(value: Any) -> str:
    return str(value).upper()
