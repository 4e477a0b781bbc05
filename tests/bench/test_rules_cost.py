"""The rules-cost benchmark in a short run on SQLite: every part is timed, the rules' parts only
where the rules run, and the storage layouts are written and read back."""

from __future__ import annotations

from pathlib import Path

import orjson

from bench import rules_cost


def test_a_short_run_times_every_part_and_every_layout(tmp_path: Path) -> None:
    code = rules_cost.main(
        [
            "--backends=sqlite",
            "--objects=300",
            "--submissions=1",
            "--rounds=1",
            "--preload=2000",
            "--chunks=2",
            "--reads=2",
            f"--results-dir={tmp_path}",
            "--tag=test",
        ]
    )
    assert code == 0
    (raw,) = tmp_path.glob("rules_cost-*-test.json")
    data = orjson.loads(raw.read_bytes())
    runs = {run["mode"]: run for run in data["pipeline"]}
    assert set(runs) == {"trust", "rules"}
    assert all(run["objects"] == 300 for run in runs.values())
    trust, rules = runs["trust"]["parts_us"], runs["rules"]["parts_us"]
    for part in (rules_cost.DECIDE, rules_cost.RENDER, rules_cost.STORE_FEEDS, rules_cost.RECEIPTS):
        assert trust[part] == 0 < rules[part]  # the rules' own parts run only with the rules
    for part in (rules_cost.VALIDATE, rules_cost.LOCKED, rules_cost.STORE_TARGET):
        assert trust[part] > 0 and rules[part] > 0
    layouts = data["layouts"]
    assert list(layouts) == list(rules_cost.LAYOUTS)
    assert all(len(found["write_us"]) == 2 for found in layouts.values())
    for name in ("today", "one-release-row"):  # each page held 1,000 objects, or it raised
        assert set(layouts[name]["read_ms"]) == {"dense", "sparse"}
    report = (tmp_path / raw.name.replace(".json", ".md")).read_text(encoding="utf-8")
    assert "## The pipeline on sqlite" in report and "## Storage alone" in report
