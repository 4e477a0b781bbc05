"""MISP events to STIX 2.1, with misp-stix (the MISP project's own converter).

A MISP feed is a folder with a `manifest.json` (event uuid → the event's summary, including its
`timestamp`) and one `<uuid>.json` per event (`{"Event": {...}}`). An event is imported when it
is new or its timestamp changed. misp-stix turns an event into a report (or grouping) with
indicators, observed-data and their observables; STIX ids follow the MISP uuids and versions the
MISP timestamps, so an unchanged attribute converts to the version the hub already holds.

misp-stix puts the event's TLP tag on the report only. A sharing hub decides per object, so the
event's TLP markings are copied onto every converted object that carries no TLP of its own
(an attribute's own TLP tag wins), and the connector's `tlp` setting applies to what is left.
"""

from __future__ import annotations

import warnings
from typing import Any

import orjson

from connectors.retry import ConnectorError
from hub.push import TLP_MARKINGS, mark

MANIFEST = "manifest.json"


class MispError(ValueError):
    """An event that cannot be read or converted; the message says why."""


def _parser() -> Any:
    try:
        with warnings.catch_warnings():
            # misp-stix's STIX 1 dependencies (six, mixbox) warn while being imported.
            warnings.simplefilter("ignore")
            from misp_stix_converter import MISPtoSTIX21Parser
    except ImportError:
        raise ConnectorError(
            "MISP feeds need the misp-stix package: pip install 'sharing-hub[misp]'"
        ) from None
    return MISPtoSTIX21Parser()


def read_manifest(raw: bytes) -> dict[str, str]:
    """event uuid → its timestamp, from a feed's manifest.json."""
    try:
        manifest = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MispError(f"{MANIFEST} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise MispError(f"{MANIFEST} must map event uuids to event summaries")
    events = {}
    for uuid, summary in manifest.items():
        if not isinstance(summary, dict) or "timestamp" not in summary:
            raise MispError(f"{MANIFEST}: event {uuid} has no timestamp")
        events[str(uuid)] = str(summary["timestamp"])
    return events


def event_objects(raw: bytes, tlp: str | None = None) -> list[dict[str, Any]]:
    """The STIX 2.1 objects of one MISP event file, each marked with a TLP when it has none."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MispError(f"not valid JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("Event"), dict):
        raise MispError('not a MISP event: expected {"Event": {...}}')
    parser = _parser()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parser.parse_misp_event(document)
            bundle = orjson.loads(parser.bundle.serialize())
    except Exception as exc:  # misp-stix raises many kinds; each is this event's problem
        raise MispError(f"misp-stix cannot convert it: {type(exc).__name__}: {exc}") from None
    objects: list[dict[str, Any]] = bundle.get("objects", [])
    return _spread_markings(objects, document["Event"], tlp)


def _spread_markings(
    objects: list[dict[str, Any]], event: dict[str, Any], tlp: str | None
) -> list[dict[str, Any]]:
    tlp_ids = {
        o["id"]
        for o in objects
        if o.get("type") == "marking-definition"
        and (o.get("definition_type") == "tlp" or str(o.get("name", "")).lower().startswith("tlp:"))
    }
    container = next(
        (
            o
            for o in objects
            if o.get("type") in ("report", "grouping")
            and str(o.get("id", "")).endswith(str(event.get("uuid", "")))
        ),
        None,
    )
    event_tlp = [ref for ref in (container or {}).get("object_marking_refs", []) if ref in tlp_ids]
    result = []
    for obj in objects:
        own = set(obj.get("object_marking_refs") or [])
        if obj.get("type") != "marking-definition" and not own & tlp_ids:
            for ref in event_tlp:
                obj = mark(obj, ref)
        result.append(obj)
    if tlp:
        result = [mark(obj, TLP_MARKINGS[tlp]) for obj in result]
    return result
