"""Shared fixtures: databases (SQLite and PostgreSQL), hubs, and a live server on loopback."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.services import Hub
from tests.support import postgres, redis_server
from tests.support.hubs import LiveServer, World, make_hub, make_world


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    try:
        with postgres.postgres_server() as url:
            yield url
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def pg_schema_url(postgres_url: str) -> Iterator[str]:
    with postgres.schema(postgres_url, f"t_{uuid.uuid4().hex[:12]}") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    url: str = request.getfixturevalue("pg_schema_url")
    return url


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """A hub on SQLite, initialised."""
    instance = make_hub(tmp_path / "var")
    yield instance
    instance.close()


@pytest.fixture
def any_hub(tmp_path: Path, database_url: str) -> Iterator[Hub]:
    """A hub on each storage engine in turn."""
    instance = make_hub(tmp_path / "var", database_url)
    yield instance
    instance.close()


@pytest.fixture
def world(hub: Hub) -> World:
    return make_world(hub)


@pytest.fixture
def server(world: World) -> Iterator[LiveServer]:
    live = LiveServer(world.hub)
    yield live
    live.stop()


@pytest.fixture
def engine_server(tmp_path: Path, database_url: str) -> Iterator[tuple[World, LiveServer]]:
    """A world served from each storage engine in turn."""
    hub = make_hub(tmp_path / "var", database_url)
    world = make_world(hub)
    live = LiveServer(hub)
    yield world, live
    live.stop()
    hub.close()


@pytest.fixture(scope="session")
def shared_redis_url() -> str:
    """The machine's Redis (tests using it name their keys uniquely and never flush it); a
    private server when none answers."""
    if redis_server.answers(redis_server.SHARED_URL):
        return redis_server.SHARED_URL
    private = request_private_redis()
    return private.url


_PRIVATE: list[redis_server.PrivateRedis] = []


def request_private_redis() -> redis_server.PrivateRedis:
    try:
        server = redis_server.PrivateRedis()
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    _PRIVATE.append(server)
    return server


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for server in _PRIVATE:
        server.destroy()


@pytest.fixture
def private_redis() -> Iterator[redis_server.PrivateRedis]:
    """A Redis of this test's own, to restart or flush."""
    try:
        server = redis_server.PrivateRedis()
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.destroy()
