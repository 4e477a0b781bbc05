"""While the database is down the hub says so, 503 with Retry-After, and logs one line
without the statement or its parameters; when it is back, the same client goes on."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from hub.services import Hub
from tests.support.hubs import LiveServer, World, make_hub, make_world
from tests.support.postgres import PrivatePostgres, server_bindir
from tests.support.stix import TAXII

pytestmark = pytest.mark.postgres


@pytest.fixture
def outage(tmp_path: Path) -> Iterator[tuple[PrivatePostgres, World, LiveServer]]:
    bindir = server_bindir()
    if bindir is None:
        pytest.fail("PostgreSQL server binaries are needed: apt-get install postgresql")
    server = PrivatePostgres(bindir)
    server.start()
    hub: Hub = make_hub(tmp_path / "var", server.url)
    world = make_world(hub)
    live = LiveServer(hub)
    try:
        yield server, world, live
    finally:
        live.stop()
        hub.close()
        server.destroy()


def test_a_request_while_the_database_is_down_is_a_503_to_retry(
    outage: tuple[PrivatePostgres, World, LiveServer], caplog: pytest.LogCaptureFixture
) -> None:
    server, world, live = outage
    url = live.collection_url(world.trust_group_id) + "objects/"
    headers = {"Accept": TAXII}
    assert requests.get(url, headers=headers, auth=world.acme.basic, timeout=10).status_code == 200

    server.stop("immediate")
    with caplog.at_level(logging.WARNING):
        down = requests.get(url, headers=headers, auth=world.acme.basic, timeout=30)
    assert down.status_code == 503
    assert down.headers["Retry-After"] == "2"
    assert down.headers["Content-Type"].startswith("application/taxii+json")
    assert down.json()["title"] == "Service unavailable"
    lines = [r for r in caplog.records if r.name == "hub.app"]
    assert [r.levelno for r in lines] == [logging.WARNING]
    assert "database unavailable on GET" in lines[0].getMessage()
    assert lines[0].exc_info is None
    # No statement or parameter (such as the key's digest) anywhere in what was logged.
    assert world.acme.key_id not in caplog.text
    assert "SELECT" not in caplog.text

    server.start()
    back = requests.get(url, headers=headers, auth=world.acme.basic, timeout=30)
    assert back.status_code == 200
