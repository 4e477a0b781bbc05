"""The member REST API fuzzed with schemathesis from its own OpenAPI description: whatever
arrives, no 5xx, and every answer is one the description allows (status, media type, shape)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import hub.api
from tests.fuzz.budget import fuzz_settings
from tests.support.hubs import LiveServer, World, make_hub, make_world

SPEC = json.loads((Path(hub.api.__file__).parent / "openapi.json").read_text())
schema = schemathesis.openapi.from_dict(SPEC)
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, LiveServer]]:
    hub = make_hub(tmp_path_factory.mktemp("fuzz") / "var", limits={"requests_per_minute": 0})
    world = make_world(hub)
    live = LiveServer(hub)
    yield world, live
    live.stop()
    hub.close()


@schema.parametrize()
@fuzz_settings(40)
def test_api_answers_every_input_as_described(
    case: schemathesis.Case, served: tuple[World, LiveServer]
) -> None:
    world, live = served
    response = case.call(base_url=live.url, auth=world.acme.basic, timeout=30)
    case.validate_response(response, checks=CHECKS)
