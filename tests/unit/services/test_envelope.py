"""The streaming reader of JSON submissions agrees with orjson, a block at a time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from hub.errors import BadRequest, HubError, Unprocessable
from hub.services import envelope

BLOCK_SIZES = [1, 7, 64, 4096, envelope.BLOCK_SIZE]


def sample_objects(count: int) -> list[dict[str, Any]]:
    return [
        {
            "type": "indicator",
            "id": f"indicator--00000000-0000-4000-8000-{n:012d}",
            "name": 'ünïcödé ☃ 😀 \\ " \u2028' * (n % 3),
            "confidence": n,
            "ratio": n / 7,
            "labels": ["a", "b"] if n % 2 else [],
            "kill_chain_phases": [{"kill_chain_name": "k", "phase_name": "p"}],
            "nested": {"deeper": {"still": [None, True, False, -0.5e-3]}},
        }
        for n in range(count)
    ]


def check(body: bytes, block_size: int = envelope.BLOCK_SIZE, max_depth: int = 32) -> int:
    return envelope.check(envelope.blocks_of(body, block_size), max_depth)


def read(body: bytes, block_size: int = envelope.BLOCK_SIZE) -> list[Any]:
    return list(envelope.objects(envelope.blocks_of(body, block_size)))


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
@pytest.mark.parametrize("indent", [False, True])
def test_objects_are_what_orjson_reads_whatever_the_blocks(block_size: int, indent: bool) -> None:
    objects = sample_objects(40)
    body = orjson.dumps(
        {"type": "bundle", "id": "bundle--x", "objects": objects, "more": False},
        option=orjson.OPT_INDENT_2 if indent else 0,
    )
    assert check(body, block_size) == 40
    assert read(body, block_size) == orjson.loads(body)["objects"]


def test_an_object_larger_than_a_block_is_read_whole() -> None:
    big = {"type": "note", "content": "x" * (3 * envelope.BLOCK_SIZE + 17)}
    body = orjson.dumps({"objects": [big, {"type": "note"}]})
    assert check(body) == 2
    assert read(body) == [big, {"type": "note"}]


def test_objects_are_read_lazily_a_block_at_a_time() -> None:
    body = orjson.dumps({"objects": sample_objects(2000)})
    pulled = 0

    def blocks() -> Iterator[memoryview]:
        nonlocal pulled
        for block in envelope.blocks_of(body, 4096):
            pulled += 1
            yield block

    first = next(envelope.objects(blocks()))
    assert first["confidence"] == 0
    assert pulled <= 2 < len(body) // 4096


def test_numbers_are_read_as_orjson_reads_them() -> None:
    body = (
        b'{"objects": [{"n": 123456789012345678901234567890, "m": -9223372036854775808,'
        b' "u": 18446744073709551615}]}'
    )
    assert read(body) == orjson.loads(body)["objects"]
    assert check(body) == 1


MALFORMED = [
    b'{"objects": [\n  {"type": "indicator",}\n]}',
    b'{"objects": [',
    b'{"objects": [{"a": 1}',
    b'{"objects": [{"a": tru}]}',
    b'{"objects": [{"a": 01}]}',
    b'{"objects": [{"a": "\x01"}]}',
    b'{"objects": [{"a": "x}]}',
    b'{"objects": [{"a" 1}]}',
    b'{"objects": [{"a": 1} {"b": 2}]}',
    b'{"objects": [1, 2,]}',
    b'{"objects": []} []',
    b'{"objects": [], }',
    b'{"objects": [] "x": 1}',
    b"{objects: []}",
    b'\n\n   {"type": "bundle", "objects": [{"a": [1, 2, {"b": }]}]}',
    b"",
    b"   ",
    b"[1, 2",
    b'"just a string',
]


@pytest.mark.parametrize("block_size", [1, 5, 4096])
@pytest.mark.parametrize("body", MALFORMED)
def test_malformed_json_is_400_at_a_line_and_column(body: bytes, block_size: int) -> None:
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)
    with pytest.raises(BadRequest) as caught:
        check(body, block_size)
    message = str(caught.value)
    assert message.startswith("the body is not valid JSON: ")
    assert ", column " in message
    assert message == error_reading_at_once(body)


def error_reading_at_once(body: bytes) -> str:
    """The error for the body read in one block: the place must not depend on the blocks."""
    with pytest.raises(BadRequest) as whole:
        envelope.check([body], 32)
    return str(whole.value)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"objects": [\n  {"type": "indicator",}\n]}',
            "trailing comma is not allowed at line 2, column 23",
        ),
        (b'{"objects": [', "unexpected end of data at line 1, column 14"),
        (b"", "unexpected end of data at line 1, column 1"),
        (b'{"objects": [{"a": tru}]}', "at line 1, column 20"),
        (b'{"objects": [{"a": NaN}]}', "at line 1, column 20"),
        (b'{"objects": [{"a": "\\ud800"}]}', "surrogate"),
        (b'{"objects": ["\xff"]}', "UTF-8"),
        (b'{"objects": ["\xc3"]}', "UTF-8"),
        (b'{"objects": [1]} x', "unexpected content after document at line 1, column 18"),
    ],
)
def test_malformed_json_names_what_and_where(body: bytes, expected: str) -> None:
    for block_size in (1, 3, 4096):
        with pytest.raises(BadRequest, match="not valid JSON") as caught:
            check(body, block_size)
        assert expected in str(caught.value)


def test_line_and_column_agree_with_orjson_deep_in_a_large_body() -> None:
    body = orjson.dumps({"objects": sample_objects(3000)}, option=orjson.OPT_INDENT_2)
    at = body.index(b'"confidence": 2500')
    broken = body[:at] + b'"confidence": 2500,,' + body[at + len(b'"confidence": 2500,') :]
    with pytest.raises(orjson.JSONDecodeError) as reference:
        orjson.loads(broken)
    for block_size in (4096, envelope.BLOCK_SIZE):
        with pytest.raises(BadRequest) as caught:
            check(broken, block_size)
        where = f"line {reference.value.lineno}, column {reference.value.colno}"
        assert str(caught.value).endswith(f"{reference.value.msg} at {where}")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[1, 2]", "a JSON object with 'objects'"),
        (b'"text"', "a JSON object with 'objects'"),
        (b'{"type": "bundle"}', "the bundle has no 'objects' list"),
        (b'{"id": "x"}', "envelope with 'objects'"),
        (b'{"objects": {}}', "'objects' must be a list"),
        (b'{"objects": [], "objects": []}', "more than one 'objects'"),
    ],
)
def test_well_formed_json_of_the_wrong_shape_is_422(body: bytes, message: str) -> None:
    with pytest.raises(Unprocessable, match=message):
        check(body)


def test_syntax_errors_anywhere_come_before_the_shape() -> None:
    with pytest.raises(BadRequest, match="not valid JSON"):
        check(b'{"type": "bundle", "x": [1,]}')
    with pytest.raises(BadRequest, match="not valid JSON"):
        check(b"[1, 2] x")


def nested(depth: int) -> bytes:
    """An envelope whose one object nests `depth` levels counting the envelope as level 1."""
    inner = "[" * (depth - 2) + "]" * (depth - 2)
    return f'{{"objects": [{{"a": {inner or 1}}}]}}'.encode()


def test_nesting_is_counted_from_the_envelope() -> None:
    assert check(nested(32), max_depth=32) == 1
    with pytest.raises(BadRequest, match="nested deeper than 32"):
        check(nested(33), max_depth=32)


def test_a_nesting_bomb_is_refused_without_parsing_it_whole() -> None:
    body = b'{"objects": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
    with pytest.raises(HubError) as caught:
        check(body)
    assert caught.value.status == 400
    assert "deeper than 32" in str(caught.value)
