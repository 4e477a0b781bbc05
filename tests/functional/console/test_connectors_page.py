"""The connectors' status page: what each connector's state file says, to admins and analysts."""

from __future__ import annotations

from pathlib import Path

from connectors.runner import state_path
from connectors.state import StateStore
from hub.app import create_app
from hub.config import load_settings
from hub.services import Hub, setup
from tests.support.console import Console, add_staff
from tests.support.hubs import make_world


def test_the_page_shows_each_connectors_state_to_staff_only(tmp_path: Path) -> None:
    (tmp_path / "drop").mkdir()
    (tmp_path / "hub.key").write_text("hk_x:hks_y\n")
    config = tmp_path / "hub.toml"
    config.write_text(
        f'[storage]\ndata_dir = "{tmp_path / "var"}"\n'
        '[connectors.drop]\nkind = "directory"\npath = "drop"\n'
        'hub_url = "http://127.0.0.1:9"\nhub_key_file = "hub.key"\n'
        '[connectors.quiet]\nkind = "directory"\npath = "drop"\n'
        'hub_url = "http://127.0.0.1:9"\nhub_key_file = "hub.key"\n'
    )
    settings = load_settings(str(config), env={})
    hub = Hub.open(settings)
    setup.init(hub, admin_password="an admin password for tests")
    staff = add_staff(make_world(hub))
    path = state_path(settings, "drop")
    path.parent.mkdir(parents=True, exist_ok=True)
    store = StateStore.open(path)
    run = store.start_run()
    store.count(fetched=7, submitted=5, failed=2)
    store.put("last_error", "the hub answered 503 three times")
    store.finish_run(run, "failed", "the hub answered 503 three times")
    store.close()
    app = create_app(settings, hub, start_worker=False)
    try:
        analyst = Console(app)
        analyst.sign_in(staff.analyst.email)
        page = analyst.get("/console/connectors")
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert "drop" in text and "quiet" in text
        assert "fetched 7" in text and "submitted 5" in text and "failed 2" in text
        assert "the hub answered 503 three times" in text
        assert "never run" in text  # the connector with no state file yet
        member_admin = Console(app)
        member_admin.sign_in(staff.member_admin.email)
        assert member_admin.get("/console/connectors").status_code == 403
    finally:
        hub.close()
