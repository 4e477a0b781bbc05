"""Reading a JSON submission (STIX bundle or TAXII envelope) without holding it all as objects.

A 100 MB body parsed in one go becomes about 300 MB of Python objects, and the parser needs
more besides. Here the body is read as a stream of byte blocks, decoded a window at a time,
and the elements of its `objects` list are parsed one by one (with the standard library's C
scanner, whose `raw_decode` says where each element ends), so memory is bounded by the window
and one element whatever the size of the body:

- `check(blocks, max_depth)` is what the web process runs before accepting a body: syntax
  (400 with the line and column), shape (422: a JSON object with an `objects` list), nesting
  depth (400); it returns how many objects there are, keeping none of them;
- `objects(blocks)` yields the objects of an accepted body, for the worker, chunk by chunk.

Values are what orjson would make of the same text (integers beyond 64 bits become floats;
NaN, Infinity and unpaired surrogates are refused), so a stored object re-serialises the same
way whichever parser read it. Error messages come from orjson where it says more.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from hub.errors import BadRequest, Unprocessable

BLOCK_SIZE = 1 << 20  # bytes decoded at a time
_WS = re.compile(r"[ \t\n\r]*")
# A decode error this close to the end of the window may only mean the element goes on.
_MARGIN = 64


class _Constant(ValueError):
    """NaN or Infinity: the standard library accepts them, JSON (and orjson) do not."""


def _refuse_constant(_name: str) -> Any:
    raise _Constant


def _int(text: str) -> int | float:
    """As orjson reads an integer: exact within 64 bits, a float beyond."""
    value = int(text)
    return value if -(1 << 63) <= value < (1 << 64) else float(text)


_DECODER = json.JSONDecoder(parse_int=_int, parse_constant=_refuse_constant)


@dataclass
class Shape:
    """What a whole body turned out to be."""

    count: int = 0  # elements of `objects`
    is_object: bool = True
    has_objects: bool = False
    objects_is_list: bool = True
    is_bundle: bool = False
    too_deep: bool = False


class _Window:
    """The body decoded from UTF-8, from `base` on; earlier text is dropped as it is consumed,
    keeping what is needed to give line and column numbers."""

    def __init__(self, blocks: Iterable[bytes | memoryview]) -> None:
        self._blocks = iter(blocks)
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.eof = False
        self.line = 1  # the line on which text[0] stands
        self.column = 0  # characters before text[0] on that line

    def more(self) -> bool:
        """Decode the next block onto the window; False once the body is all read."""
        if self.eof:
            return False
        block = next(self._blocks, None)
        try:
            if block is None:
                self.eof = True
                added = self._decoder.decode(b"", final=True)
            else:
                added = self._decoder.decode(block)
        except UnicodeDecodeError as exc:
            self._invalid_utf8(exc, block is None)
        self.text += added
        return True

    def _invalid_utf8(self, exc: UnicodeDecodeError, at_end: bool) -> None:
        # Count what decoded before the bad byte so the message points at it.
        good = exc.object[: exc.start].decode("utf-8", errors="ignore")
        self.text += good
        what = "it ends inside a character" if at_end else exc.reason
        raise self.fail(len(self.text), f"the text is not valid UTF-8: {what}") from None

    def ensure(self, index: int) -> bool:
        """True if text[index] exists, reading more of the body as needed."""
        while index >= len(self.text):
            if not self.more():
                return False
        return True

    def drop(self, index: int) -> None:
        """Forget text before `index` (which the caller has consumed)."""
        gone = self.text[:index]
        newlines = gone.count("\n")
        if newlines:
            self.line += newlines
            self.column = index - gone.rfind("\n") - 1
        else:
            self.column += index
        self.text = self.text[index:]

    def where(self, index: int) -> str:
        """'line L, column C' (1-based, in characters) of text[index]."""
        before = self.text[:index]
        newlines = before.count("\n")
        if newlines:
            return f"line {self.line + newlines}, column {index - before.rfind(chr(10))}"
        return f"line {self.line}, column {self.column + index + 1}"

    def fail(self, index: int, message: str) -> BadRequest:
        return BadRequest(f"the body is not valid JSON: {message} at {self.where(index)}")


class _Reader:
    """A recursive-descent walk of the top of the document; elements are parsed whole."""

    def __init__(self, blocks: Iterable[bytes | memoryview], max_depth: int | None) -> None:
        self.window = _Window(blocks)
        self.max_depth = max_depth
        self.shape = Shape()
        self.pos = 0  # in window.text
        self.start = 0  # where the last value began

    def skip_ws(self) -> str:
        """Skip white space; the next character, or '' at the end of the body."""
        window = self.window
        while True:
            self.pos += len(_WS.match(window.text, self.pos)[0])  # type: ignore[index]
            if self.pos < len(window.text):
                return window.text[self.pos]
            if not window.more():
                return ""

    def expect(self, allowed: str, what: str) -> str:
        char = self.skip_ws()
        if char and char in allowed:
            self.pos += 1
            return char
        found = "the end of the data" if not char else repr(char)
        raise self.window.fail(self.pos, f"expected {what}, found {found}")

    def value(self) -> Any:
        """Parse one value starting at pos (after white space) and move past it."""
        window = self.window
        self.skip_ws()
        if self.pos >= BLOCK_SIZE:  # what is before pos has been read: let it go
            window.drop(self.pos)
            self.pos = 0
        start = self.start = self.pos
        while True:
            try:
                obj, end = _DECODER.raw_decode(window.text, start)
            except json.JSONDecodeError as exc:
                cut = exc.pos >= len(window.text) - _MARGIN or exc.msg.startswith("Unterminated")
                if cut and window.more():
                    continue
                raise self._error(start, exc.pos, exc.msg) from None
            except _Constant:
                message = "NaN and Infinity are not JSON"
                raise self._error(start, len(window.text), message) from None
            except RecursionError:
                raise self._too_deep() from None
            if end >= len(window.text) and window.more():
                continue  # a number may go on in the next block
            self.pos = end
            return obj

    def _error(self, start: int, pos: int, message: str) -> BadRequest:
        """The error in the element at `start`, as orjson words and places it if it can."""
        if not self.window.text[start:].strip():
            return self.window.fail(len(self.window.text), "unexpected end of data")
        try:
            orjson.loads(self.window.text[start:])
        except orjson.JSONDecodeError as exc:
            if exc.pos + start <= pos:
                return self.window.fail(start + exc.pos, exc.msg)
        return self.window.fail(pos, message)

    def _too_deep(self) -> BadRequest:
        return BadRequest(f"the body is nested deeper than {self.max_depth} levels")

    def element(self) -> Any:
        """One element of a list; when checking, also its depth and that orjson can write it
        (the standard library accepts unpaired surrogates, orjson refuses them)."""
        obj = self.value()
        if self.max_depth is not None:
            if _deeper_than(obj, self.max_depth - 1):  # the envelope is the first level
                self.shape.too_deep = True
            if self.window.text.find("\\u", self.start, self.pos) >= 0:
                try:
                    orjson.dumps(obj)
                except orjson.JSONEncodeError as exc:
                    raise self._error(self.start, self.pos, str(exc)) from None
        return obj

    def elements(self) -> Iterator[Any]:
        """The elements of the list whose '[' was just consumed."""
        if self.skip_ws() == "]":
            self.pos += 1
            return
        while True:
            yield self.element()
            if self.expect(",]", "',' or ']' after a list element") == "]":
                return
            comma = self.pos - 1
            if self.skip_ws() == "]":
                raise self.window.fail(comma, "trailing comma is not allowed")

    def document(self) -> Iterator[Any]:
        """The elements of `objects`, then the rest of the body checked; shape in self.shape."""
        first = self.skip_ws()
        if first == "{":
            self.pos += 1
            yield from self._members()
        elif first == "[":
            self.pos += 1
            self.shape.is_object = False
            for _ in self.elements():
                pass
        else:
            self.shape.is_object = False
            self.value()
        if self.skip_ws():
            raise self.window.fail(self.pos, "unexpected content after document")

    def _members(self) -> Iterator[Any]:
        shape = self.shape
        if self.skip_ws() == "}":
            self.pos += 1
            return
        while True:
            if self.skip_ws() != '"':
                raise self.window.fail(self.pos, "expected a property name in double quotes")
            key = self.value()
            self.expect(":", "':' after a property name")
            if key == "objects" and shape.has_objects:
                raise Unprocessable("the body has more than one 'objects'")
            if key == "objects":
                shape.has_objects = True
                if self.skip_ws() == "[":
                    self.pos += 1
                    for obj in self.elements():
                        shape.count += 1
                        yield obj
                else:
                    shape.objects_is_list = False
                    self.value()
            elif self.value() == "bundle" and key == "type":
                shape.is_bundle = True
            if self.expect(",}", "',' or '}' after a property") == "}":
                return
            comma = self.pos - 1
            if self.skip_ws() == "}":
                raise self.window.fail(comma, "trailing comma is not allowed")


def _deeper_than(value: Any, limit: int) -> bool:
    """True if `value` nests more than `limit` containers deep (a scalar: 0)."""
    level = [value] if type(value) is dict or type(value) is list else []
    depth = 1
    while level:
        if depth > limit:
            return True
        below = []
        for item in level:
            for child in item.values() if type(item) is dict else item:
                if type(child) is dict or type(child) is list:
                    below.append(child)
        level = below
        depth += 1
    return False


def blocks_of(body: bytes | bytearray | memoryview, size: int = BLOCK_SIZE) -> Iterator[memoryview]:
    """A body in memory as blocks, without copying it."""
    view = memoryview(body)
    for start in range(0, len(view), size):
        yield view[start : start + size]


def check(blocks: Iterable[bytes | memoryview], max_depth: int) -> int:
    """Check a whole body as the web process must before accepting it; how many objects."""
    reader = _Reader(blocks, max_depth)
    for _ in reader.document():
        pass
    shape = reader.shape
    if not shape.is_object:
        raise Unprocessable(
            "the body must be a STIX bundle or a TAXII envelope: a JSON object with 'objects'"
        )
    if not shape.has_objects:
        if shape.is_bundle:
            raise Unprocessable("the bundle has no 'objects' list")
        raise Unprocessable("the body must be a STIX bundle or a TAXII envelope with 'objects'")
    if not shape.objects_is_list:
        raise Unprocessable("'objects' must be a list")
    if shape.too_deep:
        raise BadRequest(f"the body is nested deeper than {max_depth} levels")
    return shape.count


def objects(blocks: Iterable[bytes | memoryview]) -> Iterator[Any]:
    """The objects of a body that `check` accepted, one at a time."""
    return _Reader(blocks, None).document()
