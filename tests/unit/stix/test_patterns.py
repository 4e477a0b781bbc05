"""The shape-cached pattern checker agrees with stix2-patterns on a large generated corpus."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from stix2patterns.validator import run_validator

from hub.stix.patterns import PatternChecker

HEX = "0123456789abcdef"
TEMPLATES = [
    "[ipv4-addr:value = '{v}']",
    "[ipv6-addr:value = '{v}']",
    "[domain-name:value = '{v}']",
    "[url:value = '{v}']",
    "[email-addr:value = '{v}']",
    "[file:hashes.'SHA-256' = '{h64}']",
    "[file:hashes.MD5 = '{h32}']",
    "[file:hashes.'SHA-1' = '{h40}'] OR [file:hashes.MD5 = '{h32}']",
    "[file:name = '{v}' AND file:size > 10]",
    "[network-traffic:dst_ref.value = '{v}' AND network-traffic:dst_port = 443]",
    "[ipv4-addr:value ISSUBSET '{v}']",
    "[domain-name:value LIKE '%{v}']",
    "[file:name MATCHES '^{v}$']",
    "[file:hashes.'SHA-256' IN ('{h64}', '{h32}')]",
    "[url:value = '{v}'] WITHIN 300 SECONDS",
    "[url:value = '{v}'] START t'2026-01-01T00:00:00Z' STOP t'2026-02-01T00:00:00Z'",
    "([ipv4-addr:value = '{v}'] FOLLOWEDBY [domain-name:value = '{v}']) REPEATS 2 TIMES",
    "[artifact:payload_bin = b'aGVsbG8=']",
    "[file:name = '{v}'] AND [file:hashes.'SHA-512' = '{h64}']",
]
VALUES = [
    "198.51.100.7",
    "10.0.0.0/8",
    "evil.example",
    "http://a.example/x?y=1",
    "x@y.example",
    "it\\'s",
    "back\\\\slash",
    "bad\\escape",
    "",
    "ünïcødé",
    "quote'd",
    "a]b",
    "hubv0",
]


def _library_says_valid(pattern: str) -> bool:
    try:
        return not run_validator(pattern, stix_version="2.1")
    except Exception:  # stix2-patterns crashes on some inputs (e.g. ""): those are invalid
        return False


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(HEX) for _ in range(n))


def _corpus(size: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    patterns = []
    for _ in range(size):
        template = rng.choice(TEMPLATES)
        pattern = template.format(
            v=rng.choice(VALUES),
            h64=_hex(rng, rng.choice([64, 64, 63, 40])),
            h32=_hex(rng, rng.choice([32, 32, 31])),
            h40=_hex(rng, rng.choice([40, 40, 64])),
        )
        if rng.random() < 0.3:  # mutate a character: insert, delete or replace
            i = rng.randrange(len(pattern))
            choice = rng.choice(["[", "]", "'", " ", "=", "\\", "x", ":", "."])
            op = rng.randrange(3)
            pattern = (
                pattern[:i] + choice + pattern[i:]
                if op == 0
                else pattern[:i] + pattern[i + 1 :]
                if op == 1
                else pattern[:i] + choice + pattern[i + 1 :]
            )
        patterns.append(pattern)
    return patterns


def test_agrees_with_stix2patterns_on_a_generated_corpus() -> None:
    checker = PatternChecker()
    corpus = _corpus(3000, seed=2026)
    verdicts = [(p, checker.is_valid(p), _library_says_valid(p)) for p in corpus]
    disagreements = [(p, mine, theirs) for p, mine, theirs in verdicts if mine != theirs]
    assert disagreements == []
    valid = sum(theirs for _, _, theirs in verdicts)
    assert 0.3 < valid / len(corpus) < 0.95  # the corpus really has both kinds


def test_the_same_pattern_checked_twice_gives_the_same_answer() -> None:
    checker = PatternChecker(cache_size=4)
    corpus = _corpus(200, seed=7)
    first = [checker.is_valid(p) for p in corpus]
    assert [checker.is_valid(p) for p in corpus] == first


def test_failures_carry_the_library_messages() -> None:
    checker = PatternChecker()
    assert checker.errors("[ipv4-addr:value = '198.51.100.7']") == []
    (message,) = checker.errors("[file:hashes.'SHA-256' = 'abc']")
    assert "not a valid SHA-256 hash" in message
    assert checker.errors("[ipv4-addr:value = '1.2.3.4'")[0].startswith("FAIL")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("[]():.'=\\ abcxyz-_0123456789tAND OR")), max_size=40))
def test_agrees_on_arbitrary_text(text: str) -> None:
    checker = PatternChecker()
    assert checker.is_valid(text) == _library_says_valid(text)


def test_deeply_nested_patterns_are_refused_without_exhausting_the_stack() -> None:
    from hub.stix.patterns import MAX_NESTING

    deep = "(" * 500 + "[ipv4-addr:value = '198.51.100.1']" + ")" * 500
    assert PatternChecker().errors(deep) == [
        f"the pattern nests 501 levels deep; at most {MAX_NESTING} are accepted"
    ]
    assert not PatternChecker().is_valid(deep)
    # Brackets inside a quoted literal are text, not nesting.
    inside = "[file:name = '" + "(" * 100 + "']"
    assert PatternChecker().errors(inside) == []
