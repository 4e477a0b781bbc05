"""Every fuzz target also fails on an error the hub logs, answered with a 5xx or not: an
exception in the pipeline or a worker thread counts as much as one in a view."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def no_error_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.ERROR, logger="hub")
    yield
    errors = [
        f"{record.name}: {record.getMessage()}"
        for record in caplog.get_records("call")
        if record.levelno >= logging.ERROR and record.name.startswith("hub")
    ]
    assert errors == [], "the hub logged errors while fuzzed"
