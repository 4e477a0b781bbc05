"""`hub review`, `hub policy` and `hub keys` as an operator runs them: real processes."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from hub.auth.principal import Principal
from hub.config import load_settings, replace
from hub.services import Hub, ingest
from hub.services.context import Hub as HubType
from hub.stix.markings import TLP2_MARKING_IDS
from tests.functional.test_cli import run, run_json
from tests.support.stix import TAXII, indicator

UNKNOWN = "marking-definition--5f0e4b3a-9c1d-4e2f-8a7b-6c5d4e3f2a1b"


def _hub(tmp_path: Path) -> HubType:
    settings = replace(load_settings(None, env={}), storage={"data_dir": str(tmp_path / "var")})
    return Hub.open(settings)


def _bundle(*objects: dict[str, Any]) -> dict[str, Any]:
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(objects)}


def _submit(tmp_path: Path, member: dict[str, Any], *objects: dict[str, Any]) -> None:
    """Submit as the member would over TAXII (in-process; small, so processed inline)."""
    hub = _hub(tmp_path)
    principal = Principal(
        member["id"], member["name"], member["kind"], None, "hk_test", frozenset({"write"})
    )
    try:
        body = json.dumps({"objects": list(objects)}).encode()
        _, status = ingest.submit(hub, principal, "inbox", body, TAXII, channel="taxii")
        assert status.status == "complete"
    finally:
        hub.close()


def test_policy_history_show_and_preview(tmp_path: Path) -> None:
    run(tmp_path, "init", "--admin-password", "a strong admin password")
    member = run_json(
        tmp_path, "member", "add", "Acme Bank", "--kind", "industry", "--alias", "acme.example"
    )
    assert member["aliases"] == ["acme.example"]
    history = run_json(tmp_path, "policy", "history")
    assert [v["version"] for v in history] == [1]
    assert history[0]["source"] == "config"
    shown = run_json(tmp_path, "policy", "show")
    assert shown["version"] == 1
    assert shown["warnings"] == []
    assert {f["alias"]: f["tlp"] for f in shown["feeds"]} == {
        "government": ["clear", "green", "amber"],
        "members": ["clear", "green", "amber"],
        "public": ["clear"],
    }

    green = indicator(
        "198.51.100.20",
        object_marking_refs=[TLP2_MARKING_IDS["green"]],
        description="seen at acme.example by jane@acme.example",
    )
    red = indicator("198.51.100.21", object_marking_refs=[TLP2_MARKING_IDS["red"]])
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(_bundle(green, red)))
    preview = run_json(tmp_path, "policy", "preview", str(bundle), "--member", "Acme Bank")
    feeds = {f["alias"]: f for f in preview["feeds"]}
    (released,) = feeds["members"]["released"]
    assert released["id"] == green["id"]
    assert released["description"].startswith("seen at Member ")
    assert "[REDACTED:email]" in released["description"]
    assert "acme" not in json.dumps(released).lower()
    assert {e["id"]: e["reason"] for e in feeds["members"]["not_released"]} == {
        red["id"]: "TLP:RED is never released to a feed"
    }
    assert feeds["public"]["released"] == []
    text = run(tmp_path, "policy", "preview", str(bundle), "--member", "Acme Bank").stdout
    assert "== feed members: 1 released (submitter pseudonymised)" in text
    assert f"- {red['id']}: TLP:RED is never released to a feed" in text

    # Changing the configured policy records a new version on the next start.
    config = tmp_path / "hub.toml"
    config.write_text('[sharing]\ndefault_tlp = "red"\n')
    run(tmp_path, "--config", str(config), "init")
    history = run_json(tmp_path, "--config", str(config), "policy", "history")
    assert [v["version"] for v in history] == [1, 2]


def test_review_list_show_approve_and_reject(tmp_path: Path) -> None:
    run(tmp_path, "init", "--admin-password", "a strong admin password")
    member = run_json(tmp_path, "member", "add", "Acme Bank", "--kind", "industry")
    first = indicator("198.51.100.30", object_marking_refs=[UNKNOWN, TLP2_MARKING_IDS["green"]])
    second = indicator(
        "198.51.100.31",
        object_marking_refs=[UNKNOWN],
        description="call +44 20 7946 0958",
    )
    _submit(tmp_path, member, first, second)

    items = run_json(tmp_path, "review", "list")
    assert {i["object_id"] for i in items} == {first["id"], second["id"]}
    by_object = {i["object_id"]: i for i in items}
    shown = run(tmp_path, "review", "show", by_object[second["id"]]["id"]).stdout
    assert "»+44 20 7946 0958«" in shown
    assert "unknown marking definition" in shown

    edited = {**first, "name": "Checked by the analyst"}
    edited_file = tmp_path / "edited.json"
    edited_file.write_text(json.dumps(edited))
    approved = run_json(
        tmp_path,
        "review",
        "approve",
        by_object[first["id"]]["id"],
        "--edited",
        str(edited_file),
        "--by",
        "analyst@hub.local",
    )
    assert approved["state"] == "approved"
    assert approved["decided_by"] == "analyst@hub.local"
    assert approved["outcome"] == "released to government, members"
    rejected = run_json(tmp_path, "review", "reject", by_object[second["id"]]["id"])
    assert rejected["state"] == "rejected"
    assert run_json(tmp_path, "review", "list") == []
    assert len(run_json(tmp_path, "review", "list", "--state", "all")) == 2
    again = run(tmp_path, "review", "reject", by_object[second["id"]]["id"], check=False)
    assert again.returncode == 1
    assert "already rejected" in again.stderr

    hub = _hub(tmp_path)
    try:
        from hub.storage.collections import CollectionRepository
        from hub.storage.objects import ObjectRepository

        with hub.db.read() as conn:
            members_feed = CollectionRepository(conn).find("members")
            assert members_feed is not None
            body = ObjectRepository(conn).latest_body(members_feed.id, first["id"])
        assert body is not None and json.loads(body)["name"] == "Checked by the analyst"
    finally:
        hub.close()


def test_rotating_pseudonyms_changes_them_for_new_objects_only(tmp_path: Path) -> None:
    run(tmp_path, "init", "--admin-password", "a strong admin password")
    member = run_json(tmp_path, "member", "add", "Acme Bank", "--kind", "industry")
    before = indicator("198.51.100.40", object_marking_refs=[TLP2_MARKING_IDS["green"]])
    _submit(tmp_path, member, before)

    refused = run(tmp_path, "keys", "rotate-pseudonyms", check=False)
    assert refused.returncode != 0
    assert "--yes" in refused.stderr
    assert run_json(tmp_path, "keys", "rotate-pseudonyms", "--yes") == {"epoch": 2}

    after = indicator("198.51.100.41", object_marking_refs=[TLP2_MARKING_IDS["green"]])
    newer = {**before, "modified": "2026-02-01T00:00:00.000Z", "name": "updated"}
    _submit(tmp_path, member, after, newer)
    hub = _hub(tmp_path)
    try:
        from hub.storage.collections import CollectionRepository
        from hub.storage.objects import ObjectRepository

        with hub.db.read() as conn:
            feed = CollectionRepository(conn).find("members")
            assert feed is not None
            repo = ObjectRepository(conn)
            creators = {
                object_id: json.loads(repo.latest_body(feed.id, object_id) or "{}")
                for object_id in (before["id"], after["id"])
            }
    finally:
        hub.close()
    # The new object has the new epoch's pseudonym; the new version of the old object keeps
    # the pseudonym it was first released under.
    assert creators[before["id"]]["name"] == "updated"
    assert creators[before["id"]]["created_by_ref"] != creators[after["id"]]["created_by_ref"]


def test_an_alias_that_would_rewrite_stix_names_is_refused_with_its_reason(tmp_path: Path) -> None:
    run(tmp_path, "init", "--admin-password", "a strong admin password")
    refused = run(
        tmp_path, "member", "add", "Lab Co", "--kind", "industry", "--alias", "Lab", check=False
    )
    assert refused.returncode != 0
    assert "alias 'Lab'" in refused.stderr
    assert "'labels'" in refused.stderr
    assert run_json(tmp_path, "member", "list") == []
