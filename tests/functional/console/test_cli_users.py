from __future__ import annotations

from pathlib import Path

import orjson
from click.testing import CliRunner

from hub.cli import main
from hub.services import Hub, membership
from tests.support.hubs import add_account, make_hub


def test_hub_user_add_list_suspend(tmp_path: Path) -> None:
    hub: Hub = make_hub(tmp_path / "var")
    acme = add_account(hub, "Acme Bank", "industry")
    config = tmp_path / "hub.toml"
    config.write_text(f'[storage]\ndata_dir = "{tmp_path / "var"}"\n')
    runner = CliRunner()

    def run(*args: str) -> object:
        result = runner.invoke(main, ["--config", str(config), "--json", *args])
        assert result.exit_code == 0, result.output
        return orjson.loads(result.output)

    added = run(
        "user",
        "add",
        "soc@acme.example",
        "--role",
        "member-admin",
        "--member",
        "Acme Bank",
        "--require-totp",
    )
    assert isinstance(added, dict)
    assert (added["role"], added["member_id"], added["totp_required"]) == (
        "member-admin",
        acme.member.id,
        True,
    )
    assert len(added["password"]) >= 12
    listed = run("user", "list")
    assert isinstance(listed, list)
    assert {u["email"] for u in listed} == {"admin@hub.local", "soc@acme.example"}
    assert all("password" not in u for u in listed)
    run("user", "suspend", "soc@acme.example")
    found = membership.find_user(hub, "soc@acme.example")
    assert found is not None and found.status == "suspended"
    refused = runner.invoke(
        main, ["--config", str(config), "user", "add", "x@y.example", "--role", "member-admin"]
    )
    assert refused.exit_code == 1
    assert "needs --member" in refused.output
    hub.close()
