"""The directory connector: a folder of STIX bundles, CSV and text lists, and a MISP feed made
by the test, imported into a real hub by `hub connector run` processes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.storage import tables
from tests.support.connectors import (
    LiveHub,
    Proxy,
    connector_status,
    crash_then_run,
    live_hub,
    run_connector,
    write_config,
    write_secret,
)
from tests.support.stix import indicator

TLP1_GREEN = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
TLP1_WHITE = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
ORG = {"name": "CIRCL test org", "uuid": "55f6ea5e-2c60-40e5-964f-47a8950d210f"}
EVENT_1 = "5a0a9c6e-7d1c-4e6b-9b0f-0c2a0f0e6c11"
EVENT_2 = "5a0a9c6e-7d1c-4e6b-9b0f-0c2a0f0e6c12"


@pytest.fixture
def target(tmp_path: Path) -> Iterator[LiveHub]:
    yield from live_hub(tmp_path / "target")


def attribute(uuid: str, kind: str, value: str, timestamp: int, **extra: Any) -> dict[str, Any]:
    category = "Payload delivery" if kind in ("md5", "sha256", "filename") else "Network activity"
    return {
        "uuid": uuid,
        "type": kind,
        "category": category,
        "to_ids": True,
        "value": value,
        "timestamp": str(timestamp),
        "comment": "",
        **extra,
    }


def misp_event(uuid: str, info: str, tag: str, timestamp: int, attributes: list[Any]) -> Any:
    return {
        "Event": {
            "uuid": uuid,
            "info": info,
            "date": "2026-01-10",
            "timestamp": str(timestamp),
            "publish_timestamp": str(timestamp),
            "published": True,
            "threat_level_id": "2",
            "analysis": "2",
            "Orgc": ORG,
            "Tag": [{"name": tag}],
            "Attribute": attributes,
            "Object": [],
        }
    }


def write_feed(folder: Path, events: list[Any]) -> None:
    """A MISP feed as MISP writes one: manifest.json and <uuid>.json per event."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for event in events:
        body = event["Event"]
        (folder / f"{body['uuid']}.json").write_text(json.dumps(event), encoding="utf-8")
        manifest[body["uuid"]] = {
            "info": body["info"],
            "Orgc": body["Orgc"],
            "Tag": body["Tag"],
            "date": body["date"],
            "analysis": body["analysis"],
            "threat_level_id": body["threat_level_id"],
            "timestamp": body["timestamp"],
        }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def first_event(timestamp: int = 1768000000, extra: list[Any] | None = None) -> Any:
    attributes = [
        attribute("6b1f6f0e-1c4e-4c9e-8c3a-3d1e1f0e6c21", "ip-dst", "203.0.113.7", 1768000000),
        attribute("6b1f6f0e-1c4e-4c9e-8c3a-3d1e1f0e6c22", "domain", "evil.example", 1768000000),
        attribute(
            "6b1f6f0e-1c4e-4c9e-8c3a-3d1e1f0e6c23",
            "sha256",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            1768000000,
        ),
        *(extra or []),
    ]
    return misp_event(EVENT_1, "Phishing wave", "tlp:green", timestamp, attributes)


def second_event() -> Any:
    attributes = [
        attribute("7b1f6f0e-1c4e-4c9e-8c3a-3d1e1f0e6c31", "url", "http://bad.example/x", 1768000500)
    ]
    return misp_event(EVENT_2, "Open scan", "tlp:white", 1768000500, attributes)


def inbox(hub: LiveHub) -> dict[str, list[dict[str, Any]]]:
    """id → the versions the inbox stores, as stored."""
    rows = tables.object_versions
    with hub.world.hub.db.read() as conn:
        found = conn.execute(
            select(rows.c.object_id, rows.c.body).where(
                rows.c.collection_id == hub.world.collection_ids["inbox"]
            )
        ).all()
    result: dict[str, list[dict[str, Any]]] = {}
    for object_id, body in found:
        result.setdefault(object_id, []).append(json.loads(body))
    return result


def test_a_folder_and_a_misp_feed_are_imported_once_even_across_a_kill(
    tmp_path: Path, target: LiveHub
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    bundle = [indicator(f"198.51.100.{n}") for n in range(1, 4)]
    (drop / "bundle.json").write_text(json.dumps({"type": "bundle", "objects": bundle}))
    (drop / "list.csv").write_text(
        "type,value,tlp\nipv4,192.0.2.10,green\ndomain,bad.example.org,green\n", encoding="utf-8"
    )
    (drop / "iocs.txt").write_text("192.0.2.20\nmalware.example.net\n", encoding="utf-8")
    (drop / "broken.json").write_text('{"objects": [', encoding="utf-8")
    (drop / "coming.json.part").write_text("{", encoding="utf-8")
    write_feed(drop / "misp", [first_event(), second_event()])
    write_secret(tmp_path / "hub.key", f"{target.world.acme.key_id}:{target.world.acme.secret}")
    proxy = Proxy(target.server.url)
    proxy.hold = lambda seen: len(proxy.posted("/api/v1/submissions")) == 2
    config = write_config(
        tmp_path / "connectors.toml",
        {
            "drop": {
                "kind": "directory",
                "path": "drop",
                "hub_url": proxy.url,
                "hub_key_file": "hub.key",
                "tlp": "amber",
            }
        },
    )
    try:
        code, report, stderr = crash_then_run(config, "drop", proxy, tmp_path / "run1.log")
        assert code == 0, stderr
        assert report["outcome"] == "ok"

        stored = inbox(target)
        assert {o["id"] for o in bundle} <= set(stored)
        patterns = {v[0].get("pattern") for v in stored.values()}
        for value in ("192.0.2.10", "bad.example.org", "192.0.2.20", "malware.example.net"):
            assert any(value in (p or "") for p in patterns), value
        # misp-stix's ids follow the MISP uuids; every converted object carries the event's TLP.
        misp_indicators = [
            "indicator--6b1f6f0e-1c4e-4c9e-8c3a-3d1e1f0e6c21",
            "indicator--6b1f6f0e-1c4e-4c9e-8c3a-3d1e1f0e6c22",
            "indicator--6b1f6f0e-1c4e-4c9e-8c3a-3d1e1f0e6c23",
        ]
        for object_id in misp_indicators:
            assert TLP1_GREEN in stored[object_id][0]["object_marking_refs"]
        scan = stored["indicator--7b1f6f0e-1c4e-4c9e-8c3a-3d1e1f0e6c31"][0]
        assert TLP1_WHITE in scan["object_marking_refs"]
        # The objects without a TLP of their own got the connector's tlp (amber, TLP 2.0).
        assert stored[bundle[0]["id"]][0]["object_marking_refs"] == [
            "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
        ]
        # Every batch made one submission: the one whose answer was lost was not made twice.
        posts = proxy.posted("/api/v1/submissions")
        submissions, _ = target.submitted_objects()
        assert len(posts) == submissions + 1
        assert len({p.body for p in posts}) == submissions

        status = connector_status(config, "drop")
        assert status["items"] == {"done": 5, "failed": 1}
        assert "broken.json: not valid JSON" in status["failed_items"][0]["error"]
        assert (drop / "broken.json").exists()

        # Nothing changed: nothing is sent.
        code, report, stderr = run_connector(config, "drop")
        assert (code, report["fetched"], report["submitted"]) == (0, 0, 0), stderr

        # The feed updates one event: only it is read again, and only its new version sent.
        new = attribute(
            "6b1f6f0e-1c4e-4c9e-8c3a-3d1e1f0e6c24", "ip-dst", "203.0.113.99", 1768009000
        )
        write_feed(drop / "misp", [first_event(1768009000, [new]), second_event()])
        code, report, stderr = run_connector(config, "drop")
        assert code == 0, stderr
        assert target.submitted_objects()[0] == submissions + 1
        stored = inbox(target)
        assert "indicator--6b1f6f0e-1c4e-4c9e-8c3a-3d1e1f0e6c24" in stored
        assert all(
            len(versions) == 1
            for object_id, versions in stored.items()
            if object_id.startswith("indicator--6b1f6f0e")
        )
        assert connector_status(config, "drop")["counters"]["skipped"] > 0
    finally:
        proxy.stop()


def test_imported_files_move_to_the_archive_and_a_changed_file_is_imported_again(
    tmp_path: Path, target: LiveHub
) -> None:
    drop, archive = tmp_path / "drop", tmp_path / "done"
    drop.mkdir()
    (drop / "a.txt").write_text("192.0.2.30\n", encoding="utf-8")
    write_secret(tmp_path / "hub.key", f"{target.world.acme.key_id}:{target.world.acme.secret}")
    config = write_config(
        tmp_path / "connectors.toml",
        {
            "drop": {
                "kind": "directory",
                "path": "drop",
                "archive_dir": "done",
                "hub_url": target.server.url,
                "hub_key_file": "hub.key",
            }
        },
    )
    code, report, stderr = run_connector(config, "drop")
    assert (code, report["submitted"]) == (0, 1), stderr
    assert not (drop / "a.txt").exists()
    assert (archive / "a.txt").read_text() == "192.0.2.30\n"
    (drop / "a.txt").write_text("192.0.2.31\n", encoding="utf-8")
    code, report, stderr = run_connector(config, "drop")
    assert (code, report["submitted"]) == (0, 1), stderr
    assert (archive / "a.1.txt").read_text() == "192.0.2.31\n"
    assert target.submitted_objects() == (2, 2)
