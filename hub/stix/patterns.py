"""STIX 2.1 pattern checking, with the grammar work done once per pattern shape.

Checking a pattern with stix2-patterns costs about half a millisecond; real feeds repeat a few
shapes (`[ipv4-addr:value = '…']`) with different literals. So a pattern's comparison values
are replaced by numbered placeholders, the resulting shape is checked once with stix2-patterns
and cached, and each literal is then checked on its own against what the grammar and the
library's own checks ask of it: the string-literal escapes, and the hash formats compared
against `hashes.<algorithm>` paths. Anything unusual goes to stix2-patterns whole. Failures are
always reported with stix2-patterns' own messages. `tests/unit/stix/test_patterns.py` proves the
two agree on a large generated corpus of valid and invalid patterns.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

from antlr4 import CommonTokenStream, InputStream, ParseTreeWalker
from stix2patterns.exceptions import STIXPatternErrorListener
from stix2patterns.helpers import brackets_check
from stix2patterns.v21.grammars.STIXPatternLexer import STIXPatternLexer
from stix2patterns.v21.grammars.STIXPatternParser import STIXPatternParser
from stix2patterns.v21.inspector import INDEX_STAR, InspectionListener
from stix2patterns.v21.object_validator import HASHES_REGEX
from stix2patterns.v21.validator import DuplicateQualifierTypeError, ValidationListener
from stix2patterns.validator import run_validator

# A quoted literal as the lexer delimits it (any escape); whether its escapes are legal is
# checked separately, with _VALID_CONTENT.
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'", re.DOTALL)
_VALID_CONTENT = re.compile(r"(?:[^'\\]|\\'|\\\\)*", re.DOTALL)
_PLACEHOLDER = re.compile(r"^'hubv(\d+)'$")
_CACHE_SIZE = 4096
_SPACES = " \t\r\n\f\v"


@dataclass(frozen=True, slots=True)
class _Shape:
    valid: bool
    # literal index -> regex its content must match (hash values), from the library's table
    hash_rules: tuple[tuple[int, re.Pattern[str]], ...] = ()


class PatternChecker:
    """Thread-safe; one per process is enough. `errors(p)` is [] for a valid pattern."""

    def __init__(self, cache_size: int = _CACHE_SIZE) -> None:
        self._shapes: OrderedDict[str, _Shape | None] = OrderedDict()
        self._lock = Lock()
        self._size = cache_size

    def errors(self, pattern: str) -> list[str]:
        if not pattern.strip():
            return ["the pattern is empty"]
        too_deep = _too_deep(pattern)
        if too_deep:
            return [too_deep]
        try:
            if self.is_valid(pattern):
                return []
            found = run_validator(pattern, stix_version="2.1")
        except RecursionError:  # the grammar's parser recurses per token on some inputs
            return ["the pattern is too complex to check"]
        return [str(e) for e in found] or ["the pattern is not valid"]

    def is_valid(self, pattern: str) -> bool:
        if not pattern.strip() or _too_deep(pattern):
            return False  # stix2-patterns itself fails on an empty string
        split = _split(pattern)
        if split is None:
            return not run_validator(pattern, stix_version="2.1")
        shape_text, literals = split
        shape = self._shape(shape_text)
        if shape is None:  # a shape whose literals cannot be checked on their own
            return not run_validator(pattern, stix_version="2.1")
        if not shape.valid:
            return False
        return all(rule.match(literals[i].replace("'", "")) for i, rule in shape.hash_rules)

    def _shape(self, text: str) -> _Shape | None:
        with self._lock:
            if text in self._shapes:
                self._shapes.move_to_end(text)
                return self._shapes[text]
        shape = _analyse(text)
        with self._lock:
            self._shapes[text] = shape
            if len(self._shapes) > self._size:
                self._shapes.popitem(last=False)
        return shape


MAX_NESTING = 32


def _too_deep(pattern: str) -> str | None:
    """A message if brackets and parentheses nest deeper than MAX_NESTING (outside quoted
    literals): such patterns make the grammar's recursive parser run out of stack."""
    depth = deepest = 0
    quoted = escaped = False
    for char in pattern:
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == "'":
                quoted = False
        elif char == "'":
            quoted = True
        elif char in "([":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]":
            depth -= 1
    if deepest > MAX_NESTING:
        return f"the pattern nests {deepest} levels deep; at most {MAX_NESTING} are accepted"
    return None


def _split(pattern: str) -> tuple[str, list[str]] | None:
    """(shape, literal contents) with value literals numbered, or None to check it whole."""
    if "hubv" in pattern:
        return None  # would collide with the placeholders
    pieces: list[str] = []
    literals: list[str] = []
    last = 0
    for match in _QUOTED.finditer(pattern):
        start, end = match.span()
        content = pattern[start + 1 : end - 1]
        if "\\" in content and not _VALID_CONTENT.fullmatch(content):
            return None  # let the grammar report the bad escape
        before = start - 1
        while before >= 0 and pattern[before] in _SPACES:
            before -= 1
        if before >= 0 and (pattern[before] in ".:" or pattern[start - 1] in "thbTHB"):
            continue  # paths, timestamps, hex and binary literals stay in the shape
        pieces.append(pattern[last:start])
        pieces.append(f"'hubv{len(literals)}'")
        literals.append(content)
        last = end
    pieces.append(pattern[last:])
    return "".join(pieces), literals


def _analyse(shape: str) -> _Shape | None:
    """Check a shape as stix2-patterns would, except for its hash-format check, which depends
    on the literals: that check is returned as rules to apply to each pattern's own values."""
    if not brackets_check(shape):
        return _Shape(valid=False)
    errors = STIXPatternErrorListener()
    parser = STIXPatternParser(CommonTokenStream(STIXPatternLexer(InputStream(shape))))
    parser.removeErrorListeners()
    parser.addErrorListener(errors)
    tree = parser.pattern()
    if errors.err_strings:
        return _Shape(valid=False)
    try:
        ParseTreeWalker.DEFAULT.walk(ValidationListener(), tree)
    except DuplicateQualifierTypeError:
        return _Shape(valid=False)
    inspector = InspectionListener()
    ParseTreeWalker.DEFAULT.walk(inspector, tree)
    rules: list[tuple[int, re.Pattern[str]]] = []
    for comparisons in inspector.pattern_data().comparisons.values():
        for path, _op, value in comparisons:
            if "hashes" not in path or path[-1] is INDEX_STAR:
                continue
            algorithm = str(path[-1]).upper().replace("-", "").replace("'", "")
            if algorithm not in HASHES_REGEX:
                continue
            placeholder = _PLACEHOLDER.match(value) if isinstance(value, str) else None
            if placeholder is None:
                return None  # e.g. a set of hashes: check such patterns whole
            rules.append((int(placeholder.group(1)), re.compile(HASHES_REGEX[algorithm][0])))
    return _Shape(valid=True, hash_rules=tuple(rules))
